"""contact care: a contact's birthday (month and day, the year optional) and the language greetings
to him are written in (None: the deployment's DEFAULT_LOCALE); an imported lead keeps its contact's
until conversion makes the contact; see bot.services.leads.care

Revision ID: 0026_contact_care
Revises: 0025_nearby
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_contact_care"
down_revision = "0025_nearby"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite too): a batch would rebuild `leads`, which other tables point at.
    for name, kind in (("birth_month", sa.Integer()), ("birth_day", sa.Integer()), ("birth_year", sa.Integer()),
                       ("language", sa.String(length=8))):
        op.add_column("contacts", sa.Column(name, kind, nullable=True))
    op.create_index("ix_contacts_birthday", "contacts", ["birth_month", "birth_day"])
    op.add_column("leads", sa.Column("contact_birthday", sa.String(length=10), nullable=True))
    op.add_column("leads", sa.Column("contact_language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ too), for the same reason.
    op.drop_column("leads", "contact_language")
    op.drop_column("leads", "contact_birthday")
    op.drop_index("ix_contacts_birthday", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
        batch.drop_column("birth_year")
        batch.drop_column("birth_day")
        batch.drop_column("birth_month")

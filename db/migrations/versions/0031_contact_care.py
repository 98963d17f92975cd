"""contact care: a contact's birthday (month and day, the year optional) and the language greetings
to him are written in (None: the deployment's DEFAULT_LOCALE); see bot.services.leads.care

Revision ID: 0031_contact_care
Revises: 0022_reminders
"""
import sqlalchemy as sa
from alembic import op

revision = "0031_contact_care"
down_revision = "0022_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("birth_month", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("birth_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("birth_year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.create_index("ix_contacts_birthday", "contacts", ["birth_month", "birth_day"])


def downgrade() -> None:
    op.drop_index("ix_contacts_birthday", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
        batch.drop_column("birth_year")
        batch.drop_column("birth_day")
        batch.drop_column("birth_month")

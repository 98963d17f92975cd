"""deal names: the opportunities table becomes deals, in its schema and in the values that name it

- table opportunities -> deals, with its primary key, foreign keys, indexes (and, on PostgreSQL, its id
  sequence); deal_payments.opportunity_id -> deal_id, with its foreign key and index;
- pools.return_no_opportunity_days -> return_no_deal_created_days (the rule "no deal created within N days";
  return_no_deal_days, "no won deal within N days", keeps its name), also as a key of pools.level_rules;
- stored values: the record type "opportunity" -> "deal" (audit_log, record_members, handover_items) and
  the return reason "no_opportunity" -> "no_deal_created" (lead_events of kind "return").

PostgreSQL renames in place. SQLite cannot rename constraints, and rebuilding a table that others reference
fails with foreign keys on (they are, and PRAGMA foreign_keys cannot change inside the migration's
transaction): there the deals table is created under its new names, filled, deal_payments is rebuilt to
point at it (batch mode), and only then the old table is dropped.

Revision ID: 0007_deal_names
Revises: 0006_merge
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = "0007_deal_names"
down_revision = "0006_merge"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 2)
DEAL_COLUMNS = ("id", "name", "customer_id", "lead_id", "owner_id", "stage", "amount", "currency", "expected_close",
                "won_at", "lost_at", "lost_reason", "collected_amount", "created_by_id", "created_at", "updated_at")
# Foreign keys of the deals table: (column, referred table).
DEAL_FOREIGN_KEYS = (("created_by_id", "users"), ("customer_id", "customers"), ("lead_id", "leads"),
                     ("owner_id", "users"))
# Indexes of the deals table: (name suffix after ix_<table>_, columns).
DEAL_INDEXES = (("customer_id", ["customer_id"]), ("owner_stage", ["owner_id", "stage"]), ("won", ["stage", "won_at"]))
# (table, column, old value, new value, extra condition) of stored values that name the record.
STORED_VALUES = (
    ("audit_log", "record_type", "opportunity", "deal", None),
    ("record_members", "record_type", "opportunity", "deal", None),
    ("handover_items", "record_type", "opportunity", "deal", None),
    ("lead_events", "reason", "no_opportunity", "no_deal_created", "kind = 'return'"),
)
OLD_RULE, NEW_RULE = "return_no_opportunity_days", "return_no_deal_created_days"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rename_postgresql("opportunities", "deals", "opportunity_id", "deal_id")
    else:
        _rebuild_sqlite("opportunities", "deals", "opportunity_id", "deal_id")
    op.alter_column("pools", OLD_RULE, new_column_name=NEW_RULE)
    _rename_rule_keys(OLD_RULE, NEW_RULE)
    for table, column, old, new, condition in STORED_VALUES:
        _replace_value(table, column, old, new, condition)


def downgrade() -> None:
    for table, column, old, new, condition in STORED_VALUES:
        _replace_value(table, column, new, old, condition)
    _rename_rule_keys(NEW_RULE, OLD_RULE)
    op.alter_column("pools", NEW_RULE, new_column_name=OLD_RULE)
    if op.get_bind().dialect.name == "postgresql":
        _rename_postgresql("deals", "opportunities", "deal_id", "opportunity_id")
    else:
        _rebuild_sqlite("deals", "opportunities", "deal_id", "opportunity_id")


def _rename_postgresql(old: str, new: str, old_column: str, new_column: str) -> None:
    op.rename_table(old, new)
    sequence = op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": new})
    if sequence:
        op.execute(f"ALTER SEQUENCE {sequence} RENAME TO {new}_id_seq")
    op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}")
    for column, referred in DEAL_FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT fk_{old}_{column}_{referred} TO fk_{new}_{column}_{referred}")
    for suffix, _columns in DEAL_INDEXES:
        op.execute(f"ALTER INDEX ix_{old}_{suffix} RENAME TO ix_{new}_{suffix}")
    op.alter_column("deal_payments", old_column, new_column_name=new_column)
    op.execute(f"ALTER TABLE deal_payments RENAME CONSTRAINT fk_deal_payments_{old_column}_{old} "
               f"TO fk_deal_payments_{new_column}_{new}")
    op.execute(f"ALTER INDEX ix_deal_payments_{old_column} RENAME TO ix_deal_payments_{new_column}")


def _rebuild_sqlite(old: str, new: str, old_column: str, new_column: str) -> None:
    op.create_table(
        new,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("won_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lost_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("collected_amount", MONEY, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        *[sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=f"fk_{new}_{column}_{referred}")
          for column, referred in DEAL_FOREIGN_KEYS],
        sa.PrimaryKeyConstraint("id", name=f"pk_{new}"),
    )
    for suffix, columns in DEAL_INDEXES:
        op.create_index(f"ix_{new}_{suffix}", new, columns, unique=False)
    names = ", ".join(DEAL_COLUMNS)
    op.execute(f"INSERT INTO {new} ({names}) SELECT {names} FROM {old}")
    # Two rebuilds of deal_payments: a batch leaves out a foreign key (and fails on an index) naming a column
    # renamed in the same batch. Then deal_payments points at the new table (its rows find their deal there)
    # and the old one can go.
    with op.batch_alter_table("deal_payments", recreate="always") as batch_op:
        batch_op.drop_index("ix_deal_payments_paid_on")
        batch_op.drop_index(f"ix_deal_payments_{old_column}")
        batch_op.drop_constraint(f"fk_deal_payments_{old_column}_{old}", type_="foreignkey")
        batch_op.alter_column(old_column, new_column_name=new_column)
    with op.batch_alter_table("deal_payments", recreate="always") as batch_op:
        batch_op.create_foreign_key(f"fk_deal_payments_{new_column}_{new}", new, [new_column], ["id"])
        batch_op.create_index(f"ix_deal_payments_{new_column}", [new_column], unique=False)
        batch_op.create_index("ix_deal_payments_paid_on", ["paid_on", new_column], unique=False)
    for suffix, _columns in DEAL_INDEXES:
        op.drop_index(f"ix_{old}_{suffix}", table_name=old)
    op.drop_table(old)


def _rename_rule_keys(old: str, new: str) -> None:
    """The per customer level rules of each pool, e.g. {"A": {old: 5}} -> {"A": {new: 5}}."""
    pools = sa.table("pools", sa.column("id", sa.Integer()), sa.column("level_rules", sa.JSON()))
    bind = op.get_bind()
    for pool_id, level_rules in bind.execute(sa.select(pools.c.id, pools.c.level_rules)).all():
        if not isinstance(level_rules, dict):
            continue
        renamed = {level: {new if key == old else key: value for key, value in rules.items()}
                   if isinstance(rules, dict) else rules for level, rules in level_rules.items()}
        if renamed != level_rules:
            bind.execute(pools.update().where(pools.c.id == pool_id).values(level_rules=renamed))


def _replace_value(table: str, column: str, old: str, new: str, condition: str | None) -> None:
    where = f"{column} = :old" + (f" AND {condition}" if condition else "")
    op.get_bind().execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE {where}"), {"old": old, "new": new})

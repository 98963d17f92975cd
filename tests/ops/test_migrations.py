"""Migrations build an empty database on both backends, and the result matches the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.models import Base
from db.session import Database


def test_migrated_schema_matches_models(db: Database):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_every_model_table_exists(db: Database):
    existing = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= existing


def test_the_history_is_one_line():
    """One head, and every revision after the merge has exactly one parent."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, f"several heads: {scripts.get_heads()}"
    merge_seen = False
    for revision in reversed(list(scripts.walk_revisions())):
        if merge_seen:
            assert not isinstance(revision.down_revision, tuple), f"{revision.revision} merges again"
        merge_seen = merge_seen or revision.revision == "0006_merge"

"""0010_identity_links rebuilds platform_identities on SQLite: the links, and the invitations that
point at them, survive it on both backends; afterwards an unlinked account may link again."""
import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from db.migrate import alembic_config
from db.session import make_engine
from tests.ops.test_migrations import _rows, scratch_url  # noqa: F401 (the fixture)

OLD_ROWS = [
    "INSERT INTO org_units (id, name, path, active, created_at) VALUES (1, 'Co', '/1/', true, CURRENT_TIMESTAMP)",
    """INSERT INTO users (id, handle, name, unit_id, role, data_scope, locale, timezone, active, created_at)
       VALUES (1, 'li', 'Li', 1, 'rep', 'self', 'en', 'UTC', true, CURRENT_TIMESTAMP)""",
    """INSERT INTO platform_identities (id, platform, workspace, platform_user_id, dm_chat_id, user_id, linked_at)
       VALUES (7, 'telegram', '123', '555', '555', 1, CURRENT_TIMESTAMP)""",
    """INSERT INTO invitations (id, code, user_id, created_at, expires_at, used_at, used_by_identity_id)
       VALUES (3, 'ABCDEFGH', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 7)""",
]
RELINK = """INSERT INTO platform_identities (platform, workspace, platform_user_id, user_id, linked_at)
            VALUES ('telegram', '123', '555', 1, CURRENT_TIMESTAMP)"""


def test_0010_keeps_links_and_lets_an_ended_link_be_made_again(scratch_url: str):  # noqa: F811
    config = alembic_config(scratch_url)
    command.upgrade(config, "0009_app_secrets")
    engine = make_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for sql in OLD_ROWS:
                conn.exec_driver_sql(sql)
        command.upgrade(config, "0010_identity_links")
        assert _rows(scratch_url, "SELECT id, platform_user_id, unlinked_at FROM platform_identities") == [
            (7, "555", None)]
        assert _rows(scratch_url, "SELECT used_by_identity_id, revoked_at FROM invitations") == [(7, None)]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql(RELINK)  # one live link per account
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE platform_identities SET unlinked_at = CURRENT_TIMESTAMP")
            conn.exec_driver_sql(RELINK)
        assert len(_rows(scratch_url, "SELECT id FROM platform_identities")) == 2
    finally:
        engine.dispose()

"""`/board screen` through the console router on the demo org: a manager gets a signed link in
private, a rep is refused, a unit outside his scope reads like a missing one, list and revoke work
and are audited, bad input gets a clear answer and writes nothing; and the links' pages answer
404/410 (never a 500) for anything that is not a live link."""
import re

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.bootstrap import open_database, web_app
from bot.messages import Audience, for_caller_only
from bot.services.core import org
from bot.services.deals import screen_links
from bot.web.server import start_server
from db.base import utcnow
from db.models import OrgUnit, User
from db.models.audit import AuditEntry
from db.models.screen import ScreenLink
from tests.conftest import say

LINK = re.compile(r"http://\S+/screen/(\S+)")


def add_manager(db, handle: str, unit: str) -> None:
    """A second manager, of West Team only."""
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        user = User(handle=handle, name=f"{handle.title()} Manager", unit_id=unit_id, role="manager", locale="en",
                    timezone="Asia/Shanghai", data_scope="subtree")
        uow.session.add(user)
        uow.session.flush()
        org.link_console_identity(uow, user.id, handle, utcnow())
        uow.commit()


def links(db) -> list[ScreenLink]:
    with db.uow() as uow:
        return list(uow.session.scalars(select(ScreenLink).order_by(ScreenLink.id)))


def audit_rows(db) -> list[tuple[int, str, dict | None]]:
    with db.uow() as uow:
        return [(r.record_id, r.action, r.after) for r in uow.session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == "screen_link").order_by(AuditEntry.id))]


def test_a_manager_gets_a_signed_link_in_private_and_a_rep_is_refused(console, db, settings):
    say(console, "/as mei")
    say(console, "/lang en")
    out = say(console, "/board screen")
    assert "Office screen · Acme Trading" in out and "until you revoke it" in out
    token = LINK.search(out)[1]
    [row] = links(db)
    assert token not in str(row.token_hash) and row.created_by and row.revoked_at is None
    with db.uow() as uow:
        assert screen_links.link_of(uow, settings.SECRET_KEY, token).id == row.id
        altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        with pytest.raises(screen_links.ScreenLinkError):
            screen_links.link_of(uow, settings.SECRET_KEY, altered)
        with pytest.raises(screen_links.ScreenLinkError):  # signed with another key: not a link here
            screen_links.link_of(uow, "another-secret", token)
    # Asked for in the team's group chat, the link is for the manager alone.
    console.chat = "#sales"
    replies = console.router.handle(console.to_incoming("/board screen"))
    console.chat = None
    assert replies and all(r.audience is Audience.PRIVATE and for_caller_only(r, False) for r in replies)
    # The audit log has each link made, without its secret's hash.
    made = audit_rows(db)
    assert [(i, a) for i, a, _ in made] == [(1, "create"), (2, "create")]
    assert made[0][2]["token_hash"] == "***"
    say(console, "/as li")
    assert "/board screen" in say(console, "/board screen") and len(links(db)) == 2


def test_out_of_scope_unit_reads_like_a_missing_one_and_writes_nothing(console, db):
    add_manager(db, "west", "West Team")
    say(console, "/as west")
    outside, missing = say(console, "/board screen East Team"), say(console, "/board screen Nowhere Team")
    assert outside == missing.replace("Nowhere Team", "East Team")
    assert "East Team" in outside and links(db) == [] and audit_rows(db) == []
    assert "Office screen · West Team" in say(console, "/board screen")  # his own unit by default


def test_list_and_revoke_are_audited_and_another_managers_link_is_not_found(console, db):
    add_manager(db, "west", "West Team")
    say(console, "/as mei")
    say(console, "/lang en")
    say(console, "/board screen")
    say(console, "/board screen East Team")
    say(console, "/board screen East Team")
    listed = say(console, "/board screen list")
    assert "#1 · Acme Trading" in listed and "#3 · East Team" in listed and "never opened" in listed
    say(console, "/as west")
    say(console, "/board screen")  # #4, his
    before = audit_rows(db)
    for line in ("/board screen revoke 1", "/board screen revoke 999", "/board screen revoke", "/board screen revoke x9"):
        answer = say(console, line)
        assert "Revoked" not in answer, line
    assert say(console, "/board screen revoke 1") == "You have no live screen link #1."
    assert say(console, "/board screen revoke 1") == say(console, "/board screen revoke 999").replace("999", "1")
    assert audit_rows(db) == before and all(link.revoked_at is None for link in links(db))
    assert "#1" not in say(console, "/board screen list")
    say(console, "/as mei")
    assert "Revoked: #1 (Acme Trading)" in say(console, "/board screen revoke 1")
    assert "Revoked: #2 (East Team), #3 (East Team)" in say(console, "/board screen revoke East Team")
    assert "nothing to revoke" in say(console, "/board screen revoke all")
    assert "You have no live screen links" in say(console, "/board screen list")
    rows = {link.id: link for link in links(db)}
    assert [i for i in rows if rows[i].revoked_at] == [1, 2, 3] and rows[4].revoked_at is None
    mei = rows[1].created_by
    assert all(rows[i].revoked_by == mei for i in (1, 2, 3))
    revoked = sorted((i, a) for i, a, after in audit_rows(db)[len(before):] if after and after.get("revoked_by") == mei)
    assert revoked == [(1, "update"), (2, "update"), (3, "update")]
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ScreenLink)) == 4  # nothing deleted


@pytest.fixture
async def server(db, settings, demo_org):
    runner, port = await start_server(web_app(db, settings, []))
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_anything_but_a_live_link_gets_a_clear_page_never_a_500(server, console, db):
    say(console, "/as mei")
    token = LINK.search(say(console, "/board screen"))[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server}/screen/{token}") as page:
            assert page.status == 200 and "Acme Trading" in await page.text()
            assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
        bad = [token[:-1], token + "x", "x" * 5000, "%00", "a.b", "czE6MTpa.abc", "..%2f..%2fetc", "%E4%BD%A0",
               f"{token}/events/more", f"{token}/nothing", ""]
        for path in bad:
            for suffix in ("", "/events"):
                async with http.get(f"{server}/screen/{path}{suffix}") as page:
                    body = await page.text()
                    assert page.status == 404, (path, suffix, page.status)
                    assert "does not exist" in body or "不存在" in body, path
        # East Team has no team channel of its own: its screen speaks its manager's language (mei: Chinese).
        east = LINK.search(say(console, "/board screen East Team"))[1]
        async with http.get(f"{server}/screen/{east}") as page:
            body = await page.text()
            assert page.status == 200 and "今日" in body and "本月" in body and "East Team" in body
        async with http.head(f"{server}/screen/{east}/events") as head:
            assert head.status == 404  # a stream is for GET alone: a HEAD is answered at once, not held open
        say(console, "/board screen revoke 1")
        for suffix in ("", "/events"):
            async with http.get(f"{server}/screen/{token}{suffix}") as page:
                assert page.status == 410 and "revoked" in await page.text()


async def test_a_database_that_does_not_answer_is_told_as_such_not_as_a_broken_link(console, settings):
    """The TV keeps its link: the page says the screen cannot be shown now (503), not that the link
    is broken, and the browser may simply reload it later."""
    say(console, "/as mei")
    token = LINK.search(say(console, "/board screen"))[1]
    down = open_database("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")  # refused at once
    runner, port = await start_server(web_app(down, settings, []))
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/screen/{token}") as page:
            body = await page.text()
    finally:
        await runner.cleanup()
        down.dispose()
    assert page.status == 503
    assert "cannot be shown right now" in body or "暂时无法显示" in body
    assert "does not work" not in body and "无法使用" not in body

"""/channel typed in a team channel: its settings, changing them (checked like the org file, all or
nothing), linking the chat to a unit and unlinking it; who may; boards pushed at the time set."""
from dataclasses import replace
from datetime import date

from sqlalchemy import func, select

from bot.adapters.console import format_reply
from bot.messages import Audience
from bot.services.core import org
from db.base import utcnow
from db.models import ChannelBoardSettings, OrgUnit, TeamChannel, User
from db.models.audit import AuditEntry
from db.models.org import Role
from tests.conftest import say
from tests.deals.test_leaderboard_schedule import day_pushes, run_day


def in_chat(console, line: str, chat: str = "#sales", prefix: str = "/") -> str:
    """Type a line in a group chat (not the private chat the console is)."""
    incoming = replace(console.to_incoming(line), chat_id=chat, is_private=False, command_prefix=prefix)
    replies = console.router.handle(incoming)
    assert all(reply.audience is Audience.GROUP for reply in replies)  # for the whole channel, errors too
    return "\n".join(format_reply(reply) for reply in replies)


def channel(db, chat: str = "#sales") -> tuple[TeamChannel, ChannelBoardSettings | None]:
    with db.uow() as uow:
        row = uow.session.scalar(select(TeamChannel).where(TeamChannel.chat_id == chat))
        assert row is not None
        board = uow.session.scalar(select(ChannelBoardSettings).where(ChannelBoardSettings.channel_id == row.id))
        uow.session.expunge_all()
        return row, board


def audit_count(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.record_type.in_(("channel", "channel_board_settings"))))


def add_manager(db, handle: str, unit: str) -> None:
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        user = User(handle=handle, name=handle.title(), unit_id=unit_id, role=Role.MANAGER, data_scope="subtree")
        uow.session.add(user)
        uow.session.flush()
        org.link_console_identity(uow, user.id, handle, utcnow())
        uow.commit()


def test_in_a_private_chat_it_says_where_it_works(console):
    assert "works in a team channel" in say(console, "/channel")
    assert "works in a team channel" in say(console, "/channel set locale=zh")
    assert "works in a team channel" in say(console, "/channel link East Team")


def test_the_channel_shows_its_settings_as_they_are_typed(console):
    say(console, "/as li")  # anyone may look
    out = in_chat(console, "/channel")
    assert "Acme Trading" in out and "timezone = Asia/Shanghai" in out
    assert "boards.time = 18:00" in out and "boards.periods = day,week,month" in out and "quiet_hours = off" in out


def test_set_merges_checks_writes_and_audits(console, db):
    before = audit_count(db)
    out = in_chat(console, "/channel set boards.time=17:30 boards.periods=day,week boards.metric=visits "
                           "quiet_hours=22:00-08:00 include_subunits=off")
    assert "boards.time: 18:00 → 17:30" in out and "quiet_hours: off → 22:00-08:00" in out
    assert "boards.periods: day,week,month → day,week" in out and "include_subunits: on → off" in out
    row, board = channel(db)
    assert (row.quiet_start, row.quiet_end, row.include_subunits) == (22 * 60, 8 * 60, False)
    assert board is not None and board.push_minute == 17 * 60 + 30 and board.metric == "visits"
    assert board.daily and board.weekly_weekday == 4 and not board.monthly
    assert audit_count(db) >= before + 2  # the channel and its board row
    assert "Nothing changed" in in_chat(console, "/channel set boards.time=17:30")
    assert "name: #sales → East sales" in in_chat(console, '/channel set name="East sales"')
    in_chat(console, "/channel set boards.metric=off boards.periods=day")
    _, board = channel(db)
    assert board.metric == "" and board.weekly_weekday is None  # the unit's metric, no week board


def test_a_bad_setting_changes_nothing_in_either_language(console, db):
    before = audit_count(db)
    assert in_chat(console, "/channel set locale=zh boards.time=25:00").startswith("boards.time: \"25:00\" is not a time")
    assert "colour: there is no setting by that name here" in in_chat(console, "/channel set colour=red")
    assert "boards.colour: there is no setting" in in_chat(console, "/channel set boards.colour=red")
    assert "timezone" in in_chat(console, "/channel set timezone=Mars/Base")
    assert "is not a setting: write key=value" in in_chat(console, "/channel set locale")
    say(console, "/as mei")
    assert "quiet_hours:" in in_chat(console, "/channel set quiet_hours=late")
    assert "未做任何修改" in in_chat(console, "/channel set boards.top=0")
    row, board = channel(db)
    assert row.locale == "en" and board is None and audit_count(db) == before


def test_who_may_change_a_channel(console, db):
    add_manager(db, "wes", "West Team")
    say(console, "/as li")
    assert "你的角色不能使用 /channel set" in in_chat(console, "/channel set locale=zh")
    say(console, "/as wes")  # manages a unit below the channel's
    assert "Only admins and managers of Acme Trading or above" in in_chat(console, "/channel set locale=zh")
    assert "Only admins and managers" in in_chat(console, "/channel unlink")
    say(console, "/as mei")  # manages the channel's unit
    assert "locale:en → zh" in in_chat(console, "/channel set locale=zh")
    assert channel(db)[0].locale == "zh"


def test_link_a_new_chat_then_unlink_it(console, db):
    add_manager(db, "wes", "West Team")
    assert "not a team channel" in in_chat(console, "/channel", chat="#west")
    say(console, "/as wes")
    assert 'no unit named "East Team"' in in_chat(console, "/channel link East Team", chat="#west")  # not his
    assert 'no unit named "Mars"' in in_chat(console, "/channel link Mars", chat="#west")
    out = in_chat(console, "/channel link West Team", chat="#west")
    assert "now the team channel of West Team" in out
    row, _ = channel(db, "#west")
    assert (row.platform, row.workspace, row.active, row.timezone) == ("console", "local", True, "Asia/Shanghai")
    assert "already is the team channel" in in_chat(console, "/channel link West", chat="#west")
    say(console, "/as admin")
    assert "/channel unlink it first" in in_chat(console, "/channel link East Team", chat="#west")
    say(console, "/as wes")
    assert "no longer the team channel of West Team" in in_chat(console, "/channel unlink", chat="#west")
    row, _ = channel(db, "#west")
    assert not row.active  # kept, not deleted
    assert "not a team channel" in in_chat(console, "/channel", chat="#west")
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.record_type == "channel", AuditEntry.record_id == row.id)) >= 2


def test_slack_spelling_in_the_channel(console):
    out = in_chat(console, "/channel", chat="C0NEW", prefix="/crm ")
    assert "/crm channel link UNIT" in out
    assert "/crm channel set" in in_chat(console, "/channel set", prefix="/crm ")


def test_boards_go_out_at_the_time_set_in_chat(console, db):
    in_chat(console, "/channel set boards.time=17:30")
    pushed = run_day(db, date(2026, 11, 26))  # Thursday; #sales is Asia/Shanghai (UTC+8)
    assert day_pushes(pushed) == [("#sales", "11-26 09:30")]

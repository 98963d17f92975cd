"""A company's first week, shared by tests/platforms/test_first_week_slack.py and _telegram.py.

The company is set up the way an admin does it, with the `fieldcrm` program only (an org file with
pools and channel settings, then a CSV of leads into the pool): no SQL. The story runs on a clock
the router, the check-in page, the outbox dispatcher and the board job share, on a working day in
Asia/Shanghai. Every text a platform received is checked for the command spelling of that platform.
"""
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import command_table
from bot.cli import main
from bot.jobs.leaderboards import push_due
from db.session import Database

ORG_FILE = Path(__file__).with_name("first_week_org.yaml")
ZONE = ZoneInfo("Asia/Shanghai")
POOL = "East pool"
# Three leads for the pool; the first is the one the story works.
LEADS_CSV = (
    "公司名称,联系人,电话,地区,来源,级别\n"
    "上海星河贸易有限公司,陈静,+86 138 0013 8001,华东,展会,A\n"
    "Northwind Foods,Bob Lee,+86 139 0000 1111,华东,web,B\n"
    "杭州青山茶业,王芳,+86 137 0000 2222,华东,referral,B\n"
)
FIRST_LEAD = "上海星河贸易有限公司"
# Typed as a person types it: an apostrophe, a curly one, an emoji. Stored and shown as typed.
FOLLOW_NOTE = "customer's budget is approved ’ 👍"


def story_day(today: date | None = None) -> date:
    """The next Thursday after today: a working day, within the invitations' 14 days."""
    today = today or datetime.now(UTC).date()
    return today + timedelta(days=(3 - today.weekday()) % 7 or 7)


@dataclass
class StoryClock:
    """One clock for the router, the check-in page, the dispatcher and the board job."""

    day: date = field(default_factory=story_day)
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.at("09:05")

    def __call__(self) -> datetime:
        return self.now

    def at(self, clock: str) -> datetime:
        """Set the clock to this local time (Asia/Shanghai) of the story day."""
        hours, minutes = (int(part) for part in clock.split(":"))
        self.now = datetime.combine(self.day, time(hours, minutes), ZONE).astimezone(UTC)
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def local(self) -> str:
        return self.now.astimezone(ZONE).strftime("%H:%M")


def fieldcrm(db: Database, argv: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> str:
    """Run the `fieldcrm` program on this database, as an admin does; its output."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, f"fieldcrm {' '.join(argv)} exited {code}: {err}"
    return out


def set_up_company(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`fieldcrm org load` (units, people, channels with quiet hours and boards, the pool) and
    `fieldcrm import leads --pool`; the invitation code of each person, from the program's output."""
    loaded = fieldcrm(db, ["org", "load", str(ORG_FILE)], monkeypatch, capsys)
    codes = dict(re.findall(r"invitation for (\w+): (\S+)", loaded))
    assert set(codes) == {"mei", "li", "sam"}, loaded
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS_CSV, encoding="utf-8")
    imported = fieldcrm(db, ["import", "leads", str(csv), "--pool", POOL], monkeypatch, capsys)
    assert "3" in imported, imported
    # An older code is replaced by `fieldcrm invite`: sam joins with the newer one.
    invited = fieldcrm(db, ["invite", "sam"], monkeypatch, capsys)
    (codes["sam"],) = re.findall(r"Invitation code for sam: (\S+)", invited)
    return codes


def board_pushes(db: Database, clock: StoryClock, start: str = "17:00", end: str = "18:30") -> list[str]:
    """Drive the leaderboard job every five minutes from `start` to `end` local; the local times it
    pushed a board at. Leaves the clock at `end`."""
    pushed = []
    clock.at(start)
    while clock.local() <= end:
        if push_due(db, clock.now):
            pushed.append(clock.local())
        clock.advance(300)
    return pushed


# ---------------------------------------------------------------- command spelling

_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)
_TAG = re.compile(r"<[^>]+>")


def page_text(html: str) -> str:
    """What a page says (its text and its script's sentences), without tags and their attributes:
    a form's action path is no command."""
    return re.sub(r"\s+", " ", _TAG.sub(" ", _STYLE.sub(" ", html))).strip()


_URL = re.compile(r"https?://\S+")
_SLASH_WORD = re.compile(r"(?<![\w/.:@-])/(\w+)")


def command_words() -> set[str]:
    """Every command name and alias the bot answers to."""
    return {word for cmd in command_table().all() for word in (cmd.name, *cmd.aliases)}


def misspelled_commands(texts: Iterable[str], platform: str) -> list[str]:
    """Each mention of a command spelled for another platform, with its text: on Slack every
    command is `/crm word` (a bare `/visit` would start nothing there), elsewhere `/word` (never
    `/crm word`). Links are left out: a check-in page's path is no command."""
    words = command_words()
    wrong = []
    for text in texts:
        plain = _URL.sub(" ", text)
        for match in _SLASH_WORD.finditer(plain):
            word = match.group(1)
            if platform == "slack" and word.lower() in words:
                wrong.append(f"bare /{word} in: {text[:300]!r}")
            if platform != "slack" and word == "crm":
                wrong.append(f"/crm in: {text[:300]!r}")
    return wrong


def assert_commands_spelled_for(platform: str, texts: Iterable[str]) -> None:
    texts = [t for t in texts if t]
    assert texts, "no text was collected: nothing would be checked"
    wrong = misspelled_commands(texts, platform)
    assert not wrong, f"{len(wrong)} command(s) not spelled for {platform}:\n" + "\n".join(wrong)


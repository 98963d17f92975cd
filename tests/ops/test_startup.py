"""Start-up against what is not up yet: one line naming it, no traceback, then again after a
growing pause; a token the platform refuses ends start-up with one line."""
import logging
import socket
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot import app, cli, startup
from bot.adapters.slack.front_end import SlackFrontEnd
from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.bootstrap import build_router, send_budget
from bot.config import load_settings
from bot.startup import StartupError, Unreachable, wait_for_database
from db.session import Database
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI

TOKEN = "123:ABC"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_liners(caplog: pytest.LogCaptureFixture, logger: str = "bot.startup") -> list[str]:
    records = [r for r in caplog.records if r.name == logger]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)
    return [r.getMessage() for r in records]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "BACKOFF_S", (0.01, 0.02))


def test_an_unreachable_database_is_named_in_one_line_per_try(caplog):
    url = f"postgresql+psycopg://fieldcrm:hunter2@127.0.0.1:{closed_port()}/fieldcrm"
    pauses: list[float] = []
    with caplog.at_level(logging.ERROR), pytest.raises(Unreachable):
        wait_for_database(url, sleep=pauses.append, attempts=4)
    assert pauses == [0.01, 0.02, 0.02]
    lines = one_liners(caplog)
    assert len(lines) == 3
    assert all("127.0.0.1" in line and "unreachable" in line and "hunter2" not in line for line in lines)


def test_start_up_waits_until_the_database_answers(tmp_path: Path, caplog):
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder / 'fieldcrm.sqlite3'}"
    with caplog.at_level(logging.ERROR):
        wait_for_database(url, sleep=lambda _s: folder.mkdir(exist_ok=True))  # "the volume is mounted"
    assert len(one_liners(caplog)) == 1


def test_one_shot_commands_print_one_line_and_exit_1(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", f"postgresql://fieldcrm@127.0.0.1:{closed_port()}/fieldcrm")
    assert cli.main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fieldcrm: The database cannot be reached") and "\n" not in err


@pytest.fixture
async def telegram_api():
    api = await FakeTelegramAPI(token=TOKEN).start()
    yield api
    await api.close()


def telegram(db: Database, api: FakeTelegramAPI, token: str = TOKEN) -> TelegramFrontEnd:
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="k", TELEGRAM_BOT_TOKEN=token,
                             TELEGRAM_API_BASE_URL=api.base_url)
    return TelegramFrontEnd(settings, build_router(db, settings), send_budget(db))


async def test_telegram_down_at_start_is_tried_again_until_it_answers(db, telegram_api, caplog):
    telegram_api.fail_next("getMe", times=2, status=502)
    front_end = telegram(db, telegram_api)
    with caplog.at_level(logging.ERROR):
        await front_end.start()
    try:
        lines = one_liners(caplog)
        assert len(lines) == 2 and all(line.startswith("telegram API ") for line in lines)
        assert len(telegram_api.called("getMe")) == 3
    finally:
        await front_end.stop()


async def test_a_refused_telegram_token_stops_start_up(db, telegram_api):
    front_end = telegram(db, telegram_api, token="123:WRONG")
    with pytest.raises(StartupError, match="telegram refused the bot token"):
        await front_end._connect()


@pytest.fixture
async def slack_api():
    api = await FakeSlackApi().start()
    yield api
    await api.stop()


def slack(db: Database, api_url: str) -> SlackFrontEnd:
    settings = load_settings(env_file=None, DATABASE_URL=db.url, SECRET_KEY="k", SLACK_BOT_TOKEN="xoxb-test",
                             SLACK_SIGNING_SECRET="s", SLACK_API_URL=api_url)
    return SlackFrontEnd(settings, build_router(db, settings), send_budget(db))


async def test_slack_unreachable_or_refusing_the_token(db, slack_api):
    with pytest.raises(Unreachable, match="slack API .* unreachable"):
        await slack(db, f"http://127.0.0.1:{closed_port()}/api/")._connect()
    slack_api.valid_tokens = frozenset({"xoxb-other"})
    with pytest.raises(StartupError, match="invalid_auth"):
        await slack(db, slack_api.api_url)._connect()
    slack_api.valid_tokens = None
    await slack(db, slack_api.api_url)._connect()


@pytest.mark.timeout(30)
async def test_a_run_that_fails_to_start_leaves_no_folder_for_its_childs_counters(
        telegram_api, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)  # so start-up reads the shared one from the database
    gone = f"postgresql+psycopg://fieldcrm@127.0.0.1:{closed_port()}/fieldcrm"  # went away after the wait
    settings = load_settings(env_file=None, DATABASE_URL=gone, TELEGRAM_BOT_TOKEN=TOKEN,
                             TELEGRAM_API_BASE_URL=telegram_api.base_url, HTTP_PORT=0, ADMIN_PORT=0)
    assert settings.outbox_sender == "child"
    with pytest.raises(OperationalError):
        await app.serve(settings)
    assert list(tmp_path.iterdir()) == []

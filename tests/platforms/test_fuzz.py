"""Bad input, fuzzed: every command's argument text as every kind of user, and every adapter's
payload shape, through the real translation functions and the router. Nothing may crash, no
traceback may reach a chat, and a refused command writes nothing."""
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.adapters.slack.inbound import action_incoming, command_incoming, message_incoming
from bot.adapters.telegram.inbound import to_incoming
from bot.bootstrap import build_router, command_table
from bot.config import load_settings
from bot.messages import Incoming, Reply
from bot.router import LAST_OUTCOME, Router
from db.models import Base
from db.session import Database
from tests.conftest import empty_tables, load_demo_org

COMMAND_NAMES = sorted(c.name for c in command_table().all())
PEOPLE = ["admin", "mei", "li", "sam", "stranger"]
FUZZ = settings(max_examples=120, deadline=3000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

# Text a phone keyboard, a copy-paste or a script can produce.
NASTY = st.sampled_from([
    "\u202e", "\u200f", "\u200b", "\ufeff", "\x00", "\x1b[31m", "\r\n", "\t", "'", '"', "\\", "--", "—", "%s",
    "{{ 7*7 }}", "<script>", "&amp;", "<!channel>", "<@U123>", "😀", "👨‍👩‍👧", "客户", "مرحبا", "שלום", "0", "-1",
    "1e309", "NaN", "9" * 40, "2026-02-30", "2026-13-01", "today", "--limit", "--limit=", "--x=--y", "x" * 5000,
])
WORDS = st.one_of(
    NASTY,
    st.text(max_size=30),
    st.integers(-10**12, 10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
    st.from_regex(r"--[a-z_]{1,10}(=[^\s]{0,10})?", fullmatch=True),
    st.sampled_from(["li", "@li", "sam", "mei", "admin", "nobody", "East Team", "Acme"]),
)
ARGS = st.lists(WORDS, max_size=8).map(" ".join)


def is_clean(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text and "Error:" not in text


def row_counts(db: Database) -> dict[str, int]:
    with db.uow() as uow:
        return {t.name: uow.session.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables if t.name != "inbound_events"}


@pytest.fixture(scope="module")
def fuzz_db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    empty_tables(database)
    load_demo_org(database)
    yield database
    empty_tables(database)
    database.dispose()


@pytest.fixture(scope="module")
def fuzz_router(fuzz_db: Database) -> Router:
    return build_router(fuzz_db, load_settings(env_file=None, DATABASE_URL=fuzz_db.url, SECRET_KEY="k"))


def check(router: Router, db: Database, incoming: Incoming) -> list[Reply]:
    before = row_counts(db)
    replies = router.handle(incoming)
    outcome = LAST_OUTCOME.get()
    assert outcome != "internal", f"unhandled error for {incoming.command!r} {incoming.args[:200]!r}"
    for reply in replies:
        assert is_clean(reply.text) and all(is_clean(v) for _k, v in reply.fields), reply
    if outcome not in ("ok", "duplicate"):
        assert row_counts(db) == before, f"{outcome} for {incoming.command!r} wrote rows"
    return replies


@settings(FUZZ, max_examples=400)
@given(person=st.sampled_from(PEOPLE), name=st.sampled_from(COMMAND_NAMES), args=ARGS)
def test_every_command_survives_any_argument_text(fuzz_router, fuzz_db, person, name, args):
    incoming = Incoming(platform="console", workspace="local", chat_id=f"@{person}", user_id=person,
                        command=name, args=args)
    check(fuzz_router, fuzz_db, incoming)


@FUZZ
@given(person=st.sampled_from(PEOPLE), line=st.one_of(ARGS, st.text(max_size=60)), button=st.booleans())
def test_any_typed_line_or_button_payload(fuzz_router, fuzz_db, person, line, button):
    name, _, rest = line.partition(" ")
    incoming = Incoming(platform="console", workspace="local", chat_id=f"@{person}", user_id=person,
                        command="" if button else name, args="" if button else rest,
                        button=line[:64] if button else None)
    check(fuzz_router, fuzz_db, incoming)


# ---------------------------------------------------------------- adapter payloads

JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), NASTY,
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def mutated(base: dict, keys: list[str]) -> st.SearchStrategy[dict]:
    """The valid payload with some fields dropped and some replaced by anything."""
    return st.fixed_dictionaries({
        "drop": st.sets(st.sampled_from(keys)),
        "junk": st.dictionaries(st.sampled_from(keys), JUNK, max_size=3),
    }).map(lambda m: {k: v for k, v in {**base, **m["junk"]}.items() if k not in m["drop"]})


TG_MESSAGE = {"message_id": 1, "date": 1_700_000_000, "chat": {"id": 555, "type": "private"},
              "from": {"id": 555, "is_bot": False, "first_name": "Li", "language_code": "zh"}, "text": "/whoami"}
TG_BOT = Bot("123:ABC")


# Fields the Bot API may leave out or fill with anything a user controls; "chat" is never missing
# from Telegram's own updates, but a malformed update must still be ignored, not crash.
TG_OPTIONAL = ["text", "from"]
TG_USERS = st.fixed_dictionaries(
    {"id": st.integers(1, 2**52), "is_bot": st.booleans(), "first_name": st.text(max_size=50)},
    optional={"language_code": st.one_of(st.text(max_size=8), NASTY), "username": st.text(max_size=40),
              "last_name": NASTY})


@st.composite
def telegram_updates(draw) -> dict:
    message = draw(mutated(TG_MESSAGE, TG_OPTIONAL))
    if "from" in message and not isinstance(message["from"], dict):
        message["from"] = draw(TG_USERS)
    if "text" in message and not isinstance(message["text"], str):
        message["text"] = draw(NASTY)
    message["chat"] = {"id": draw(st.integers(-10**13, 10**13)), "type": draw(st.sampled_from(
        ["private", "group", "supergroup", "channel"])), "title": draw(NASTY)}
    if draw(st.integers(0, 9)) == 0:
        del message["chat"]
    if draw(st.booleans()):
        message["text"] = "/" + draw(st.sampled_from(COMMAND_NAMES)) + " " + draw(ARGS)
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query", "location", "nothing"]))
    update: dict = {"update_id": draw(st.one_of(st.integers(0, 2**31), JUNK))}
    if kind == "callback_query":
        update["callback_query"] = draw(mutated(
            {"id": "q1", "from": TG_MESSAGE["from"], "chat_instance": "c", "data": draw(ARGS)[:64],
             "message": message}, ["id", "from", "chat_instance", "data", "message"]))
    elif kind == "location":
        point = draw(mutated({"latitude": 31.2, "longitude": 121.5, "horizontal_accuracy": 20.0,
                              "live_period": 900}, ["latitude", "longitude", "horizontal_accuracy", "live_period"]))
        update["message"] = {**message, "location": point}
    elif kind != "nothing":
        update[kind] = message
    return update


@FUZZ
@given(update=telegram_updates())
def test_telegram_updates_of_any_shape(fuzz_router, fuzz_db, update):
    try:
        parsed = Update.de_json(update, TG_BOT)
    except Exception:
        return  # the webhook answers 400 to what PTB cannot read (tested in test_telegram)
    incoming = to_incoming(parsed, "123", "fieldcrm_bot")
    if incoming is not None:
        check(fuzz_router, fuzz_db, incoming)


SLASH = {"team_id": "T0001", "channel_id": "D123", "user_id": "U1", "user_name": "li", "command": "/crm",
         "text": "whoami", "trigger_id": "1.2.3", "response_url": "https://hooks.slack.com/x"}
FORM_VALUE = st.one_of(st.text(max_size=40), NASTY)


@FUZZ
@given(body=st.fixed_dictionaries({
    "drop": st.sets(st.sampled_from(list(SLASH))),
    "values": st.dictionaries(st.sampled_from(list(SLASH)), FORM_VALUE, max_size=4),
}), text=st.one_of(ARGS, st.sampled_from(COMMAND_NAMES).flatmap(lambda n: ARGS.map(lambda a: f"{n} {a}"))))
def test_slack_slash_command_bodies(fuzz_router, fuzz_db, body, text):
    # A form body: every value a string, any of them missing.
    form = {k: v for k, v in {**SLASH, "text": text, **body["values"]}.items() if k not in body["drop"]}
    check(fuzz_router, fuzz_db, command_incoming(form))


EVENT = {"type": "message", "channel": "D123", "channel_type": "im", "user": "U1", "text": "whoami",
         "ts": "1700000000.000100"}
ACTION_BODY = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U1", "username": "li"},
               "trigger_id": "9.9.9", "channel": {"id": "D123"}}


def slack_json(base: dict) -> st.SearchStrategy[dict]:
    """Slack JSON: any field missing, any string field any text, any field of a wrong type."""
    strings = [k for k, v in base.items() if isinstance(v, str)]
    return st.fixed_dictionaries({
        "drop": st.sets(st.sampled_from(list(base))),
        "text": st.dictionaries(st.sampled_from(strings), FORM_VALUE, max_size=3),
        "junk": st.dictionaries(st.sampled_from(list(base)), JUNK, max_size=2),
    }).map(lambda m: {k: v for k, v in {**base, **m["text"], **m["junk"]}.items() if k not in m["drop"]})


@FUZZ
@given(event=slack_json(EVENT), body=slack_json({"team_id": "T0001", "event_id": "Ev1"}),
       value=st.one_of(ARGS, NASTY), action_body=slack_json(ACTION_BODY))
def test_slack_event_and_button_payloads(fuzz_router, fuzz_db, event, body, value, action_body):
    incoming = message_incoming(body, event)
    if incoming is not None:
        check(fuzz_router, fuzz_db, incoming)
    action = {"action_id": "crm:0", "value": value, "action_ts": "1700000000.1"}
    check(fuzz_router, fuzz_db, action_incoming(action_body, action))

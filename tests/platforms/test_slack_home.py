"""The Slack App Home end to end: published (views.publish on the fake Slack API, which refuses what
Slack refuses) when the person opens it and again when his data changes, coalesced; within 100
blocks; in his language; a rep's day or a manager's team; its buttons run commands or open modals.
On SQLite and PostgreSQL."""
import asyncio
import time
from datetime import date, datetime, timedelta

import aiohttp
import yaml
from sqlalchemy import select

from bot.adapters.slack.home import HOME_COMMAND, OPEN_MODAL, home_view
from bot.adapters.slack.modals import SHORTCUTS
from bot.messages import Reply
from bot.services.customers.cadence import DueCustomer
from bot.services.home.home import Home, ManagerHome, QuietLead, RepHome
from bot.services.visits.digest import RepLine
from db.base import utcnow
from db.models import Customer, Lead, OrgUnit, Pool, User
from db.session import Database
from tests.conftest import ROOT
from tests.fakes.slack_api import TEAM_ID, FakeSlackApi, block_texts
from tests.fakes.slack_views import view_problem
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for
from tests.platforms.test_slack import fake_slack, link  # noqa: F401 - the fixture


def add_quiet_leads(db: Database, handle: str, count: int, days: int = 30) -> None:
    """`count` leads of his, claimed `days` ago and never followed up: close to going back to the pool."""
    with db.uow() as uow:
        owner = uow.session.scalar(select(User.id).where(User.handle == handle))
        pool = uow.session.scalar(select(Pool.id))
        at = utcnow() - timedelta(days=days)
        for n in range(count):
            uow.session.add(Lead(company=f"Quiet Co {n:03d}", name_key=f"quiet co {n:03d}", status="following",
                                 owner_id=owner, pool_id=pool, claimed_at=at, created_at=at, updated_at=at))
        uow.commit()


def add_old_customer(db: Database, handle: str, name: str, days: int = 200) -> None:
    with db.uow() as uow:
        owner = uow.session.scalar(select(User.id).where(User.handle == handle))
        uow.session.add(Customer(name=name, name_key=name.lower(), owner_id=owner, tier="C",  # 30-day cadence
                                 created_at=utcnow() - timedelta(days=days)))
        uow.commit()


async def published(slack: Slack, user: str, count: int = 1, settle: bool = False) -> dict:
    """His Home as last published, once `count` were (with `settle`, after every publish planned)."""
    await slack.front.drain()
    if settle:
        await slack.front.home.settle()
    for _ in range(100):
        if len(slack.fake.publishes(user)) >= count:
            break
        await asyncio.sleep(0.02)
    assert len(slack.fake.publishes(user)) >= count, [c.method for c in slack.fake.calls]
    return slack.fake.homes[user]


def texts(view: dict) -> str:
    return "\n".join(block_texts(view["blocks"]))


def buttons(view: dict) -> list[dict]:
    found = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    return found + [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_a_reps_home_shows_his_day_in_his_language_and_its_buttons_work(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    add_old_customer(db, "li", "Harbour Steel")
    add_old_customer(db, "li", "Dockside Foods")  # due a visit: on today's plan
    add_quiet_leads(db, "li", 2)
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "li", "ULI")
        link(db, "mei", "UMEI")
        await slack.command("target set li month won_amount 100000", "UMEI", "DUMEI")
        await slack.answers(1)
        await slack.command("visit c1 --no-location 电话拜访", "ULI", "DULI")
        await slack.answers(2)
        await slack.home_opened("ULI")
        view = await published(slack, "ULI")
        assert view_problem(view) is None
        shown = texts(view)
        for words in ("李雷 Li Lei", "今日计划", "2. Dockside Foods(c2)", "Harbour Steel", "进行中的拜访", "目标进度", "赢单金额",
                      "即将退回公海的线索", "Quiet Co 000", "Quiet Co 001"):
            assert words in shown, words
        follow = next(b for b in buttons(view) if b["action_id"] == OPEN_MODAL + "follow")
        await slack.home_click(follow, "ULI")
        await slack.front.drain()
        for _ in range(50):
            if fake_slack.modals:
                break
            await asyncio.sleep(0.02)
        (modal,) = fake_slack.modals
        lead = next(b for b in modal["blocks"] if b["block_id"] == "lead")
        assert modal["title"]["text"] == "添加为跟进"
        assert lead["element"]["initial_option"]["value"] == "l" + follow["value"]  # the lead pressed, picked
        # a command button: answered in his DM with the bot (the Home has no channel)
        starts = [b for b in buttons(view) if b["action_id"].startswith(HOME_COMMAND)]
        assert [b["value"] for b in starts] == ["visit c1", "visit c2"]
        start = starts[1]
        before = len(fake_slack.posts())
        await slack.home_click(start, "ULI")
        await slack.front.drain()
        (answer,) = fake_slack.posts()[before:]
        assert answer.payload["channel"] == "DULI" and "Harbour Steel" in answer.text  # still open there


async def test_a_managers_home_shows_the_review_queue_his_team_and_overdue_customers(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    add_old_customer(db, "sam", "Northwind Depot")
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "mei", "UMEI")
        link(db, "admin", "UADMIN")
        await slack.home_opened("UMEI")
        view = await published(slack, "UMEI")
        assert view_problem(view) is None
        shown = texts(view)
        for words in ("待审核", "团队今天", "李雷 Li Lei", "Sam Carter", "逾期未访客户", "Northwind Depot"):
            assert words in shown, words
        await slack.home_opened("UADMIN")  # an admin: the whole company's team
        assert "Sam Carter" in texts(await published(slack, "UADMIN"))
        await slack.home_opened("UNOBODY")  # not linked: how to join, in the default language
        assert "/crm join" in texts(await published(slack, "UNOBODY"))


async def test_a_managers_home_holds_his_part_of_the_org_only(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    add_old_customer(db, "sam", "Northwind Depot")
    add_old_customer(db, "li", "Harbour Steel")
    with db.uow() as uow:
        west = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "West Team"))
        uow.session.add(User(handle="wes", name="Wes West", unit_id=west, role="manager", data_scope="subtree",
                             locale="en", timezone="Asia/Shanghai"))
        uow.commit()
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "wes", "UWES")
        await slack.home_opened("UWES")
        shown = texts(await published(slack, "UWES"))
    assert "Sam Carter" in shown and "Northwind Depot" in shown
    assert "Li Lei" not in shown and "Harbour Steel" not in shown


async def test_a_home_with_long_lists_stays_within_100_blocks_and_counts_the_rest(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    add_quiet_leads(db, "sam", 140)
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "sam", "USAM")
        await slack.home_opened("USAM")
        view = await published(slack, "USAM")
    assert view_problem(view) is None and len(view["blocks"]) <= 100
    shown = texts(view)
    assert "Quiet Co 000" in shown and "Quiet Co 139" not in shown
    more = [b for b in view["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("and ")]
    assert len(more) == 1 and more[0]["accessory"]["value"] == "leads"
    listed = shown.count("Quiet Co ")
    assert more[0]["text"]["text"] == f"and {140 - listed} more"


def test_any_home_fits_slacks_limits_in_both_languages():
    now = datetime(2026, 12, 6, 9, 30)
    long = "名" * 4000
    for locale in ("en", "zh"):
        rep = RepHome(long, date(2026, 12, 6), [], 500, None, [],
                      [QuietLead(n, long, now) for n in range(30)], 900)
        manager = ManagerHome(long, date(2026, 12, 6), 12345, [RepLine(long, 3, 2, 1) for _ in range(300)],
                              [DueCustomer(n, long, 1, "A", 30, None, date(2026, 11, 1), True) for n in range(30)],
                              400, {1: long})
        for home in (Home(1, locale, now, rep=rep), Home(2, locale, now, manager=manager)):
            view = home_view(home)
            assert view_problem(view) is None, view_problem(view)
            assert len(view["blocks"]) <= 100


async def test_a_burst_of_changes_publishes_his_home_a_few_times_and_ends_current(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        slack.front.home.debounce_s, slack.front.home.min_interval_s = 0.05, 0.5
        link(db, "sam", "USAM")
        await slack.command("claim 4", "USAM", "DUSAM")
        await slack.answers(1)
        started = time.monotonic()
        for n in range(20):  # twenty follow-ups, each a change of his data
            await slack.command(f"follow 4 call {n}", "USAM", "DUSAM")
            await slack.front.drain()
        # and the writes of others reach him as direct messages, which mark his home too
        await slack.front.sender.send(TEAM_ID, "DUSAM", Reply(text="Your visit was approved"))
        last_change = fake_slack.clock()
        burst = time.monotonic() - started
        await published(slack, "USAM", settle=True)
        count = len(fake_slack.publishes("USAM"))
        # the first after the debounce, then at most one per min_interval (and the last one, trailing)
        assert 1 <= count <= 2 + burst / 0.5, (count, burst)
        assert count < 21
        assert fake_slack.views_log.posts[-1].at >= last_change  # the last change is on his Home
        marks_after = len(fake_slack.publishes("USAM"))
        await slack.front.sender.send(TEAM_ID, "C0SALES", Reply(text="a channel post"))  # nobody's home
        await asyncio.sleep(0.1)
        await slack.front.home.settle()
        assert len(fake_slack.publishes("USAM")) == marks_after
    print(f"\n20 changes + 1 DM in {burst:.2f}s -> {count} views.publish (min interval 0.5 s)")


async def test_a_rate_limited_publish_waits_out_retry_after_and_publishes(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "sam", "USAM")
        fake_slack.refuse_views(retry_after=1)
        await slack.home_opened("USAM")
        await slack.front.drain()
        assert [c.method for c in fake_slack.calls if "views" in c.method] == ["ratelimited:views.publish"]
        fake_slack.lift_views()
        started = time.monotonic()
        view = await published(slack, "USAM", settle=True)
        assert time.monotonic() - started >= 0.5 and view_problem(view) is None
        assert [c.method for c in fake_slack.calls if "views" in c.method] == [
            "ratelimited:views.publish", "views.publish"]
        # opened again with nothing changed since: not published again
        await slack.home_opened("USAM", has_view=True)
        await slack.front.drain()
        assert len(fake_slack.publishes("USAM")) == 1


def test_the_manifest_enables_the_home_the_events_and_the_shortcuts_the_bot_listens_for():
    manifest = yaml.safe_load((ROOT / "slack_manifest.yaml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    shortcuts = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert shortcuts == {"new_lead": "global", "visit_report": "global", "win": "global", "add_follow_up": "message"}
    assert set(shortcuts) == set(SHORTCUTS)
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]  # global shortcuts need it


async def test_the_fake_slack_api_refuses_views_slack_would_refuse(fake_slack: FakeSlackApi):  # noqa: F811
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    bad = [
        {"type": "home", "blocks": [section] * 101},
        {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
        {"type": "home", "blocks": [{**section, "block_id": "a"}, {**section, "block_id": "a"}]},
        {"type": "home", "blocks": [{**section, "accessory": {"type": "button", "action_id": "b" * 256,
                                                              "text": {"type": "plain_text", "text": "go"}}}]},
        {"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}, "blocks": []},
        {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "private_metadata": "m" * 3001, "blocks": []},
        {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "submit": {"type": "plain_text", "text": "s"},
         "blocks": [{"type": "input", "block_id": "n", "label": {"type": "plain_text", "text": "n"},
                     "element": {"type": "plain_text_input", "action_id": "n", "max_length": 3001}}]},
    ]
    for view in bad:
        assert view_problem(view) is not None, view
    async with aiohttp.ClientSession() as http:
        async with http.post(fake_slack.api_url + "views.publish", json={"user_id": "U1", "view": bad[0]}) as answer:
            assert (await answer.json())["error"] == "invalid_arguments"
        async with http.post(fake_slack.api_url + "views.publish", json={"user_id": "U1", "view": {
                "type": "home", "blocks": [section] * 100}}) as answer:
            assert (await answer.json())["ok"] is True

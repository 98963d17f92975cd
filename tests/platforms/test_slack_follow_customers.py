"""Slack's "Add as follow-up" message shortcut on a customer: the modal's one menu groups his leads
and his customers (values "l7" / "c12"), through the real slack-bolt app against the fake Slack API
(which refuses what Slack refuses, option groups included). On SQLite and PostgreSQL."""
from sqlalchemy import select

from bot.adapters.slack.modals import modal_view
from bot.services.home.choices import Choice
from db.models import Customer, CustomerFollowup, LeadFollowup, Reminder, User
from db.session import Database
from tests.deals.test_deals import add_customer
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_views import view_problem
from tests.platforms.slack_harness import running_slack, slack_settings_for
from tests.platforms.test_slack import fake_slack, link  # noqa: F401 - the fixture
from tests.platforms.test_slack_modals import dm_texts, opened


def _menu(view: dict) -> dict:
    return next(b for b in view["blocks"] if b["block_id"] == "lead")["element"]


async def test_add_as_follow_up_on_his_customer_from_the_grouped_menu(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    mine = add_customer(db, "sam", "Harbour Steel")
    theirs = add_customer(db, "li", "Li's Shop")
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "sam", "USAM")
        await slack.command("claim 4", "USAM", "DUSAM")
        await slack.answers(1)
        message = "Harbour wants 15000 yuan of samples, call them back tomorrow 10am"
        await slack.shortcut("add_follow_up", "USAM", message=message)
        view = await opened(slack, 1)
        menu = _menu(view)
        assert view_problem(view) is None and "options" not in menu
        assert [(g["label"]["text"], [(o["value"], o["text"]["text"]) for o in g["options"]])
                for g in menu["option_groups"]] == [
            ("Leads", [("l4", "Bluewater Logistics Co., Ltd. (#4)")]),
            ("Customers", [(f"c{mine}", f"Harbour Steel (c{mine})")])]
        # someone else's customer reads like a missing one, on the field, and nothing is written
        status, ack, _ = await slack.submit(view, {"lead": f"c{theirs}", "note": message}, "USAM")
        assert list(ack["errors"]) == ["lead"] and f"c{theirs}" not in [o["value"] for g in menu["option_groups"]
                                                                         for o in g["options"]]
        assert f"There is no customer #{theirs}." in ack["errors"]["lead"]
        status, ack, _ = await slack.submit(view, {"lead": f"c{mine}", "note": message}, "USAM")
        assert (status, ack) == (200, None)
        await slack.front.drain()
        answer = "\n".join(dm_texts(fake_slack, "USAM"))
        assert f"Follow-up recorded on customer c{mine} Harbour Steel" in answer
        assert "Reminder #1" in answer and "15,000" in answer
    with db.uow() as uow:
        assert [(f.customer_id, f.note) for f in uow.session.scalars(select(CustomerFollowup))] == [(mine, message)]
        assert uow.session.scalar(select(LeadFollowup)) is None
        assert [r.customer_id for r in uow.session.scalars(select(Reminder))] == [mine]


async def test_the_lead_from_the_menu_is_still_a_lead(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    add_customer(db, "sam", "Harbour Steel")
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "sam", "USAM")
        await slack.command("claim 4", "USAM", "DUSAM")
        await slack.answers(1)
        await slack.shortcut("add_follow_up", "USAM", message="sent the price list")
        view = await opened(slack, 1)
        status, ack, _ = await slack.submit(view, {"lead": "l4", "note": "sent the price list"}, "USAM")
        assert (status, ack) == (200, None)
        await slack.front.drain()
    with db.uow() as uow:
        assert [(f.lead_id, f.note) for f in uow.session.scalars(select(LeadFollowup))] == [(4, "sent the price list")]


async def test_over_a_hundred_leads_and_customers_falls_back_to_the_typed_ref(
        db: Database, demo_org: Database, fake_slack: FakeSlackApi):  # noqa: F811
    with db.uow() as uow:
        sam = uow.session.scalar(select(User.id).where(User.handle == "sam"))
        uow.session.add_all(Customer(name=f"Shop {n}", name_key=f"shop {n}", owner_id=sam) for n in range(101))
        uow.commit()
    async with running_slack(db, slack_settings_for(db, fake_slack), fake_slack) as slack:
        link(db, "sam", "USAM")
        await slack.shortcut("add_follow_up", "USAM", message="called")
        view = await opened(slack, 1)
        assert _menu(view)["type"] == "plain_text_input" and view_problem(view) is None
        status, ack, _ = await slack.submit(view, {"lead": "c101", "note": "called"}, "USAM")
        assert (status, ack) == (200, None)
        await slack.front.drain()
    with db.uow() as uow:
        assert [f.customer_id for f in uow.session.scalars(select(CustomerFollowup))] == [101]


def test_the_grouped_menu_keeps_within_slacks_limits_and_the_fake_checks_them():
    many = [Choice(n, "名" * 300) for n in range(100)]
    for leads, customers, grouped in ((many[:60], many[:40], True), (many[:60], many[:41], False),
                                      ([], many, True), (many, None, False), ([], [], False)):
        view = modal_view("follow", "zh", {"lead": "7"}, picks={"lead": leads, "customer": customers})
        assert view_problem(view) is None
        assert ("option_groups" in _menu(view)) is grouped, (len(leads), customers and len(customers))
    view = modal_view("follow", "en", {"lead": "7"}, picks={"lead": many[:10], "customer": many[:10]})
    assert _menu(view)["initial_option"]["value"] == "l7"  # a bare number: the lead, as /follow reads it
    # the fake refuses what Slack would: too many options across the groups, a long group label
    groups = _menu(view)["option_groups"]
    too_many = {**_menu(view), "option_groups": [{**groups[0], "options": groups[0]["options"] * 10}, groups[1]]}
    long_label = {**_menu(view), "option_groups": [{**groups[0], "label": {"type": "plain_text", "text": "x" * 76}}]}
    for element in (too_many, long_label):
        broken = {**view, "blocks": [{**view["blocks"][0], "element": element}, *view["blocks"][1:]]}
        assert view_problem(broken) is not None

"""/team and /report for managers, with the chart image, and the weekly report pushed by DM."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.bootstrap import build_router
from bot.handlers.manager import charts
from bot.jobs.reports import push_weekly
from bot.messages import Incoming
from bot.services.core import identity
from db.models import Customer, Lead, OutboxMessage, Visit
from db.models.deal import Deal
from db.models.target import Target
from tests.conftest import posted

# A Thursday 10:00 in Shanghai: the week started on Monday.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def seed(db):
    with db.uow() as uow:
        li, zhang, sam = (identity.find_user(uow, h) for h in ("li", "zhang", "sam"))
        customer = Customer(name="Cust", name_key="cust", owner_id=li.id)
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add_all([
            Deal(name="a", customer_id=customer.id, owner_id=li.id, stage="intent", amount=Decimal("300")),
            Deal(name="b", customer_id=customer.id, owner_id=zhang.id, stage="negotiation",
                 amount=Decimal("700")),
            Deal(name="w", customer_id=customer.id, owner_id=li.id, stage="won", amount=Decimal("5000"),
                 won_at=NOW - timedelta(days=2)),
            Visit(user_id=li.id, customer_id=customer.id, started_at=NOW - timedelta(hours=1), verdict="verified",
                  counts=True),
            Visit(user_id=li.id, customer_id=customer.id, started_at=NOW - timedelta(days=2), verdict="verified",
                  counts=True),
            Visit(user_id=zhang.id, customer_id=customer.id, started_at=NOW - timedelta(hours=2), verdict="flagged"),
            Visit(user_id=sam.id, customer_id=customer.id, started_at=NOW - timedelta(days=9), verdict="verified",
                  counts=True),
            Lead(company="Quiet", name_key="quiet", status="following", owner_id=li.id,
                 claimed_at=NOW - timedelta(days=10), last_followup_at=NOW - timedelta(days=6, hours=12)),
            Lead(company="Busy", name_key="busy", status="following", owner_id=li.id,
                 claimed_at=NOW - timedelta(days=10), last_followup_at=NOW - timedelta(days=1)),
            Target(subject_type="user", subject_id=li.id, period="month", period_start=NOW.date().replace(day=1),
                   metric="won_amount", value=Decimal("10000")),
        ])
        uow.commit()


def ask(router, who, line):
    name, _, args = line.partition(" ")
    return router.handle(Incoming(platform="console", workspace="local", chat_id=f"@{who}", user_id=who,
                                  command=name, args=args))[0]


def test_team_view_per_sub_team_and_per_rep_with_a_chart(db, demo_org, settings):
    seed(db)
    router = build_router(db, settings, clock=lambda: NOW)
    reply = ask(router, "mei", "team")
    text = reply.text + "\n".join(f"{k}: {v}" for k, v in reply.fields)
    assert "East Team(2 人)" in text and "West Team(1 人)" in text
    assert "确定意向 1(300.00)" in text and "商务洽谈 1(700.00)" in text
    assert "今日拜访: 有效 1,存疑 1" in text and "本周拜访: 有效 2,存疑 1" in text
    assert "持有 2,即将退回 1" in text
    assert reply.file_name == "team.png" and reply.file_bytes[:8] == b"\x89PNG\r\n\x1a\n"
    east = ask(router, "admin", "team east team")
    body = east.text
    assert "李雷 Li Lei: pipeline 300.00, visits today 1/0 flagged, week 2/0 flagged, leads 2 (1 due)" in body
    assert "target 50% behind pace" in body  # 50% achieved with 26 of 30 days gone
    assert "Sam Carter" not in body


def test_report_for_a_period_in_both_languages(db, demo_org, settings):
    seed(db)
    router = build_router(db, settings, clock=lambda: NOW)
    week = ask(router, "admin", "report week East Team")
    assert week.title == "Weekly report East Team: 2026-11-23 – 2026-11-29"
    fields = dict(week.fields)
    assert fields["Visits"] == "2 verified, 1 flagged" and fields["Won"] == "5,000.00 (1 deal)"
    assert week.file_bytes[:4] == b"\x89PNG"
    day = ask(router, "mei", "report day")
    assert day.title.startswith("日报 Acme Trading") and dict(day.fields)["拜访"] == "有效 1,存疑 1"
    assert "没有名为“Mars”的部门" in ask(router, "mei", "report week Mars").text
    assert "不能使用 /report" in ask(router, "li", "report").text


def test_weekly_report_reaches_each_manager_once_on_monday_morning(db, demo_org, settings):
    seed(db)
    monday_0830_shanghai = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    assert push_weekly(db, monday_0830_shanghai - timedelta(hours=1), settings) == 0  # 07:30: not yet
    assert push_weekly(db, monday_0830_shanghai, settings) == 1
    assert push_weekly(db, monday_0830_shanghai + timedelta(minutes=15), settings) == 0
    with db.uow() as uow:
        (message,) = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
    assert message.chat_id == "@mei" and "周报" in posted(message).title
    assert "2026-11-23" in posted(message).title


def test_charts_never_fail_on_fonts_or_names(monkeypatch):
    monkeypatch.setattr(charts, "cjk_font_path", lambda: None)
    charts.font.cache_clear()
    assert charts.printable("李雷 Li Lei") == "Li Lei" and charts.printable("李雷") == "?"
    png = charts.render([
        charts.visits_week("Visits", ["Mon"] * 7, [("李雷 Li Lei", [1, 0, 2, 0, 0, 0, 0]), ("x", [0] * 7)]),
        charts.pipeline("Pipeline", [("initial", 2, Decimal("10")), ("intent", 0, Decimal("0"))]),
        charts.target_pace("Pace", 0.5, [("a", 1.4), ("b", 0.0)]),
        charts.visits_week("Empty", [], []),
    ])
    assert png[:4] == b"\x89PNG" and len(png) > 1000
    charts.font.cache_clear()


def test_a_big_unit_pages_its_rows_and_the_chart_comes_once(db, demo_org, settings):
    from db.models import OrgUnit, User

    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        uow.session.add_all(User(handle=f"rep{i:02}", name=f"Rep {i:02}", unit_id=east, role="rep", locale="en")
                            for i in range(33))
        uow.commit()
    router = build_router(db, settings, clock=lambda: NOW)
    first = ask(router, "admin", "team East Team")
    assert "Showing rows 1–30 of 35 · page 1." in first.text and first.file_name == "team.png"
    [following] = first.buttons
    assert (following.label, following.payload) == ("Next »", 'team "East Team" --page 2')
    second = ask(router, "admin", following.payload)
    assert "Showing rows 31–35 of 35 · page 2." in second.text and second.file_name is None
    rows = [line for line in first.text.splitlines() + second.text.splitlines() if line.startswith("• ")]
    assert len(rows) == 35 and len(set(rows)) == 35
    report = ask(router, "admin", "report week East Team --page 2")
    assert "Showing rows 31–35 of 35 · page 2." in report.text
    assert [b.payload for b in report.buttons] == ['report week "East Team" --page 1']

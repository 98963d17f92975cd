"""Revisit cadence: calendar days from the last counted visit, a due date on a weekend or a company
holiday moved to the next working day; the owner nudged privately (through the real Telegram
adapter, in his language) on working days only and not when his nudges are off; the manager's
digest counts overdue customers per rep."""
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.bootstrap import send_budget
from bot.delivery import Dispatcher
from bot.services.customers import cadence
from bot.services.deals import nudges
from bot.services.visits import digest
from db.models import OutboxMessage, User, Visit
from tests.conftest import posted, say
from tests.customers.conftest import ON, load, recompute, user
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.platforms.telegram_harness import TOKEN, link_telegram, telegram_settings

AT_1105 = datetime(2026, 11, 26, 3, 5, tzinfo=UTC)  # Thursday 11:05 in Asia/Shanghai
SATURDAY_1105 = datetime(2026, 11, 28, 3, 5, tzinfo=UTC)
# East Team revisits A customers every 5 days (its own setting); the company's holiday on Wednesday.
EAST_CADENCE = "units:\n  - name: East Team\n    parent: Acme Trading\n    customers: {cadence: {A: 5}}\n"
HOLIDAY = "holidays: [2026-11-25]\n"
LI_TG = 555


def visit(db, handle: str, customer_id: int, day: date) -> None:
    with db.uow() as uow:
        uow.session.add(Visit(user_id=user(uow, handle).id, customer_id=customer_id, kind="visit", counts=True,
                              started_at=datetime(day.year, day.month, day.day, 2, tzinfo=UTC)))
        uow.commit()


@pytest.fixture
def visited(db, book):
    """Tiers as of ON (Big Buyer A, Steady Two and Three B, Small Shop D, the others E) and visits."""
    recompute(db)
    load(db, EAST_CADENCE)
    visit(db, "li", book.ids["Big Buyer"], date(2026, 11, 16))  # Mon + 5 days = Sat 21st -> Mon 23rd
    visit(db, "li", book.ids["Steady Two"], date(2026, 11, 11))  # Wed + 14 = Wed 25th
    visit(db, "li", book.ids["Steady Three"], date(2026, 11, 20))  # Fri + 14 = Fri 4 Dec
    return book


def due(db, on: date = ON) -> dict[str, tuple[date, bool]]:
    with db.uow() as uow:
        return {d.name: (d.due_on, d.overdue) for d in cadence.due_customers(uow, user(uow, "li").id, on)}


def test_cadence_in_calendar_days_a_weekend_due_date_moves_to_monday(db, visited):
    found = due(db)
    assert found["Big Buyer"] == (date(2026, 11, 23), True)  # Saturday's due date moved to Monday
    assert found["Steady Two"] == (date(2026, 11, 25), True)
    assert "Steady Three" not in found and "Never Paid" not in found and "Dormant" not in found  # not due; E: none
    assert found["Small Shop"][1]  # D, never visited: counted from the day it became a customer
    with db.uow() as uow:
        assert "Big Buyer" not in {d.name for d in cadence.due_customers(uow, user(uow, "li").id, date(2026, 11, 22))}


def test_a_company_holiday_moves_the_due_date_to_the_next_working_day(db, visited):
    load(db, HOLIDAY)
    assert due(db)["Steady Two"] == (date(2026, 11, 26), False)  # due today, not overdue
    assert due(db, date(2026, 11, 27))["Steady Two"] == (date(2026, 11, 26), True)


def test_the_customer_shows_its_next_visit(console, db, visited):
    say(console, "/as li")
    say(console, "/lang en")
    out = say(console, f"/customer {visited.ids['Steady Three']}")
    assert "Tier: B" in out and "Next visit due" in out and "every 14 days" in out


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    fake = await FakeTelegramAPI(token=TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def front_end(db, router, api) -> AsyncIterator[TelegramFrontEnd]:
    front = TelegramFrontEnd(telegram_settings(db, api, webhook=True), router, send_budget(router.db))
    yield front
    await front.application.shutdown()


def run_nudges(db, now: datetime) -> nudges.NudgeRun:
    with db.uow() as uow:
        result = nudges.run_due(uow, now)
        uow.commit()
    return result


async def test_the_owner_is_nudged_privately_on_telegram_in_his_language(db, visited, front_end, api):
    link_telegram(db, "li", LI_TG)
    run_nudges(db, AT_1105)
    run_nudges(db, AT_1105)  # once a day
    await Dispatcher(db, {"telegram": front_end.sender}).deliver_due()
    [overdue] = [text for text in api.texts(LI_TG) if "客户该回访了" in text]
    assert "Big Buyer" in overdue and "Steady Two" in overdue and "Small Shop" in overdue
    assert "Steady Three" not in overdue and "Never Paid" not in overdue
    assert "应于 2026-11-23 拜访" in overdue and "上次拜访 2026-11-16" in overdue
    assert all(call["chat_id"] in (LI_TG, str(LI_TG)) for call in api.called("sendMessage"))  # never public


def test_no_overdue_nudge_on_a_weekend_or_when_nudges_are_off(console, db, visited):
    run_nudges(db, SATURDAY_1105)
    say(console, "/as li")
    say(console, "/nudges off")
    run_nudges(db, AT_1105)
    with db.uow() as uow:
        texts = [posted(m).text for m in uow.session.scalars(select(OutboxMessage))]
    assert not any("客户该回访了" in text or "past" in text for text in texts)


def test_the_managers_digest_counts_overdue_customers_per_rep(db, visited):
    with db.uow() as uow:
        mei = uow.session.scalar(select(User).where(User.handle == "mei"))
        lines = {line.name: line.overdue for line in digest.build(uow, mei.id, ON).reps}
        digest.queue(uow, mei.id, ON, AT_1105)
        uow.commit()
        [message] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
        text = posted(message).text
    assert lines["李雷 Li Lei"] == 3 and lines["张伟 Zhang Wei"] == 0
    assert "3 个客户逾期未回访" in text


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_asking_for_those_due_by_a_day_leaves_out_exactly_those_not_due(db, visited, zone):
    # The database drops customers visited too recently to be due (the morning push reads only the
    # rest): never one that is due by the day, whatever the owner's zone (UTC+14, UTC-11) and
    # whenever in the UTC day the last visit was.
    with db.uow() as uow:
        user(uow, "li").timezone = zone
        for name, hour, minute in (("Small Shop", 23, 59), ("Steady Three", 0, 1)):
            uow.session.add(Visit(user_id=user(uow, "li").id, customer_id=visited.ids[name], kind="visit",
                                  counts=True, started_at=datetime(2026, 10, 2, hour, minute, tzinfo=UTC)))
        uow.commit()
    with db.uow() as uow:
        owners = list(uow.session.scalars(select(User.id)))
        everything = cadence.schedule(uow, owners, ON)
        assert len(everything) >= 4
        for offset in range(-70, 40):
            day = ON + timedelta(days=offset)
            assert cadence.schedule(uow, owners, ON, due_by=day) == [d for d in everything if d.due_on <= day], day

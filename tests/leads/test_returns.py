"""The return sweep: per rule and per customer level, locked leads kept, history and warnings."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from bot.errors import UserError
from bot.jobs.pool import run_sweep
from bot.services.leads import claims, returns
from db.base import utcnow
from db.models import Customer, Deal, Lead, LeadEvent, LeadReturnWarning, OutboxMessage, Pool, User
from tests.conftest import posted


def rep_id(db, handle):
    with db.uow() as uow:
        return uow.session.scalar(select(User.id).where(User.handle == handle))


def own(db, lead_id, handle, claimed_days_ago, followed_days_ago=None, **extra):
    now, owner = utcnow(), rep_id(db, handle)
    with db.uow() as uow:
        uow.session.execute(update(Lead).where(Lead.id == lead_id).values(
            status="following" if followed_days_ago is not None else "pending", owner_id=owner,
            claimed_at=now - timedelta(days=claimed_days_ago),
            last_followup_at=None if followed_days_ago is None else now - timedelta(days=followed_days_ago),
            **extra))
        uow.commit()


def statuses(db):
    with db.uow() as uow:
        return dict(uow.session.execute(select(Lead.id, Lead.status)).all())


def test_no_follow_up_returns_only_the_neglected_unlocked_leads(demo_pool):
    own(demo_pool, 1, "li", claimed_days_ago=8)
    own(demo_pool, 2, "li", claimed_days_ago=8, followed_days_ago=2)
    own(demo_pool, 3, "li", claimed_days_ago=8, locked=True)
    own(demo_pool, 4, "li", claimed_days_ago=3)
    with demo_pool.uow() as uow:
        result = returns.sweep(uow, utcnow())
        uow.commit()
    assert result.returned == 1 and result.by_reason == {"no_followup": 1}
    assert statuses(demo_pool) == {1: "unassigned", 2: "following", 3: "pending", 4: "pending", 5: "unassigned",
                                   6: "unassigned"}
    li, zhang = rep_id(demo_pool, "li"), rep_id(demo_pool, "zhang")
    with demo_pool.uow() as uow:
        event = uow.session.scalars(select(LeadEvent).where(LeadEvent.kind == "return")).one()
        assert (event.lead_id, event.from_owner_id, event.to_owner_id, event.actor_id, event.reason) == (
            1, li, None, None, "no_followup")
        assert uow.session.get(Lead, 1).owner_id is None
    # The previous owner is in his cool-down; someone else may claim at once.
    with demo_pool.uow() as uow:
        with pytest.raises(UserError) as refused:
            claims.claim(uow, li, 1, utcnow())
        assert refused.value.template == "leads/cooldown"
        claims.claim(uow, zhang, 1, utcnow())


def test_rules_differ_per_customer_level_and_no_deal_counts_from_the_claim(demo_pool):
    with demo_pool.uow() as uow:
        uow.session.execute(update(Pool).values(level_rules={"A": {"return_no_followup_days": 30,
                                                                   "return_no_deal_days": None}}))
        uow.commit()
    own(demo_pool, 1, "li", claimed_days_ago=8, level="A")
    own(demo_pool, 2, "li", claimed_days_ago=8, level="C")
    own(demo_pool, 3, "sam", claimed_days_ago=31, followed_days_ago=1)
    own(demo_pool, 4, "sam", claimed_days_ago=31, followed_days_ago=1)
    sam = rep_id(demo_pool, "sam")
    with demo_pool.uow() as uow:
        customer = Customer(name="X", name_key="x")
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(Deal(name="won", customer_id=customer.id, lead_id=4, owner_id=sam,
                                    stage="won", amount=Decimal("10")))
        uow.commit()
    with demo_pool.uow() as uow:
        result = returns.sweep(uow, utcnow())
        uow.commit()
    assert result.by_reason == {"no_followup": 1, "no_deal": 1}
    found = statuses(demo_pool)
    assert found[1] == "pending" and found[2] == "unassigned" and found[3] == "unassigned" and found[4] == "following"


def test_owner_is_warned_once_by_direct_message_before_the_return(demo_pool):
    own(demo_pool, 5, "sam", claimed_days_ago=6.5)
    own(demo_pool, 6, "sam", claimed_days_ago=6.8)
    own(demo_pool, 1, "li", claimed_days_ago=2)
    returned, warned, _ = run_sweep(demo_pool, utcnow())
    assert returned.returned == 0 and warned.warned_leads == 2 and warned.warned_owners == 1
    run_sweep(demo_pool, utcnow() + timedelta(minutes=15))
    with demo_pool.uow() as uow:
        messages = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
        assert len(messages) == 1
        text = posted(messages[0]).text
        assert "#5 Northwind Foods Inc." in text and "#6" in text and "In 1 day" in text
        assert uow.session.scalar(select(func.count()).select_from(LeadReturnWarning)) == 2
    # A day later, unworked: returned, and the history says why.
    returned, _, _ = run_sweep(demo_pool, utcnow() + timedelta(days=1))
    assert returned.returned == 2


def test_warning_is_in_the_owners_language(demo_pool):
    own(demo_pool, 5, "li", claimed_days_ago=6.5)
    run_sweep(demo_pool, utcnow())
    with demo_pool.uow() as uow:
        message = uow.session.scalars(select(OutboxMessage)).one()
        assert "即将被回收到公海" in posted(message).title and "超期未跟进" in posted(message).text


def test_close_to_return_is_the_no_follow_up_rule_less_the_warning_days(demo_pool):
    """What /team counts as "due": per pool (active or not), locked leads never, a lead outside any
    pool on the pool defaults."""
    now = utcnow()
    with demo_pool.uow() as uow:
        slow = Pool(name="slow", return_no_followup_days=14, warn_days_before=2, active=False, created_at=now)
        never = Pool(name="never", created_at=now)
        uow.session.add_all([slow, never])
        uow.session.flush()
        never.return_no_followup_days = None
        uow.session.execute(update(Lead).where(Lead.id.in_([5, 6])).values(pool_id=slow.id))
        uow.session.add(Lead(company="Own", name_key="own", status="pending", pool_id=never.id,
                             claimed_at=now - timedelta(days=40), created_at=now, updated_at=now))
        uow.session.add(Lead(company="Loose", name_key="loose", status="pending",
                             claimed_at=now - timedelta(days=6.5), created_at=now, updated_at=now))
        uow.commit()
    own(demo_pool, 1, "li", claimed_days_ago=10, followed_days_ago=6.5)
    own(demo_pool, 2, "li", claimed_days_ago=10, followed_days_ago=2)
    own(demo_pool, 3, "li", claimed_days_ago=10, locked=True)
    own(demo_pool, 4, "li", claimed_days_ago=6.5)
    own(demo_pool, 5, "sam", claimed_days_ago=12.5)
    own(demo_pool, 6, "sam", claimed_days_ago=11)
    with demo_pool.uow() as uow:
        due = uow.session.scalars(select(Lead.company).where(returns.close_to_return(uow, now)).order_by(Lead.id))
        assert list(due) == ["上海星河贸易有限公司", "Bluewater Logistics Co., Ltd.", "Northwind Foods Inc.", "Loose"]

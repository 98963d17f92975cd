"""The public pool through the console: listing, claims and their rules, release, assign, distribution."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.errors import UserError
from bot.services.leads import claims, distribution, ownership
from db.base import utcnow
from db.models import Lead, LeadEvent, OrgUnit, OutboxMessage, Pool, PoolMember, User
from db.models.lead import LeadClaim
from tests.conftest import posted, say


def set_rules(db, **values):
    with db.uow() as uow:
        uow.session.execute(update(Pool).values(**values))
        uow.commit()


def add_leads(db, count, prefix="Extra"):
    with db.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id))
        for i in range(count):
            uow.session.add(Lead(company=f"{prefix} {i}", name_key=f"{prefix.lower()}{i}", pool_id=pool_id,
                                 created_at=utcnow() - timedelta(hours=1)))
        uow.commit()


def test_pool_page_shows_newest_first_with_claim_buttons_and_paging(console, demo_pool):
    add_leads(demo_pool, 12)
    say(console, "/as sam")
    first = console.router.handle(console.to_incoming("/pool"))[0]
    assert first.title == 'Public pool "demo pool" · page 1'
    assert first.text.splitlines()[0].startswith("#6 深圳 Lumen")
    payloads = [b.payload for b in first.buttons]
    assert payloads[:2] == ["claim 6", "claim 5"] and payloads[-1] == "pool 2"
    assert all(len(p.encode()) <= 64 for p in payloads)
    second = console.router.handle(console.to_incoming("/pool 2"))[0]
    assert "pool 1" in [b.payload for b in second.buttons] and "pool 3" not in [b.payload for b in second.buttons]


def test_pool_filters_by_region_source_industry_and_text(console, demo_pool):
    say(console, "/as li")
    out = say(console, "/pool --region 华东")
    assert "上海星河" in out and "杭州云杉" in out and "Northwind" not in out
    assert "Bluewater" in say(console, "/pool --source referral")
    assert "北京长城" in say(console, "/pool --industry 制造") and "上海" not in say(console, "/pool --industry 制造")
    text = say(console, "/pool northwind")
    assert "Northwind" in text and "Bluewater" not in text
    assert "没有符合" in say(console, "/pool 不存在的公司")


def test_a_rep_outside_every_pool_sees_nothing_and_cannot_claim(console, demo_pool):
    with demo_pool.uow() as uow:
        uow.session.execute(update(PoolMember).values(unit_id=None, user_id=uow.session.scalar(
            select(User.id).where(User.handle == "li"))))
        uow.commit()
    say(console, "/as sam")
    assert "don't belong to any pool" in say(console, "/pool")
    assert say(console, "/claim 6") == "There is no lead #6."  # a pool he is not in: out of reach, like not found
    say(console, "/as li")
    assert "已归你负责" in say(console, "/claim 6")


def test_second_claimer_is_told_who_has_it(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    assert "already yours" not in say(console, "/claim 6") and "已经归你负责" in say(console, "/claim 6")
    say(console, "/as sam")
    answer = say(console, "/claim 6")
    assert "Too late: lead #6 is already held by 李雷 Li Lei." in answer and "Lumen" not in answer


def test_cap_and_daily_limit_hold(console, demo_pool):
    set_rules(demo_pool, max_open_leads=2, daily_claim_limit=3)
    say(console, "/as sam")
    say(console, "/claim 1")
    say(console, "/claim 2")
    assert "already hold 2 open leads" in say(console, "/claim 3")
    say(console, "/release 2")
    set_rules(demo_pool, reclaim_cooldown_days=0)
    say(console, "/claim 3")
    say(console, "/release 3")
    assert "claimed 3 leads today, the daily limit" in say(console, "/claim 4")
    with demo_pool.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(LeadClaim)) == 3


def test_cooldown_stops_the_previous_owner_only(console, demo_pool):
    say(console, "/as li")
    say(console, "/claim 6")
    assert "3 天内你不能再次领取" in say(console, "/release 6 没兴趣")
    assert "3 天冷却期内不能再次领取" in say(console, "/claim 6")
    say(console, "/as zhang")
    assert "已归你负责" in say(console, "/claim 6")


def test_release_asks_which_pool_when_the_rep_is_in_several(console, demo_pool):
    with demo_pool.uow() as uow:
        second = Pool(name="key accounts")
        uow.session.add(second)
        uow.session.flush()
        uow.session.add(PoolMember(pool_id=second.id, user_id=uow.session.scalar(
            select(User.id).where(User.handle == "sam"))))
        uow.commit()
    say(console, "/as sam")
    say(console, "/claim 5")
    out = say(console, "/release 5")
    assert "several pools" in out and "demo pool, key accounts" in out
    assert "key accounts" in say(console, "/release 5 wrong fit --pool key accounts")
    with demo_pool.uow() as uow:
        moved = uow.session.get(Lead, 5)
        assert moved.status == "unassigned" and moved.owner_id is None and moved.pool_id == second.id
        event = uow.session.scalars(select(LeadEvent).where(LeadEvent.kind == "release")).one()
        assert event.reason == "wrong fit" and event.from_owner_id is not None


def test_managers_and_pool_admins_assign_reps_do_not(console, demo_pool):
    say(console, "/as sam")
    assert "Only pool admins and managers" in say(console, "/assign 6 li")
    say(console, "/as mei")
    assert "已分配给 李雷 Li Lei" in say(console, "/assign 6 li")
    assert "当前状态是「待处理」" in say(console, "/assign 6 zhang")
    assert "没有用户 @nobody" in say(console, "/assign 5 nobody")
    with demo_pool.uow() as uow:
        dm = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).one()
        assert "分配给了你" in posted(dm).text


def test_assign_respects_the_receivers_cap(console, demo_pool):
    set_rules(demo_pool, max_open_leads=1)
    say(console, "/as mei")
    say(console, "/assign 6 li")
    assert "已持有 1 条未结线索" in say(console, "/assign 5 li")


def test_distribution_plan_is_weighted_by_room_and_never_exceeds_it():
    rng = random.Random(7)
    plan = distribution.plan({1: 10, 2: 5, 3: 0, 4: 5}, list(range(12)), rng)
    sizes = {rep: len(ids) for rep, ids in plan.items()}
    assert 3 not in sizes and sum(sizes.values()) == 12
    assert sizes[1] >= sizes[2] and sizes[1] >= sizes[4] and abs(sizes[2] - sizes[4]) <= 1
    # Equal reps: ties go either way at random, not always to the first one.
    firsts = {next(iter(distribution.plan({1: 3, 2: 3}, [99], random.Random(seed)))) for seed in range(20)}
    assert firsts == {1, 2}
    assert sum(len(v) for v in distribution.plan({1: 2}, list(range(5)), rng).values()) == 2


def test_auto_distribution_hands_new_leads_to_reps_with_room(demo_pool):
    set_rules(demo_pool, auto_distribute=True, max_open_leads=3)
    now = utcnow()
    with demo_pool.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id))
        result = distribution.distribute(uow, pool_id, now, random.Random(1))
        uow.commit()
    handed = {rep: len(ids) for rep, ids in result.assigned.items()}
    assert sum(handed.values()) == 6 and len(handed) == 3 and set(handed.values()) == {2}
    with demo_pool.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Lead).where(Lead.status == "pending")) == 6
        assert uow.session.scalar(select(func.count()).select_from(LeadEvent).where(LeadEvent.kind == "assign")) == 6


def test_claim_service_reports_unknown_lead(demo_pool):
    with demo_pool.uow() as uow:
        li = uow.session.scalar(select(User.id).where(User.handle == "li"))
        with pytest.raises(UserError) as error:
            claims.claim(uow, li, "#404", utcnow())
    assert error.value.template == "leads/unknown"


def test_membership_through_an_ancestor_unit_counts_for_claim_and_cap(db):
    """Company > region > team: a pool shared with the company reaches a rep of the team two levels
    down (pools_of, cap, room and claim agree); a pool shared with a sibling region does not."""
    with db.uow() as uow:
        units = {}
        for name, parent in (("Co", None), ("North", "Co"), ("Team A", "North"), ("South", "Co")):
            unit = OrgUnit(name=name, parent_id=units[parent].id if parent else None, path="/")
            uow.session.add(unit)
            uow.session.flush()
            unit.path = (units[parent].path if parent else "/") + f"{unit.id}/"
            units[name] = unit
        rep = User(handle="deep", name="Deep Rep", unit_id=units["Team A"].id)
        loner = User(handle="loner", name="Loner", unit_id=units["South"].id)
        company_pool = Pool(name="company pool", max_open_leads=2, daily_claim_limit=10, reclaim_cooldown_days=0)
        south_pool = Pool(name="south pool", max_open_leads=1)
        uow.session.add_all([rep, loner, company_pool, south_pool])
        uow.session.flush()
        uow.session.add_all([PoolMember(pool_id=company_pool.id, unit_id=units["Co"].id),
                             PoolMember(pool_id=south_pool.id, unit_id=units["South"].id)])
        company_leads = [Lead(company=f"C{i}", name_key=f"c{i}", pool_id=company_pool.id) for i in range(3)]
        south_lead = Lead(company="S", name_key="s", pool_id=south_pool.id)
        uow.session.add_all([*company_leads, south_lead])
        uow.commit()
        rep_id, loner_id, company_pool_id = rep.id, loner.id, company_pool.id
        company_ids, south_id = [lead.id for lead in company_leads], south_lead.id
    with db.uow() as uow:
        assert [p.id for p in ownership.pools_of(uow, rep_id)] == [company_pool_id]
        assert ownership.cap(uow, rep_id) == 2 and ownership.room(uow, rep_id) == 2
        # South's rep is in both (his region's pool and, through the company, the company's): the strictest cap.
        assert [p.id for p in ownership.pools_of(uow, loner_id)] == [company_pool_id, company_pool_id + 1]
        assert ownership.cap(uow, loner_id) == 1
    now = utcnow()
    for lead_id in company_ids[:2]:
        with db.uow() as uow:
            claimed = claims.claim(uow, rep_id, lead_id, now)
            uow.commit()
        assert claimed.cap == 2
    with db.uow() as uow:
        assert ownership.open_leads(uow, rep_id) == 2 and ownership.room(uow, rep_id) == 0
        with pytest.raises(UserError) as over:
            claims.claim(uow, rep_id, company_ids[2], now)
        assert over.value.template == "leads/over_cap" and over.value.params["cap"] == 2
    with db.uow() as uow:
        with pytest.raises(UserError) as outside:
            claims.claim(uow, rep_id, south_id, now)
        assert outside.value.template == "leads/unknown"  # a pool he is not in: out of reach, like not found

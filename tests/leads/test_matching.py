"""Matched auto-distribution on PostgreSQL: the weights on a hand-made history (hand-checked), the
pool admin's switch, and what a lead's history shows of the choice to whom."""
import html
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services.leads import distribution, matching
from db.base import utcnow
from db.models import Lead, LeadEvent, Pool, PoolMember, User
from db.models.audit import AuditEntry
from tests.conftest import say
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.platforms.telegram_harness import TOKEN, running_webhook
from tests.platforms.test_telegram import invitation_for

pytestmark = pytest.mark.pg_only

PROFILE = {"industry": "制造", "region": "华东", "source": "展会"}


def user_ids(db) -> dict[str, int]:
    with db.uow() as uow:
        return {handle: uid for handle, uid in uow.session.execute(select(User.handle, User.id))}


def received(uow, pool_id: int, rep: int, count: int, won: int, at, **profile: str) -> None:
    """`count` leads of the pool `rep` claimed at `at`, the first `won` of them converted by him."""
    for i in range(count):
        lead = Lead(company=f"History {rep}-{profile}-{i}", name_key=f"h{rep}{i}{sorted(profile.items())}",
                    pool_id=pool_id, owner_id=rep, status="converted" if i < won else "following",
                    claimed_at=at, created_at=at, **profile)
        uow.session.add(lead)
        uow.session.flush()
        uow.session.add(LeadEvent(lead_id=lead.id, at=at, actor_id=rep, kind="claim", from_status="unassigned",
                                  to_status="pending", to_owner_id=rep, pool_id=pool_id))


def hand_made_history(db) -> dict[str, int]:
    """li: 1 of 1 on 制造/华东/展会; zhang: 40 of 60 on 制造/华北/官网; sam: 9 of 39 on 零售/华东/官网.
    The pool: 50 of 100, so m = 51/102 = 0.5. Older than six months or in another pool: not counted."""
    ids = user_ids(db)
    now = utcnow()
    with db.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id).where(Pool.name == "demo pool"))
        other = Pool(name="other pool", created_at=now)
        uow.session.add(other)
        uow.session.flush()
        week_ago = now - timedelta(days=7)
        received(uow, pool_id, ids["li"], 1, 1, week_ago, **PROFILE)
        received(uow, pool_id, ids["zhang"], 60, 40, week_ago, industry="制造", region="华北", source="官网")
        received(uow, pool_id, ids["sam"], 39, 9, week_ago, industry="零售", region="华东", source="官网")
        received(uow, pool_id, ids["sam"], 30, 30, now - timedelta(days=200), **PROFILE)  # too old
        received(uow, other.id, ids["sam"], 30, 30, week_ago, **PROFILE)  # another pool
        uow.commit()
    return ids


def weights(db, ids, **profile) -> dict[str, matching.Weight]:
    lead = type("Profile", (), {"id": 0, **dict.fromkeys(matching.ATTRIBUTES), **profile})
    with db.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id).where(Pool.name == "demo pool"))
        reps = [ids[h] for h in ("li", "zhang", "sam", "mei")]
        history = matching.history(uow, pool_id, reps, [lead], utcnow())
    assert history.prior == pytest.approx(0.5)
    return {h: history.weight(ids[h], lead) for h in ("li", "zhang", "sam", "mei")}


def test_weights_are_smoothed_rates_averaged_over_industry_region_and_source(demo_pool):
    ids = hand_made_history(demo_pool)
    # Industry alone: 1 of 1 is (1 + 10·0.5)/(1 + 10) = 6/11; 40 of 60 is (40 + 5)/(60 + 10) = 45/70.
    alone = weights(demo_pool, ids, industry="制造")
    assert alone["li"].value == pytest.approx(6 / 11) and not alone["li"].prior
    assert alone["zhang"].value == pytest.approx(45 / 70)
    assert alone["zhang"].value > alone["li"].value  # 1 of 1 does not beat 40 of 60
    assert alone["sam"].value == pytest.approx(0.5) and alone["sam"].prior  # none of his kind in the window
    assert alone["mei"].value == pytest.approx(0.5) and alone["mei"].prior
    # All three: the mean of the three smoothed rates, each missing one at the prior.
    full = weights(demo_pool, ids, **PROFILE)
    assert full["li"].value == pytest.approx(6 / 11)
    assert full["zhang"].value == pytest.approx((45 / 70 + 0.5 + 0.5) / 3)  # 0.5476
    assert full["sam"].value == pytest.approx((0.5 + 14 / 49 + 0.5) / 3) and not full["sam"].prior  # 0.4286
    assert weights(demo_pool, ids)["li"].value == pytest.approx(0.5)  # a lead with none of the three


def new_lead(db, company: str, **profile: str) -> int:
    with db.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id).where(Pool.name == "demo pool"))
        lead = Lead(company=company, name_key=company.lower(), pool_id=pool_id,
                    created_at=utcnow() - timedelta(days=30), **profile)
        uow.session.add(lead)
        uow.commit()
        return lead.id


def pool_audits(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.record_type == "pool"))


def test_the_pool_admin_switches_to_matched_and_others_are_refused_in_their_language(console, demo_pool):
    before = pool_audits(demo_pool)
    say(console, "/as mei")  # the demo pool's admin, reads Chinese
    assert "distribution:plain → matched" in say(console, "/pool admin rules demo pool distribution=matched")
    assert pool_audits(demo_pool) == before + 1
    refused = say(console, "/pool admin rules demo pool distribution=smart")
    assert refused.startswith("distribution:") and "未做任何修改" in refused
    say(console, "/as li")  # a rep: for him the pool's admin side does not exist
    refused = say(console, "/pool admin rules demo pool distribution=plain")
    assert "你没有名为「demo pool」的公海" in refused  # reads exactly like an unknown pool
    assert refused == say(console, "/pool admin rules nosuch distribution=plain").replace("nosuch", "demo pool")
    say(console, "/as admin")
    listed = say(console, "/pool admin")
    assert "distribution = matched — how new leads are handed out" in listed
    with demo_pool.uow() as uow:
        assert uow.session.scalar(select(Pool.distribution).where(Pool.name == "demo pool")) == "matched"
    assert pool_audits(demo_pool) == before + 1


def matched_lead(db) -> tuple[dict[str, int], int, int]:
    """The hand-made history, a 制造/华东/展会 lead distributed in matched mode: ids, lead, receiver."""
    ids = hand_made_history(db)
    lead_id = new_lead(db, "Shanghai Gears", **PROFILE)
    with db.uow() as uow:
        uow.session.execute(Pool.__table__.update().where(Pool.name == "demo pool")
                            .values(auto_distribute=True, distribution="matched"))
        pool_id = uow.session.scalar(select(Pool.id).where(Pool.name == "demo pool"))
        result = distribution.distribute(uow, pool_id, utcnow(), random.Random(3))
        uow.commit()
    receiver = next(rep for rep, leads in result.assigned.items() if lead_id in leads)
    return ids, lead_id, receiver


def test_a_matched_lead_records_the_mode_and_every_candidates_weight(console, demo_pool):
    ids, lead_id, receiver = matched_lead(demo_pool)
    with demo_pool.uow() as uow:
        event = uow.session.scalar(select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "assign"))
        assert event.data["mode"] == "matched" and event.data["to"] == receiver == event.to_owner_id
        assert [rep for rep, _, _ in event.data["weights"]] == [ids["zhang"], ids["li"], ids["sam"]]
    history = say(console, f"/lead {lead_id}")
    assert ("auto-distribution, matched: 张伟 Zhang Wei 55%, 李雷 Li Lei 55%, Sam Carter 43%") in history
    # Plain mode says so, and names nobody.
    with demo_pool.uow() as uow:
        plain = uow.session.scalar(select(LeadEvent.lead_id).where(LeadEvent.kind == "assign",
                                                                   LeadEvent.lead_id != lead_id))
        uow.session.execute(LeadEvent.__table__.update().where(LeadEvent.lead_id == plain)
                            .values(data={"mode": "plain"}))
        uow.commit()
    assert "auto-distribution, plain\n" in say(console, f"/lead {plain}") + "\n"


def test_a_rep_sees_his_own_weight_and_others_only_counted_and_no_foreign_lead(console, demo_pool):
    ids, lead_id, receiver = matched_lead(demo_pool)
    handle = next(h for h, uid in ids.items() if uid == receiver)
    say(console, f"/as {handle}")
    history = say(console, f"/lead {lead_id}")
    line = next(line for line in history.splitlines() if "自动分配" in line or "auto-distribution" in line)
    assert ",另有 2 人" in line or "and 2 others" in line
    assert sum(name in line for name in ("Zhang Wei", "Li Lei", "Sam Carter")) == 1
    other = next(h for h in ("li", "zhang", "sam") if h != handle)
    say(console, f"/as {other}")
    missing = say(console, "/lead 99999")
    assert say(console, f"/lead {lead_id}") == missing.replace("99999", str(lead_id))


def test_plain_mode_is_unchanged_and_says_so(demo_pool):
    with demo_pool.uow() as uow:
        uow.session.execute(Pool.__table__.update().values(auto_distribute=True, max_open_leads=3))
        pool_id = uow.session.scalar(select(Pool.id))
        result = distribution.distribute(uow, pool_id, utcnow(), random.Random(1))
        uow.commit()
    assert sorted(len(leads) for leads in result.assigned.values()) == [2, 2, 2]
    with demo_pool.uow() as uow:
        notes = uow.session.scalars(select(LeadEvent.data).where(LeadEvent.kind == "assign")).all()
        assert notes == [{"mode": "plain"}] * 6
        assert uow.session.scalar(select(func.count()).select_from(PoolMember)) >= 1


async def test_the_history_line_through_telegram_in_english_and_chinese(db, demo_pool, router):
    _, lead_id, _ = matched_lead(demo_pool)
    api = await FakeTelegramAPI(token=TOKEN).start()
    try:
        async with running_webhook(db, router, api) as bot:
            for handle, chat in (("admin", 555), ("mei", 666)):
                await bot.say(f"/join {invitation_for(db, handle)}", chat_id=chat)
            english = html.unescape(await bot.say(f"/lead {lead_id}", chat_id=555))
            chinese = html.unescape(await bot.say(f"/lead {lead_id}", chat_id=666))
    finally:
        await api.close()
    assert "auto-distribution, matched: 张伟 Zhang Wei 55%, 李雷 Li Lei 55%, Sam Carter 43%" in english
    assert "自动分配(匹配):张伟 Zhang Wei 55%、李雷 Li Lei 55%、Sam Carter 43%" in chinese

"""Real parallel connections on PostgreSQL: claims, the cap and daily limit, the sweep racing a follow-up."""
import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.errors import UserError
from bot.services.leads import claims, lifecycle, returns
from db.base import utcnow
from db.models import Lead, LeadEvent, OrgUnit, Pool, PoolMember, User
from db.models.lead import LeadClaim, LeadFollowup

ROUNDS = 20


def parallel(actions):
    """Start every action at the same moment (a barrier), each in its own thread; collect results."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            results[index] = action()
        except UserError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def setup(db, reps=6, leads_count=1, **rules):
    with db.uow() as uow:
        unit = OrgUnit(name="Team", path="/")
        uow.session.add(unit)
        uow.session.flush()
        unit.path = f"/{unit.id}/"
        users = [User(handle=f"rep{i}", name=f"Rep {i}", unit_id=unit.id) for i in range(reps)]
        uow.session.add_all(users)
        the_pool = Pool(name="p", **rules)
        uow.session.add(the_pool)
        uow.session.flush()
        uow.session.add(PoolMember(pool_id=the_pool.id, unit_id=unit.id))
        lead_rows = [Lead(company=f"L{i}", name_key=f"l{i}", pool_id=the_pool.id) for i in range(leads_count)]
        uow.session.add_all(lead_rows)
        uow.commit()
        return [u.id for u in users], [lead.id for lead in lead_rows]


def claim_as(db, user_id, lead_id):
    def action():
        with db.uow() as uow:
            result = claims.claim(uow, user_id, lead_id, utcnow())
            uow.commit()
            return result
    return action


def reset(db):
    with db.uow() as uow:
        for model in (LeadFollowup, LeadClaim, LeadEvent):
            uow.session.query(model).delete()
        uow.session.execute(update(Lead).values(status="unassigned", owner_id=None, claimed_at=None,
                                                last_followup_at=None))
        uow.commit()


def test_many_reps_one_lead_exactly_one_owner_others_told_who(pg_db):
    reps, (lead_id,) = setup(pg_db, reps=8)
    for _ in range(ROUNDS):
        reset(pg_db)
        results = parallel([claim_as(pg_db, rep, lead_id) for rep in reps])
        winners = [r for r in results if isinstance(r, claims.Claimed)]
        losers = [r for r in results if isinstance(r, UserError)]
        assert len(winners) == 1 and len(losers) == len(reps) - 1
        with pg_db.uow() as uow:
            owner = uow.session.get(Lead, lead_id).owner_id
            owner_name = uow.session.get(User, owner).name
            assert uow.session.scalar(select(func.count()).select_from(LeadEvent)
                                      .where(LeadEvent.kind == "claim")) == 1
        assert all(e.template == "leads/taken" and e.params["owner"] == owner_name for e in losers)


def test_one_rep_many_leads_cap_and_daily_limit_hold_exactly(pg_db):
    (rep,), lead_ids = setup(pg_db, reps=1, leads_count=10, max_open_leads=4, daily_claim_limit=6)
    for _ in range(ROUNDS):
        reset(pg_db)
        results = parallel([claim_as(pg_db, rep, lead_id) for lead_id in lead_ids])
        assert sum(isinstance(r, claims.Claimed) for r in results) == 4
        assert {r.template for r in results if isinstance(r, UserError)} == {"leads/over_cap"}
        with pg_db.uow() as uow:
            assert uow.session.scalar(select(func.count()).select_from(Lead).where(Lead.owner_id == rep)) == 4
    # The daily limit: with a roomy cap, six claims a day and not one more.
    with pg_db.uow() as uow:
        uow.session.execute(update(Pool).values(max_open_leads=50))
        uow.commit()
    reset(pg_db)
    results = parallel([claim_as(pg_db, rep, lead_id) for lead_id in lead_ids])
    assert sum(isinstance(r, claims.Claimed) for r in results) == 6
    assert {r.template for r in results if isinstance(r, UserError)} == {"leads/daily_limit"}


def test_sweep_racing_a_follow_up_never_both_never_lost(pg_db):
    (rep,), (lead_id,) = setup(pg_db, reps=1, return_no_followup_days=7, return_no_deal_days=None)
    outcomes = set()
    for _ in range(ROUNDS):
        reset(pg_db)
        long_ago = utcnow() - timedelta(days=8)
        with pg_db.uow() as uow:
            uow.session.execute(update(Lead).values(status="pending", owner_id=rep, claimed_at=long_ago))
            uow.commit()

        def sweep():
            with pg_db.uow() as uow:
                result = returns.sweep(uow, utcnow())
                uow.commit()
                return result

        def follow():
            with pg_db.uow() as uow:
                result = lifecycle.follow(uow, rep, lead_id, "called", utcnow())
                uow.commit()
                return result

        swept, followed = parallel([sweep, follow])
        with pg_db.uow() as uow:
            lead = uow.session.get(Lead, lead_id)
            notes = uow.session.scalar(select(func.count()).select_from(LeadFollowup))
            return_events = uow.session.scalar(select(func.count()).select_from(LeadEvent).where(LeadEvent.kind == "return"))
        if isinstance(followed, lifecycle.Moved):
            assert swept.returned == 0 and return_events == 0
            assert lead.status == "following" and lead.owner_id == rep and notes == 1
            outcomes.add("followed")
        else:
            assert isinstance(followed, UserError) and followed.template == "leads/illegal"
            assert swept.returned == 1 and return_events == 1
            assert lead.status == "unassigned" and lead.owner_id is None and notes == 0
            outcomes.add("returned")
    assert outcomes  # every round ended in exactly one of the two states

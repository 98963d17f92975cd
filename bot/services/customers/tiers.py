"""Customer tiers A-E from the amount collected (回款, the payments recorded on the customer's deals
with /paid) over the last 12 months.

Each company (a top unit, with the customers whose owner is in its tree) is tiered on its own:
- With the company's thresholds (settings.py, `customers: tiers:` on the top unit): a customer is in
  the first tier whose least amount he reached; below D's, or nothing collected, he is E.
- Without (the default), quantiles among the company's customers who paid anything: ranked by amount, the
  top quarter A, then B, C, D (by percent rank, 0 the most and 1 the least: below 0.25, 0.5, 0.75,
  the rest); equal amounts share a tier; a customer who paid nothing in 12 months is E.

Recomputed nightly (bot.jobs.customers) in one set-based statement; only changed tiers are
written, each with an audit row. A manager may pin a tier by hand with a reason: the pin wins
until he unpins it (`auto`). A customer not computed yet (new since the last run) has no tier."""
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import aliased

from bot.errors import UserError
from bot.services.core import audit_log
from bot.services.core.text import visible
from bot.services.customers.settings import TIERS
from bot.services.leads.conversion import customer_id
from bot.services.manager import scope
from db.models import Customer, CustomerSettings, Deal, OrgUnit, Payment, Role, User
from db.session import UnitOfWork

QUANTILES = (0.25, 0.5, 0.75)  # percent rank below which a paying customer is A, B, C (else D)
MAX_REASON_CHARS = 200
AUTO_WORDS = ("auto",)


@dataclass(frozen=True)
class Recomputed:
    changed: int


@dataclass(frozen=True)
class TierView:
    customer_id: int
    name: str
    tier: str | None  # the one that applies: the pin, else the computed one
    computed: str | None
    pinned: str | None
    reason: str | None
    pinned_by: str | None
    pinned_at: datetime | None
    changed: bool = True  # False: unpinning a tier that was not pinned


def effective(customer: Customer) -> str | None:
    return customer.tier_pinned or customer.tier


def effective_column(table=Customer) -> ColumnElement:
    return func.coalesce(table.tier_pinned, table.tier)


def window_start(on: date) -> date:
    """The day before the 12 months that end with `on` (payments after it count)."""
    try:
        return on.replace(year=on.year - 1)
    except ValueError:  # 29 February
        return on.replace(year=on.year - 1, day=28)


def collected_query(on: date) -> Subquery:
    """Per customer, the amount collected in the 12 months up to `on`."""
    return (
        select(Deal.customer_id.label("customer_id"), func.sum(Payment.amount).label("amount"))
        .join(Deal, Deal.id == Payment.deal_id)
        .where(Payment.paid_on > window_start(on), Payment.paid_on <= on)
        .group_by(Deal.customer_id).subquery("collected")
    )


def collected(uow: UnitOfWork, customer_id_: int, on: date) -> Decimal:
    paid = collected_query(on)
    return uow.session.scalar(select(paid.c.amount).where(paid.c.customer_id == customer_id_)) or Decimal(0)


def _company_of_customers() -> Subquery:
    """Each owned customer's company: the top unit above his owner's unit."""
    owner, home, top = aliased(User), aliased(OrgUnit, name="home"), aliased(OrgUnit, name="top")
    return (
        select(Customer.id.label("customer_id"), top.id.label("company_id"))
        .join(owner, owner.id == Customer.owner_id).join(home, home.id == owner.unit_id)
        .join(top, and_(top.parent_id.is_(None), home.path.startswith(top.path))).subquery("company")
    )


def _ranked(on: date) -> Subquery:
    """Every active customer with his stored tier, amount collected, percent rank among his company's
    paying customers (None: paid nothing) and his company's thresholds (None: quantiles)."""
    paid, company, inner = collected_query(on), _company_of_customers(), aliased(Customer, name="c")
    amount = func.coalesce(paid.c.amount, 0)
    share = func.percent_rank().over(partition_by=(company.c.company_id, amount > 0), order_by=amount.desc())
    return (
        select(inner.id.label("id"), inner.owner_id.label("owner_id"), inner.tier.label("old"),
               amount.label("amount"), case((amount > 0, share)).label("share"),
               *[getattr(CustomerSettings, f"tier_{tier.lower()}_min").label(tier) for tier in TIERS[:4]])
        .outerjoin(paid, paid.c.customer_id == inner.id).outerjoin(company, company.c.customer_id == inner.id)
        .outerjoin(CustomerSettings, and_(CustomerSettings.unit_id == company.c.company_id,
                                          CustomerSettings.removed_at.is_(None)))
        .where(inner.status == "active").subquery("ranked")
    )


def _new_tiers(on: date) -> Subquery:
    """Every active customer's id, owner, stored tier and tier as of `on`."""
    ranked = _ranked(on)
    by_thresholds = case(*[(ranked.c.amount >= ranked.c[tier], literal(tier)) for tier in TIERS[:4]],
                         else_=literal("E"))
    by_quantiles = case((ranked.c.share.is_(None), literal("E")),
                        *[(ranked.c.share < bound, literal(tier)) for bound, tier in zip(QUANTILES, TIERS, strict=False)],
                        else_=literal("D"))
    tier = case((ranked.c.A.is_not(None), by_thresholds), else_=by_quantiles)
    return select(ranked.c.id, ranked.c.owner_id, ranked.c.old, tier.label("new")).subquery("tiers")


def recompute(uow: UnitOfWork, on: date, now: datetime) -> Recomputed:
    """Every active customer's computed tier as of `on`; the changed ones written and audited."""
    new = _new_tiers(on)
    changed = or_(new.c.old.is_(None), new.c.old != new.c.new)
    table = Customer.__table__
    write = update(table).where(table.c.id == new.c.id, changed).values(tier=new.c.new, tier_computed_at=now)
    if uow.session.get_bind().dialect.name == "postgresql":
        rows = uow.session.execute(write.returning(new.c.id, new.c.old, new.c.new, new.c.owner_id)).all()
    else:  # SQLite returns no column of the FROM: the same select first, in the one serialised transaction
        rows = uow.session.execute(select(new.c.id, new.c.old, new.c.new, new.c.owner_id).where(changed)).all()
        uow.session.execute(write)
    stamp = audit_log.plain(now)
    audit_log.write(uow.session, audit_log.bulk_rows(
        "customer", "update",
        [(row_id, {"tier": old, "tier_computed_at": None}, {"tier": tier, "tier_computed_at": stamp}, owner)
         for row_id, old, tier, owner in rows], now))
    return Recomputed(len(rows))


# --- pinning by hand -------------------------------------------------------------------------------

def pin(uow: UnitOfWork, actor_id: int, raw_id: str | int, letter: str, reason: str | None,
        now: datetime) -> TierView:
    """A manager pins the customer's tier with a reason. Out of his scope reads as not found."""
    customer = _customer_to_pin(uow, actor_id, raw_id, now.date())
    tier = unicodedata.normalize("NFKC", letter).strip().upper()
    if tier not in TIERS:
        raise UserError("customers/bad_tier", value=letter[:20], tiers=", ".join(TIERS))
    reason = visible(reason or "").strip()
    if not reason:
        raise UserError("customers/tier_reason_needed", customer_id=customer.id)
    if len(reason) > MAX_REASON_CHARS:
        raise UserError("customers/tier_reason_too_long", limit=MAX_REASON_CHARS)
    customer.tier_pinned, customer.tier_pin_reason = tier, reason
    customer.tier_pinned_by_id, customer.tier_pinned_at = actor_id, now
    uow.session.flush()
    return view(uow, customer)


def unpin(uow: UnitOfWork, actor_id: int, raw_id: str | int, now: datetime) -> TierView:
    """Back to the computed tier; nothing written when no tier was pinned."""
    customer = _customer_to_pin(uow, actor_id, raw_id, now.date())
    if customer.tier_pinned is None:
        return view(uow, customer, changed=False)
    customer.tier_pinned = customer.tier_pin_reason = customer.tier_pinned_by_id = customer.tier_pinned_at = None
    uow.session.flush()
    return view(uow, customer)


def view(uow: UnitOfWork, customer: Customer, changed: bool = True) -> TierView:
    by = uow.session.get(User, customer.tier_pinned_by_id) if customer.tier_pinned_by_id else None
    return TierView(customer.id, customer.name, effective(customer), customer.tier, customer.tier_pinned,
                    customer.tier_pin_reason, by.name if by else None, customer.tier_pinned_at, changed)


def _customer_to_pin(uow: UnitOfWork, actor_id: int, raw_id: str | int, today: date) -> Customer:
    cid = customer_id(raw_id)
    customer = uow.session.get(Customer, cid)
    if customer is None or customer.status != "active":
        raise scope.not_found("customer", cid)
    scope.require(uow, scope.of(uow, actor_id, today), "customer", customer.id, customer.owner_id, write=True)
    actor = uow.session.get(User, actor_id)
    if actor is None or actor.role not in (Role.MANAGER, Role.ADMIN):
        raise UserError("customers/pin_managers_only")
    return customer


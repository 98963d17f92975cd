"""Deals (商机): create, move through stages, win, lose, record payments (回款).

Works on any Deal row (the leads capability creates them on conversion too). Every read and
write goes through the caller's data scope. A won or lost deal is closed: it cannot be won again.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from bot.errors import UserError
from bot.i18n import label
from bot.services.core import paging
from bot.services.deals import announcement_rules, announcements
from bot.services.manager import scope
from db.models import Customer, Deal, Stage, User
from db.models.deal import LoseReason, Payment
from db.session import UnitOfWork

OPEN_STAGES = (Stage.INITIAL, Stage.INTENT, Stage.NEGOTIATION)
STAGE_WORDS = {
    "initial": Stage.INITIAL, "contact": Stage.INITIAL, "初步沟通": Stage.INITIAL,
    "intent": Stage.INTENT, "确定意向": Stage.INTENT,
    "negotiation": Stage.NEGOTIATION, "商务洽谈": Stage.NEGOTIATION,
}
LIST_STAGES = ("open", "initial", "intent", "negotiation", "won", "lost", "all")
BUILTIN_LOSE_REASONS = ("price", "competitor", "budget", "timing", "no_decision", "no_response", "other")
MAX_AMOUNT = Decimal("1e12")
LIST_LIMIT = paging.PAGE_SIZE


@dataclass(frozen=True)
class DealView:
    id: int
    name: str
    customer: str
    owner: str
    stage: str
    amount: Decimal
    currency: str
    collected: Decimal
    won_at: datetime | None
    lost_reason: str | None
    payments: tuple[tuple[date, Decimal], ...] = ()


@dataclass(frozen=True)
class WinResult:
    deal: DealView
    announced: int
    milestones: tuple[str, ...]
    announce_on: str


@dataclass(frozen=True)
class PaymentResult:
    deal: DealView
    amount: Decimal
    paid_on: date
    announced: int
    over: bool


# ---- lookups ------------------------------------------------------------------------------

def parse_deal_id(ref: str) -> int:
    match = re.fullmatch(r"#?(\d{1,9})", ref.strip())
    if not match:
        raise UserError("deals/bad_id", value=ref[:30])
    return int(match[1])


def _today(uow: UnitOfWork, user_id: int, now: datetime) -> date:
    user = uow.session.get(User, user_id)
    assert user is not None
    return now.astimezone(ZoneInfo(user.timezone)).date()


def load(uow: UnitOfWork, user_id: int, ref: str, now: datetime, write: bool = False) -> Deal:
    """The deal if the caller may see it (or change it, with write); locked for update when writing."""
    deal_id = parse_deal_id(ref)
    query = select(Deal).where(Deal.id == deal_id)
    if write:
        query = query.with_for_update()
    deal = uow.session.scalar(query)
    if deal is None:
        raise scope.not_found("deal", deal_id)
    visible = scope.of(uow, user_id, _today(uow, user_id, now))
    scope.require(uow, visible, "deal", deal.id, deal.owner_id, write=write)
    return deal


def find_customer(uow: UnitOfWork, user_id: int, ref: str, now: datetime) -> Customer:
    """By id ("c12" or "12") or by a name fragment that matches exactly one visible customer."""
    visible = scope.of(uow, user_id, _today(uow, user_id, now))
    allowed = scope.owned_filter(visible, Customer.owner_id, "customer", Customer.id)
    base = select(Customer).where(Customer.status != "voided", allowed)
    if match := re.fullmatch(r"[cC#]?(\d{1,9})", ref.strip()):
        customer = uow.session.scalar(base.where(Customer.id == int(match[1])))
        if customer is None:
            raise UserError("deals/unknown_customer", name=ref[:60])
        return customer
    fragment = ref.strip().lower()
    found = list(uow.session.scalars(base.where(func.lower(Customer.name).contains(fragment)).limit(6)))
    exact = [c for c in found if c.name.lower() == fragment]
    if len(exact) == 1:
        return exact[0]
    if not found:
        raise UserError("deals/unknown_customer", name=ref[:60])
    if len(found) > 1:
        raise UserError("deals/ambiguous_customer", name=ref[:60],
                        candidates=[f"c{c.id} {c.name}" for c in found[:5]])
    return found[0]


def view(uow: UnitOfWork, deal: Deal, with_payments: bool = False) -> DealView:
    customer = uow.session.get(Customer, deal.customer_id)
    owner = uow.session.get(User, deal.owner_id)
    payments: tuple[tuple[date, Decimal], ...] = ()
    if with_payments:
        payments = tuple(
            (p.paid_on, Decimal(p.amount)) for p in uow.session.scalars(
                select(Payment).where(Payment.deal_id == deal.id).order_by(Payment.paid_on, Payment.id)
            )
        )
    return DealView(
        deal.id, deal.name, customer.name if customer else "?", owner.name if owner else "?", deal.stage,
        Decimal(deal.amount), deal.currency, Decimal(deal.collected_amount or 0), deal.won_at, deal.lost_reason,
        payments,
    )


def _check_amount(value: Decimal, allow_zero: bool = False) -> Decimal:
    if value < 0 or (value == 0 and not allow_zero):
        raise UserError("deals/bad_amount", value=str(value)[:30])
    if value > MAX_AMOUNT:
        raise UserError("deals/absurd_amount", value=str(value)[:30])
    return value.quantize(Decimal("0.01"))


def _check_currency(deal: Deal, currency: str | None) -> None:
    if currency and currency.upper() != deal.currency.upper():
        raise UserError("deals/currency_mismatch", given=currency.upper()[:3], expected=deal.currency)


def _require_open(deal: Deal) -> None:
    if deal.stage == Stage.WON:
        raise UserError("deals/already_won", deal_id=deal.id)
    if deal.stage == Stage.LOST:
        raise UserError("deals/already_lost", deal_id=deal.id)


@dataclass(frozen=True)
class DealList:
    deals: list[DealView]
    page: paging.Page


# ---- commands -----------------------------------------------------------------------------

def list_deals(uow: UnitOfWork, user_id: int, stage: str | None, now: datetime, page_no: int | None = None) -> DealList:
    page_no = paging.number(page_no)
    stage = (stage or "open").lower()
    if stage not in LIST_STAGES:
        raise UserError("deals/bad_stage", value=stage[:30], stages=", ".join(LIST_STAGES))
    visible = scope.of(uow, user_id, _today(uow, user_id, now))
    query = select(Deal).where(scope.owned_filter(visible, Deal.owner_id, "deal", Deal.id))
    if stage == "open":
        query = query.where(Deal.stage.in_(OPEN_STAGES))
    elif stage != "all":
        query = query.where(Deal.stage == stage)
    open_first = case((Deal.stage.in_(OPEN_STAGES), 0), else_=1)
    deals = list(uow.session.scalars(query.order_by(open_first, Deal.updated_at.desc(), Deal.id.desc())
                                     .offset(paging.offset(page_no)).limit(LIST_LIMIT + 1)))
    return DealList([view(uow, d) for d in deals[:LIST_LIMIT]], paging.of_probe(page_no, len(deals)))


def show(uow: UnitOfWork, user_id: int, ref: str, now: datetime) -> DealView:
    return view(uow, load(uow, user_id, ref, now), with_payments=True)


def create(uow: UnitOfWork, user_id: int, customer_ref: str, amount: Decimal, name: str | None,
           currency: str | None, now: datetime) -> DealView:
    customer = find_customer(uow, user_id, customer_ref, now)
    amount = _check_amount(amount, allow_zero=True)
    code = (currency or "CNY").upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise UserError("deals/bad_currency", value=code[:10])
    deal = Deal(
        name=(name or customer.name)[:300], customer_id=customer.id, owner_id=user_id, stage=Stage.INITIAL,
        amount=amount, currency=code, created_by_id=user_id, created_at=now, updated_at=now,
        collected_amount=Decimal(0),
    )
    uow.session.add(deal)
    uow.session.flush()
    return view(uow, deal)


def set_stage(uow: UnitOfWork, user_id: int, ref: str, stage_word: str, now: datetime) -> DealView:
    stage = STAGE_WORDS.get(stage_word.strip().lower())
    if stage is None:
        raise UserError("deals/bad_stage", value=stage_word[:30], stages="initial, intent, negotiation")
    deal = load(uow, user_id, ref, now, write=True)
    _require_open(deal)
    deal.stage = stage
    deal.updated_at = now
    return view(uow, deal)


def win(uow: UnitOfWork, user_id: int, ref: str, amount: Decimal | None, currency: str | None,
        now: datetime) -> WinResult:
    deal = load(uow, user_id, ref, now, write=True)
    _require_open(deal)
    _check_currency(deal, currency)
    if amount is not None:
        deal.amount = _check_amount(amount)
    elif Decimal(deal.amount or 0) <= 0:
        raise UserError("deals/win_needs_amount", deal_id=deal.id)
    rep = uow.session.get(User, deal.owner_id)
    assert rep is not None
    rules = announcement_rules.unit_rules(uow, rep.unit_id)
    before = announcements.rules_and_progress(uow, rep, "won_amount", now)
    deal.stage = Stage.WON
    deal.won_at = now
    deal.updated_at = now
    uow.session.flush()
    announced, milestones = 0, []
    if rules.announce_on == "won":
        progress = announcements.rules_and_progress(uow, rep, "won_amount", now)
        zone = ZoneInfo(rep.timezone)
        milestones = announcements.win_milestones(
            uow, deal, rep, zone, now.astimezone(zone).date(), before.actual if before else None, progress
        )
        event = announcements.Event("win", f"win:{deal.id}", deal, Decimal(deal.amount), milestones, progress)
        announced = announcements.announce(uow, event, rules, now)
    return WinResult(view(uow, deal), announced, tuple(milestones), rules.announce_on)


def lose_reasons(uow: UnitOfWork, locale: str) -> list[tuple[str, str]]:
    """(code, name) of the configured reasons; the built-in list when none are configured."""
    rows = uow.session.scalars(select(LoseReason).where(LoseReason.active.is_(True)).order_by(LoseReason.id)).all()
    if rows:
        return [(r.code, r.name) for r in rows]
    return [(code, label(f"lose_{code}", locale)) for code in BUILTIN_LOSE_REASONS]


def lose(uow: UnitOfWork, user_id: int, ref: str, reason_text: str, locale: str, now: datetime) -> DealView:
    deal = load(uow, user_id, ref, now, write=True)
    _require_open(deal)
    reasons = lose_reasons(uow, locale)
    first, _, rest = reason_text.strip().partition(" ")
    chosen = None
    for code, name in reasons:
        if reason_text.strip().lower() in (code, name.lower()):
            chosen, rest = code, ""
            break
        if first.lower() in (code, name.lower()):
            chosen = code
            break
    if chosen is None:
        raise UserError("deals/bad_reason", reasons=[f"{code} ({name})" for code, name in reasons])
    deal.stage = Stage.LOST
    deal.lost_at = now
    deal.lost_reason = f"{chosen}: {rest.strip()}"[:1000] if rest.strip() else chosen
    deal.updated_at = now
    return view(uow, deal)


def pay(uow: UnitOfWork, user_id: int, ref: str, amount: Decimal, paid_on: date | None, currency: str | None,
        confirm: bool, now: datetime) -> PaymentResult:
    deal = load(uow, user_id, ref, now, write=True)
    if deal.stage == Stage.LOST:
        raise UserError("deals/pay_lost", deal_id=deal.id)
    _check_currency(deal, currency)
    amount = _check_amount(amount)
    today = _today(uow, user_id, now)
    paid_on = paid_on or today
    if paid_on > today:
        raise UserError("deals/future_payment", day=paid_on)
    collected = Decimal(deal.collected_amount or 0)
    over = collected + amount > Decimal(deal.amount)
    if over and not confirm:
        raise UserError("deals/overpayment", deal_id=deal.id, amount=amount, collected=collected,
                        total=Decimal(deal.amount), currency=deal.currency, raw_amount=str(amount))
    rep = uow.session.get(User, deal.owner_id)
    assert rep is not None
    rules = announcement_rules.unit_rules(uow, rep.unit_id)
    before = announcements.rules_and_progress(uow, rep, "collected", now)
    payment = Payment(deal_id=deal.id, amount=amount, currency=deal.currency, paid_on=paid_on,
                      owner_id=deal.owner_id, recorded_by_id=user_id, created_at=now)
    uow.session.add(payment)
    deal.collected_amount = collected + amount
    deal.updated_at = now
    uow.session.flush()
    announced = 0
    if rules.announce_on == "collected":
        progress = announcements.rules_and_progress(uow, rep, "collected", now)
        milestones = announcements.payment_milestones(uow, payment, before.actual if before else None, progress)
        event = announcements.Event("payment", f"payment:{payment.id}", deal, amount, milestones, progress)
        announced = announcements.announce(uow, event, rules, now)
    return PaymentResult(view(uow, deal), amount, paid_on, announced, over)

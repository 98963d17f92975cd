"""What a visit is to: a customer or a lead the rep may see, named as `c12`, `l7`, `#12` or a fragment
of its name that matches exactly one of them."""
import re
from dataclasses import dataclass

from sqlalchemy import Select, func, select

from bot.errors import UserError
from bot.services.manager import scope
from bot.services.visits.location_checks import TRUSTED
from db.models import Customer, Lead, LeadStatus, Visit
from db.session import UnitOfWork

MAX_MATCHES = 8
_ID = re.compile(r"^(?:(?P<kind>[cl])|#)?(?P<id>\d{1,12})$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    kind: str  # customer | lead
    id: int
    name: str
    location: tuple[float, float] | None
    trust: str | None = None  # trusted | tentative | None (no place): bot.services.visits.places

    @property
    def ref(self) -> str:
        return f"{self.kind[0]}{self.id}"

    @property
    def trusted_location(self) -> tuple[float, float] | None:
        """Its place when trusted: a tentative one may be the rep's own doing and judges nothing."""
        return self.location if self.trust == TRUSTED else None


def _customers_in(visible: scope.Scope) -> Select:
    return select(Customer).where(
        scope.owned_filter(visible, Customer.owner_id, "customer", Customer.id), Customer.status != "voided"
    )


def _leads_in(visible: scope.Scope) -> Select:
    return select(Lead).where(
        scope.owned_filter(visible, Lead.owner_id, "lead", Lead.id), Lead.status != LeadStatus.VOIDED
    )


def as_target(record: Customer | Lead) -> Target:
    location = (record.latitude, record.longitude) if record.latitude is not None else None
    if isinstance(record, Customer):
        return Target("customer", record.id, record.name, location, record.location_trust)
    return Target("lead", record.id, record.company, location, record.location_trust)


def resolve_target(uow: UnitOfWork, visible: scope.Scope, text: str, customers_only: bool = False) -> Target:
    """`c12`, `l7`, `#12` or a name fragment matching exactly one customer or lead the user may see."""
    text = text.strip()
    found: list[Customer | Lead] = []
    by_id = _ID.match(text)
    if by_id:
        number, kind = int(by_id["id"]), (by_id["kind"] or "").lower()
        if kind in ("", "c"):
            found += uow.session.scalars(_customers_in(visible).where(Customer.id == number)).all()
        if kind in ("", "l") and not customers_only and not (kind == "" and found):
            found += uow.session.scalars(_leads_in(visible).where(Lead.id == number)).all()
    else:
        fragment = text.lower()
        found += uow.session.scalars(
            _customers_in(visible).where(func.lower(Customer.name).contains(fragment, autoescape=True))
            .order_by(Customer.id).limit(MAX_MATCHES + 1)
        ).all()
        if not customers_only:
            found += uow.session.scalars(
                _leads_in(visible).where(
                    func.lower(Lead.company).contains(fragment, autoescape=True), Lead.customer_id.is_(None)
                ).order_by(Lead.id).limit(MAX_MATCHES + 1)
            ).all()
    if not found:
        raise UserError("visits/target_not_found", text=text[:60])
    if len(found) > 1:
        matches = [as_target(r) for r in found[:MAX_MATCHES]]
        raise UserError("visits/target_ambiguous", text=text[:60], matches=matches, more=len(found) > MAX_MATCHES)
    return as_target(found[0])


def target_of(uow: UnitOfWork, visit: Visit) -> Customer | Lead | None:
    if visit.customer_id is not None:
        return uow.session.get(Customer, visit.customer_id)
    if visit.lead_id is not None:
        return uow.session.get(Lead, visit.lead_id)
    return None


def visit_target(uow: UnitOfWork, visit: Visit) -> Target | None:
    record = target_of(uow, visit)
    return as_target(record) if record is not None else None


def target_name(record: Customer | Lead | None) -> str | None:
    if record is None:
        return None
    return record.name if isinstance(record, Customer) else record.company

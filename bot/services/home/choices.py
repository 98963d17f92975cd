"""What a form lets a person pick from (a Slack modal's menus): his own open leads, his active customers,
his open deals.

Only his own records: the command the form runs checks again, with the same scope as the typed line.
More than Slack's 100 options: no list (None), the form asks for the number instead.
"""
from dataclasses import dataclass

from sqlalchemy import select

from bot.services.core import identity
from bot.services.deals.deals import OPEN_STAGES
from db.models import Customer, Deal, Lead
from db.models.lead import OPEN_LEAD_STATUSES
from db.session import UnitOfWork

MOST = 100  # Slack's options in one menu


@dataclass(frozen=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True)
class FormStart:
    """What a form opens with: the person's language and the lists it offers (None: too many to list)."""

    locale: str | None  # None: not linked
    leads: list[Choice] | None = None
    deals: list[Choice] | None = None
    customers: list[Choice] | None = None


def _listed(rows: list) -> list[Choice] | None:
    return [Choice(r.id, r.name) for r in rows] if len(rows) <= MOST else None


def form_start(uow: UnitOfWork, platform: str, workspace: str, account: str) -> FormStart:
    user = identity.resolve_user(uow, platform, workspace, account)
    if user is None or not user.active:
        return FormStart(None)
    leads = uow.session.execute(
        select(Lead.id, Lead.company.label("name")).where(Lead.owner_id == user.id, Lead.status.in_(OPEN_LEAD_STATUSES))
        .order_by(Lead.updated_at.desc(), Lead.id.desc()).limit(MOST + 1)).all()
    deals = uow.session.execute(
        select(Deal.id, Deal.name).where(Deal.owner_id == user.id, Deal.stage.in_(OPEN_STAGES))
        .order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(MOST + 1)).all()
    customers = uow.session.execute(
        select(Customer.id, Customer.name).where(Customer.owner_id == user.id, Customer.status == "active")
        .order_by(Customer.created_at.desc(), Customer.id.desc()).limit(MOST + 1)).all()
    return FormStart(user.locale, _listed(list(leads)), _listed(list(deals)), _listed(list(customers)))

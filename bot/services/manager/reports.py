"""Reports for managers: /report [day|week|month] [unit] and the weekly push to every manager.

The figures of a period (visits verified/flagged, follow-ups, deals won and amount) beside the team
view's standing figures (pipeline, leads close to return, target pace), with a chart image.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select

from bot.services.manager import scope, team
from db.models import LeadEvent, OrgUnit, User, Visit
from db.models.deal import Deal, Stage
from db.session import UnitOfWork

PERIODS = ("day", "week", "month")


@dataclass
class ReportRow:
    name: str
    kind: str
    visits_verified: int = 0
    visits_flagged: int = 0
    followups: int = 0
    won_deals: int = 0
    won_amount: Decimal = Decimal("0")
    pipeline_amount: Decimal = Decimal("0")
    leads_open: int = 0
    leads_due: int = 0
    achievement: float | None = None


@dataclass
class Report:
    unit_name: str
    period: team.Period
    rows: list[ReportRow]
    totals: ReportRow
    pace: float


def build(uow: UnitOfWork, viewer_id: int, period_name: str, unit_name: str | None, now: datetime
          ) -> tuple[Report, team.TeamView]:
    """The report of a period, and the team's standing now (what its chart draws)."""
    viewer = uow.session.get(User, viewer_id)
    assert viewer is not None
    visible = scope.of(uow, viewer_id, team.local_today(now, viewer.timezone))
    unit = team.resolve_unit(uow, visible, unit_name)
    return compute(uow, visible, unit, period_name, now, viewer.timezone)


def compute(uow, visible: scope.Scope, unit: OrgUnit, period_name: str, now: datetime, zone: str
            ) -> tuple[Report, team.TeamView]:
    period = team.period_of(period_name, now, zone)
    view = team.compute(uow, visible, unit, now, zone)
    who = team.population(uow, visible, unit)
    rows = {r.key: ReportRow(r.name, r.kind, pipeline_amount=r.pipeline_amount, leads_open=r.leads_open,
                             leads_due=r.leads_due, achievement=r.achievement) for r in view.rows}

    def row_of(user_id):
        entry = who.get(user_id)
        return rows.get(entry[0]) if entry else None

    people = lambda column: team._people_filter(visible, unit, column)  # noqa: E731
    in_period = lambda column: and_(column >= period.start, column < period.end)  # noqa: E731
    visits = select(
        Visit.user_id, func.sum(case((Visit.counts.is_(True), 1), else_=0)),
        func.sum(case((Visit.verdict == "flagged", 1), else_=0)),
    ).where(Visit.kind == "visit", people(Visit.user_id), in_period(Visit.started_at)).group_by(Visit.user_id)
    for user_id, good, bad in uow.session.execute(visits):
        if (row := row_of(user_id)) is not None:
            row.visits_verified += int(good or 0)
            row.visits_flagged += int(bad or 0)
    follows = select(LeadEvent.actor_id, func.count()).where(
        LeadEvent.kind == "follow", people(LeadEvent.actor_id), in_period(LeadEvent.at)
    ).group_by(LeadEvent.actor_id)
    for user_id, count in uow.session.execute(follows):
        if (row := row_of(user_id)) is not None:
            row.followups += count
    wins = select(Deal.owner_id, func.count(), func.coalesce(func.sum(Deal.amount), 0)).where(
        Deal.stage == Stage.WON, people(Deal.owner_id), in_period(Deal.won_at)
    ).group_by(Deal.owner_id)
    for user_id, count, amount in uow.session.execute(wins):
        if (row := row_of(user_id)) is not None:
            row.won_deals += count
            row.won_amount += Decimal(amount)
    ordered = sorted(rows.values(), key=lambda r: (-r.won_amount, -r.visits_verified, r.name))
    totals = _totals(ordered, view.totals)
    return Report(unit.name, period, ordered, totals, view.month_pace), view


def _totals(rows: list[ReportRow], standing: team.Row) -> ReportRow:
    total = ReportRow("", "total", pipeline_amount=standing.pipeline_amount, leads_open=standing.leads_open,
                      leads_due=standing.leads_due, achievement=standing.achievement)
    for row in rows:
        total.visits_verified += row.visits_verified
        total.visits_flagged += row.visits_flagged
        total.followups += row.followups
        total.won_deals += row.won_deals
        total.won_amount += row.won_amount
    return total


def previous_week(now: datetime) -> datetime:
    """A moment inside last week, for the Monday push about the week that just ended."""
    return now - timedelta(days=7)

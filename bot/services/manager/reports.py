"""Reports for managers: /report [day|week|month] [unit] and the weekly push to every manager.

The figures of a period (visits verified/flagged, follow-ups, deals won and amount) beside the team
view's standing figures (pipeline, leads close to return, target pace), with a chart image.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select

from bot.i18n import label
from bot.services.manager import charts, scope, team
from db.models import LeadEvent, OrgUnit, User, Visit
from db.models.crm import Opportunity, Stage
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
    chart_png: bytes | None


def build(uow: UnitOfWork, viewer_id: int, period_name: str, unit_name: str | None, now: datetime,
          locale: str, with_chart: bool = True) -> Report:
    viewer = uow.session.get(User, viewer_id)
    assert viewer is not None
    visible = scope.of(uow, viewer_id, team.local_today(now, viewer.timezone))
    unit = team.resolve_unit(uow, visible, unit_name)
    return compute(uow, visible, unit, period_name, now, viewer.timezone, locale, with_chart)


def compute(uow, visible: scope.Scope, unit: OrgUnit, period_name: str, now: datetime, zone: str,
            locale: str, with_chart: bool = True) -> Report:
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
    wins = select(Opportunity.owner_id, func.count(), func.coalesce(func.sum(Opportunity.amount), 0)).where(
        Opportunity.stage == Stage.WON, people(Opportunity.owner_id), in_period(Opportunity.won_at)
    ).group_by(Opportunity.owner_id)
    for user_id, count, amount in uow.session.execute(wins):
        if (row := row_of(user_id)) is not None:
            row.won_deals += count
            row.won_amount += Decimal(amount)
    ordered = sorted(rows.values(), key=lambda r: (-r.won_amount, -r.visits_verified, r.name))
    totals = _totals(ordered, view.totals)
    chart = chart_for(view, locale) if with_chart and ordered else None
    return Report(unit.name, period, ordered, totals, view.month_pace, chart)


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


def chart_for(view: team.TeamView, locale: str) -> bytes | None:
    """Visits this week per rep, pipeline by stage, target pace; None if drawing fails (never fatal)."""
    chart_locale = locale if charts.shows_chinese() else "en"
    words = lambda key: label(key, chart_locale)  # noqa: E731
    weekdays = [words(f"manager_weekday_{i}") for i in range(7)]
    panels = [charts.visits_week(words("manager_chart_visits"), weekdays,
                                 [(r.name, r.visits_by_day) for r in view.rows], chart_locale)]
    stages = [(words(f"manager_stage_{s}"), *view.totals.stages.get(s, (0, Decimal("0")))) for s in team.OPEN_STAGES]
    panels.append(charts.pipeline(words("manager_chart_pipeline"), stages, chart_locale))
    with_targets = [(r.name, r.achievement or 0.0) for r in view.rows if r.target]
    if with_targets:
        panels.append(charts.target_pace(words("manager_chart_pace"), view.month_pace, with_targets, chart_locale))
    try:
        return charts.render(panels)
    except Exception:  # a chart is a bonus: the numbers still go out in text
        import logging

        logging.getLogger(__name__).exception("chart rendering failed")
        return None


def previous_week(now: datetime) -> datetime:
    """A moment inside last week, for the Monday push about the week that just ended."""
    return now - timedelta(days=7)

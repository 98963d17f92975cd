"""What the spoof checks read beyond the position itself (spoof_checks.Evidence), gathered from the
rep's own history: the accuracies of his last pinned positions, his earlier positions and live
trails near this one, the live trail this update extends. Only the rep's own history counts: two
reps at one office point are not a replay of each other.

The accuracies and the earlier positions ride in the location step's one statement
(shared_location.lookup), each aggregated into one value of a one-row derived table (`History`).
Every read is bounded: the last few fixes by ix_visits_user_taken; earlier positions within a small
box around this one (ix_visits_user_coordinates) and replay_days back; earlier trails within the same box,
by the rep's trail points (ix_visit_trail_message leads with user_id).
"""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, ColumnElement, Float, Select, Subquery, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.services.core import geo
from bot.services.visits.location_checks import Fix, PreviousFix, Thresholds
from bot.services.visits.spoof_checks import EarlierFix, TrailPoint
from db.models import Visit, VisitTrailPoint
from db.session import UnitOfWork

# Earlier positions are looked for within this many metres: a replay lies within a fraction of the
# accuracy (5 % of at most a few hundred metres), so this box holds every candidate with room to spare.
NEAR_M = 50.0
# The accuracies the repeated-accuracy check needs: the fix itself and this many before it at most.
ACCURACY_HISTORY = 20


@dataclass(frozen=True)
class History:
    """The rep's own history a position is judged against, as the location step's statement read it."""

    accuracies: tuple[float | None, ...] = ()  # of his last pinned positions before this one, newest first
    fixes: tuple[tuple[int, EarlierFix], ...] = ()  # (visit id, position) near this one, replay_days back

    def earlier_fixes(self, visit_id: int | None = None) -> tuple[EarlierFix, ...]:
        """His positions at visits and check-ins other than `visit_id` (all of them: None)."""
        return tuple(fix for visit, fix in self.fixes if visit != visit_id)


class json_rows(FunctionElement):  # noqa: N801 (an SQL function, named like one)
    """An aggregate: one JSON array holding an array per row of the given columns, so that rows ride
    in one value of a one-row derived table. Floats keep every digit on both databases (SQLite's
    JSON writes 15 significant digits; there each float goes through a 17-digit literal)."""

    type = JSON()
    inherit_cache = True


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler, **kw) -> str:  # noqa: ANN001
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element: json_rows, compiler, **kw) -> str:  # noqa: ANN001
    items = []
    for column in element.clauses:
        sql = compiler.process(column, **kw)
        if isinstance(column.type, Float):  # printf turns NULL into 0.0: keep it NULL
            sql = f"CASE WHEN {sql} IS NULL THEN NULL ELSE json(printf('%!.17g', {sql})) END"
        items.append(sql)
    return f"json_group_array(json_array({', '.join(items)}))"


class days_before(FunctionElement):  # noqa: N801
    """`moment` minus a number of days that is itself a column (a unit's threshold)."""

    type = Visit.taken_at.type
    inherit_cache = True


@compiles(days_before, "postgresql")
def _days_before_postgresql(element: days_before, compiler, **kw) -> str:  # noqa: ANN001
    moment, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"({moment} - make_interval(days => {days}))"


@compiles(days_before, "sqlite")
def _days_before_sqlite(element: days_before, compiler, **kw) -> str:  # noqa: ANN001
    # To the second: a moment up to a second earlier, so the read holds every row the checks keep.
    moment, days = (compiler.process(c, **kw) for c in element.clauses)
    return f"datetime({moment}, '-' || ({days}) || ' days')"


def previous_fix_query(user_id, before) -> Select:
    """The rep's last position before `before`: an index-only scan of ix_visits_user_taken_cover."""
    return (select(Visit.latitude, Visit.longitude, Visit.taken_at)
            .where(Visit.user_id == user_id, Visit.taken_at < before, Visit.latitude.is_not(None))
            .order_by(Visit.taken_at.desc()).limit(1))


def previous_fix(uow: UnitOfWork, user_id: int, before: datetime) -> PreviousFix | None:
    row = uow.session.execute(previous_fix_query(user_id, before)).first()
    return PreviousFix(row.latitude, row.longitude, row.taken_at) if row else None


def accuracies_table(user_id: ColumnElement, before: ColumnElement) -> Subquery:
    """One row, `rows`: [accuracy, taken_at] of the rep's last pinned positions taken before `before`
    (an index range of ix_visits_user_taken; a live trail's own updates are judged by the trail checks)."""
    last = (select(Visit.accuracy_m, Visit.taken_at)
            .where(Visit.user_id == user_id, Visit.latitude.is_not(None), Visit.taken_at < before)
            .order_by(Visit.taken_at.desc()).limit(ACCURACY_HISTORY).subquery("last_fixes"))
    return select(json_rows(last.c.accuracy_m, last.c.taken_at).label("rows")).subquery("recent")


def nearby_table(user_id: ColumnElement, taken_at: ColumnElement, replay_days: ColumnElement) -> Subquery:
    """One row, `rows`: [visit id, latitude, longitude, accuracy, taken_at] of the rep's positions at
    his visits and check-ins within the box `near_params` binds, replay_days back from `taken_at`."""
    south, north, west, east = (bindparam(name, type_=Float()) for name in _NEAR)
    return select(
        json_rows(Visit.id, Visit.latitude, Visit.longitude, Visit.accuracy_m, Visit.taken_at).label("rows")
    ).where(
        Visit.latitude.between(south, north), Visit.longitude.between(west, east),
        Visit.taken_at >= days_before(taken_at, replay_days), Visit.user_id == user_id,
    ).subquery("nearby")


_NEAR = ("near_south", "near_north", "near_west", "near_east")


def near_params(fix: Fix) -> dict[str, float]:
    """nearby_table's box: NEAR_M around the fix."""
    return dict(zip(_NEAR, geo.box(fix.latitude, fix.longitude, NEAR_M), strict=True))


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)  # SQLite keeps UTC without an offset, PostgreSQL writes one
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def history_of(accuracy_rows: list | None, fix_rows: list | None) -> History:
    """The History the two tables' values hold (an aggregate of no rows is NULL on PostgreSQL); the
    aggregates keep no order, so it is restored here: newest first."""
    recent = sorted(((_utc(taken_at), accuracy) for accuracy, taken_at in accuracy_rows or ()),
                    key=lambda pair: pair[0], reverse=True)
    fixes = sorted(((visit_id, EarlierFix(latitude, longitude, accuracy, _utc(taken_at)))
                    for visit_id, latitude, longitude, accuracy, taken_at in fix_rows or ()),
                   key=lambda pair: pair[1].taken_at, reverse=True)
    return History(tuple(accuracy for _, accuracy in recent), tuple(fixes))


def live_trail(uow: UnitOfWork, visit_id: int, message_id: str | None = None) -> tuple[TrailPoint, ...]:
    """The visit's live-location updates so far (of one live message, or all of them: None), in the
    order they were taken."""
    query = (select(VisitTrailPoint.latitude, VisitTrailPoint.longitude, VisitTrailPoint.taken_at,
                    VisitTrailPoint.heading, VisitTrailPoint.accuracy_m)
             .where(VisitTrailPoint.visit_id == visit_id).order_by(VisitTrailPoint.taken_at, VisitTrailPoint.id))
    if message_id is not None:
        query = query.where(VisitTrailPoint.message_id == message_id)
    return tuple(TrailPoint(*row) for row in uow.session.execute(query))


def earlier_trails(uow: UnitOfWork, user_id: int, visit_id: int, trail: tuple[TrailPoint, ...],
                   limits: Thresholds) -> tuple[tuple[TrailPoint, ...], ...]:
    """The rep's live trails of other visits passing near this trail (within NEAR_M of the box around
    its updates: a replay may begin after a fresh first update), replay_days back, each whole and in order."""
    if not trail:
        return ()
    south, _, west, _ = geo.box(min(p.latitude for p in trail), min(p.longitude for p in trail), NEAR_M)
    _, north, _, east = geo.box(max(p.latitude for p in trail), max(p.longitude for p in trail), NEAR_M)
    near = (select(VisitTrailPoint.visit_id).where(
        VisitTrailPoint.user_id == user_id, VisitTrailPoint.visit_id != visit_id,
        VisitTrailPoint.taken_at >= trail[-1].taken_at - timedelta(days=limits.replay_days),
        VisitTrailPoint.latitude.between(south, north), VisitTrailPoint.longitude.between(west, east),
    ).distinct())
    rows = uow.session.execute(
        select(VisitTrailPoint.visit_id, VisitTrailPoint.latitude, VisitTrailPoint.longitude, VisitTrailPoint.taken_at,
               VisitTrailPoint.heading, VisitTrailPoint.accuracy_m)
        .where(VisitTrailPoint.user_id == user_id, VisitTrailPoint.visit_id.in_(near))
        .order_by(VisitTrailPoint.visit_id, VisitTrailPoint.taken_at, VisitTrailPoint.id))
    trails: dict[int, list[TrailPoint]] = {}
    for visit, *point in rows:
        trails.setdefault(visit, []).append(TrailPoint(*point))
    return tuple(tuple(points) for points in trails.values())

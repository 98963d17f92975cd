"""Leaderboards: per-rep and per-team totals of one metric over a period in a channel's time zone.

Ranking: higher value first; among equal values whoever reached it first (earliest last event)
ranks higher; only a true tie (same value, same moment) shares a rank. Movement arrows compare
with the previous stored board of the same key. Streaks count consecutive working days with a
counted visit; weekends and holidays neither extend nor break them.

What a metric counts is bot.services.deals.board_metrics; periods and working days are
bot.services.deals.periods; when boards are pushed to channels is bot.services.deals.board_schedule.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, Select, any_, bindparam, func, null, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY

from bot.errors import UserError
from bot.services.core import org
from bot.services.deals import announcement_rules
from bot.services.deals.board_metrics import (
    EPOCH,
    METRICS,
    MONEY_METRICS,
    metric_parts,
    period_bounds,
)
from bot.services.deals.periods import Window, holidays_between, is_working_day, utc_range
from bot.services.manager import scope as scopes
from db.models import BoardSnapshot, OrgUnit, User, Visit
from db.session import UnitOfWork

DEFAULT_TOP_N = 10
STREAK_LOOKBACK_DAYS = 120


# ---- ranking --------------------------------------------------------------------------------

@dataclass(slots=True)
class BoardLine:
    rank: int
    subject_id: int
    name: str
    value: Decimal
    reached: datetime
    movement: int | None = None  # places gained since the previous board; None = new on the board
    streak: int = 0
    is_caller: bool = False


@dataclass
class Board:
    key: str
    unit_id: int
    unit_name: str
    metric: str
    by: str  # rep | team
    window: Window
    lines: list[BoardLine]
    caller_line: BoardLine | None = None
    total: int = 0
    money: bool = False
    all_lines: list[BoardLine] = field(default_factory=list, repr=False)

    @property
    def top(self) -> list[BoardLine]:
        return self.lines


# ---- boards ---------------------------------------------------------------------------------

def board_key(unit_id: int, by: str, metric: str, period: str) -> str:
    return f"{unit_id}:{by}:{metric}:{period}"


def compute_boards(
    uow: UnitOfWork, unit_ids: list[int], metric: str, period: str, today: date, zone: ZoneInfo,
    by: str = "rep", caller_id: int | None = None, top_n: int = DEFAULT_TOP_N, with_extras: bool = True,
) -> dict[int, Board]:
    """Boards of several units from ONE query that aggregates, assigns each line to its boards and
    orders them as shown; Python only numbers the ranks while slicing the ordered rows into boards."""
    if metric not in METRICS:
        raise UserError("deals/rank_bad_metric", metric=metric, metrics=", ".join(METRICS))
    window = Window.of(period, today, zone)
    uow.session.flush()  # the queries below run on the connection, past the session's autoflush
    connection = uow.session.connection()
    start, end = period_bounds(metric, window)
    params = {"unit_ids": [int(unit_id) for unit_id in unit_ids], "start": start, "end": end}
    result = connection.execute(_board_rows(uow.dialect, metric, by, several=len(params["unit_ids"]) > 1), params)
    # PostgreSQL's columns need no conversion (see _board_rows): the driver's tuples, without Row objects.
    rows = result.cursor.fetchall() if uow.dialect == "postgresql" else result.all()
    result.close()
    names: dict[int, str] = {}
    lines_of: dict[int, list[BoardLine]] = {}
    decimals: dict[int, Decimal] = {}  # counts repeat: one Decimal per distinct count
    lines: list[BoardLine] = []
    above: tuple | None = None
    for board_id, subject_id, name, value, reached in rows:
        if subject_id is None:  # the board's own row, first of its rows: its name
            names[board_id], lines = name, []
            lines_of[board_id], above = lines, None
            continue
        # RANK() over (value DESC, reached): a line shares the rank of the line above only in a true tie.
        if (value, reached) != above:
            above, rank = (value, reached), len(lines) + 1
        if type(value) is not Decimal:
            value = decimals.get(value) or decimals.setdefault(value, Decimal(value))
        lines.append(BoardLine(rank, subject_id, name, value, reached or EPOCH))
    with_caller = caller_id is not None and by == "rep"
    caller_units = _caller_units(connection, caller_id, params["unit_ids"]) if with_caller and names else {}
    boards = {}
    money = metric in MONEY_METRICS
    for unit_id, lines in lines_of.items():
        board = Board(board_key(unit_id, by, metric, period), unit_id, names[unit_id], metric, by, window,
                      lines[:top_n], total=len(lines), money=money, all_lines=lines)
        if with_caller:
            _attach_caller(board, caller_id, caller_units.get(unit_id))  # type: ignore[arg-type]
        boards[unit_id] = board
    if with_extras:
        for board in boards.values():
            add_movement(uow, board)
            if board.by == "rep":
                _add_streaks(uow, board, today, zone)
    return boards


def _in_unit_ids(column, dialect: str):
    """column IN the "unit_ids" parameter: on PostgreSQL one array, so the statement's text (and psycopg's
    prepared statement) is the same for any number of boards; elsewhere an expanding IN list."""
    if dialect == "postgresql":
        return column == any_(bindparam("unit_ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("unit_ids", expanding=True))


def _board_units(dialect: str, by: str):
    """Recursive CTE (board_id, subject_id, unit_id): every unit under each board. For a rep board the
    subject is the board itself; for a team board (PK) it is the child team whose subtree holds the unit."""
    units = OrgUnit.__table__
    below = units.alias("below")
    if by == "team":
        top = select(units.c.parent_id.label("board_id"), units.c.id.label("subject_id"), units.c.id.label("unit_id")
                     ).where(_in_unit_ids(units.c.parent_id, dialect), units.c.active.is_(True))
    else:
        top = select(units.c.id.label("board_id"), units.c.id.label("subject_id"), units.c.id.label("unit_id")
                     ).where(_in_unit_ids(units.c.id, dialect))
    tree = top.cte("board_units", recursive=True)
    return tree.union_all(select(tree.c.board_id, tree.c.subject_id, below.c.id).where(below.c.parent_id == tree.c.unit_id))


@cache
def _board_rows(dialect: str, metric: str, by: str, several: bool) -> Select:
    """SELECT board_id, subject_id, name, value, reached: per board first its own row (subject and
    value NULL, the board's name), then its lines as shown: higher value first, then whoever reached
    it first, true ties by name and id. Built once per shape; "unit_ids", "start" and "end" are bound
    at execution."""
    tree = _board_units(dialect, by)
    units, users = OrgUnit.__table__, User.__table__
    who, value, at, source, where = metric_parts(metric, None)
    # Each user's value once (a rep on nested boards is aggregated once), then spread over his boards.
    per_user = select(who.label("user_id"), value.label("value"), func.max(at).label("reached")
                      ).select_from(source).where(*where).group_by(who)
    if by == "rep":
        per_user = per_user.having(value != 0)
    per_user = per_user.subquery("per_user")
    lines = (select().select_from(per_user).join(users, users.c.id == per_user.c.user_id)
             .join(tree, tree.c.unit_id == users.c.unit_id).where(users.c.active.is_(True)))
    if by == "team":  # a team line sums its subtree's users
        team, total = units.alias("team"), func.sum(per_user.c.value)
        lines = (lines.join(team, team.c.id == tree.c.subject_id)
                 .add_columns(tree.c.board_id, tree.c.subject_id, team.c.name, total.label("value"),
                              func.max(per_user.c.reached).label("reached"))
                 .group_by(tree.c.board_id, tree.c.subject_id, team.c.name).having(total != 0))
    else:
        lines = lines.add_columns(tree.c.board_id, users.c.id.label("subject_id"), users.c.name, per_user.c.value,
                                  per_user.c.reached)
    heads = select(units.c.id, null(), units.c.name, null(), null()).where(_in_unit_ids(units.c.id, dialect))
    rows = lines.union_all(heads).subquery("board_rows")
    board_id, subject_id, name, value, reached = rows.c
    if dialect != "sqlite":
        # PostgreSQL's UTC timestamps need no per-row conversion; SQLite's text needs UTCDateTime.
        reached = type_coerce(reached, DateTime(timezone=True))
    # Names among true ties in code-point order on both backends (as Python would sort them).
    name_order = name if dialect == "sqlite" else name.collate("C")
    # With one board, sorting on its id first would only make every comparison fall through to the value.
    boards_first = [board_id] if several else []
    return (select(board_id, subject_id, name, value, reached)
            .order_by(*boards_first, value.desc().nulls_first(), reached.asc(), name_order, subject_id))


def _caller_units(connection, caller_id: int, unit_ids: list[int]) -> dict[int, str]:
    """{board unit id: caller's name} for the boards the caller is an active member of."""
    tree = _board_units(connection.dialect.name, "rep")
    users = User.__table__
    rows = connection.execute(select(tree.c.board_id, users.c.name).join(tree, tree.c.unit_id == users.c.unit_id)
                              .where(users.c.id == caller_id, users.c.active.is_(True)), {"unit_ids": unit_ids})
    return dict(rows.all())


def _attach_caller(board: Board, caller_id: int, member_name: str | None) -> None:
    for line in board.all_lines:
        if line.subject_id == caller_id:
            line.is_caller = True
            if line not in board.lines:
                board.caller_line = line
            return
    if member_name is not None:
        # He is a member but has nothing yet: show his zero line below the board.
        board.caller_line = BoardLine(0, caller_id, member_name, Decimal(0), EPOCH, is_caller=True)


def channel_snapshot_key(board: Board, channel_id: int) -> str:
    """The snapshots of the boards one channel was pushed: its arrows compare with its own last board,
    not with the same board another channel (the team's Telegram group beside its Slack channel) got
    a moment ago."""
    return f"{board.key}:channel:{channel_id}"


def add_movement(uow: UnitOfWork, board: Board, key: str | None = None) -> None:
    """Places gained since the newest snapshot under `key` (by default the board's own key)."""
    previous = uow.session.scalar(
        select(BoardSnapshot.ranks).where(BoardSnapshot.board_key == (key or board.key))
        .order_by(BoardSnapshot.taken_at.desc(), BoardSnapshot.id.desc()).limit(1)
    )
    for line in board.all_lines:
        before = previous.get(str(line.subject_id)) if previous is not None else None
        line.movement = None if before is None else before - line.rank



def save_snapshot(uow: UnitOfWork, board: Board, now: datetime, key: str | None = None) -> None:
    ranks = {str(line.subject_id): line.rank for line in board.all_lines}
    uow.session.add(BoardSnapshot(board_key=key or board.key, ranks=ranks, taken_at=now))


def _add_streaks(uow: UnitOfWork, board: Board, today: date, zone: ZoneInfo) -> None:
    shown = board.lines + ([board.caller_line] if board.caller_line else [])
    streak = streaks(uow, [line.subject_id for line in shown], today, zone)
    for line in shown:
        line.streak = streak.get(line.subject_id, 0)


def streaks(uow: UnitOfWork, user_ids: list[int], today: date, zone: ZoneInfo) -> dict[int, int]:
    """Consecutive working days up to today with a counted visit (today may still be pending)."""
    if not user_ids:
        return {}
    since = today - timedelta(days=STREAK_LOOKBACK_DAYS)
    start_utc, end_utc = utc_range(since, today + timedelta(days=1), zone)
    rows = uow.session.execute(
        select(Visit.user_id, Visit.started_at).where(
            Visit.user_id.in_(user_ids), Visit.counts.is_(True), Visit.kind == "visit",
            Visit.started_at >= start_utc, Visit.started_at < end_utc,
        )
    ).all()
    days: dict[int, set[date]] = {}
    for row in rows:
        days.setdefault(row.user_id, set()).add(row.started_at.astimezone(zone).date())
    holidays = holidays_between(uow, since, today + timedelta(days=1))
    result = {}
    for uid in user_ids:
        visited = days.get(uid, set())
        count, day = 0, today
        if is_working_day(day, holidays) and day not in visited:
            day -= timedelta(days=1)  # today is not over yet
        while day >= since:
            if is_working_day(day, holidays):
                if day not in visited:
                    break
                count += 1
            day -= timedelta(days=1)
        result[uid] = count
    return result


# ---- on demand ------------------------------------------------------------------------------

def zone_of(uow: UnitOfWork, unit_id: int, fallback: str) -> ZoneInfo:
    for unit in reversed(org.unit_chain(uow, unit_id)):
        if unit.timezone:
            return ZoneInfo(unit.timezone)
    return ZoneInfo(fallback)


def find_unit(uow: UnitOfWork, name: str) -> OrgUnit:
    matches = org.units_by_name(uow, name)
    if not matches:
        raise scopes.not_found("unit", name)
    if len(matches) != 1:
        raise UserError("deals/rank_unknown_unit", name=name[:60], count=len(matches))
    return matches[0]


def board_for_caller(
    uow: UnitOfWork, user_id: int, metric: str, period: str, unit_name: str | None, by: str, now: datetime,
) -> Board:
    """/rank: the caller's unit (or a named one he may see) in the unit's time zone."""
    user = uow.session.get(User, user_id)
    assert user is not None
    if unit_name:
        unit = find_unit(uow, unit_name)
        if not _may_rank(uow, user_id, unit):
            raise scopes.not_found("unit", unit_name)
    else:
        unit = uow.session.get(OrgUnit, user.unit_id)  # type: ignore[assignment]
    zone = zone_of(uow, unit.id, user.timezone)
    today = now.astimezone(zone).date()
    return compute_boards(uow, [unit.id], metric, period, today, zone, by=by, caller_id=user_id)[unit.id]


def rank_of(uow: UnitOfWork, unit_id: int, user_id: int, metric: str, period: str, today: date,
            zone: ZoneInfo) -> tuple[int | None, int]:
    """(rank, people on the board) of one user on a unit's board, without snapshots or streaks."""
    board = compute_boards(uow, [unit_id], metric, period, today, zone, with_extras=False)[unit_id]
    for line in board.all_lines:
        if line.subject_id == user_id:
            return line.rank, board.total
    return None, board.total


METRIC_WORDS = {
    "won": "won_amount", "won_amount": "won_amount", "amount": "won_amount", "赢单": "won_amount",
    "deals": "won_deals", "won_deals": "won_deals", "单数": "won_deals",
    "collected": "collected", "paid": "collected", "回款": "collected",
    "visits": "visits", "拜访": "visits",
    "customers": "new_customers", "new_customers": "new_customers", "新客户": "new_customers",
    "followups": "followups", "跟进": "followups",
}
PERIOD_WORDS = {"day": "day", "today": "day", "今天": "day", "日": "day", "week": "week", "周": "week",
                "month": "month", "月": "month", "quarter": "quarter", "季度": "quarter"}


def default_metric(uow: UnitOfWork, unit_id: int) -> str:
    """The board a unit sees when nobody names a metric: what it celebrates (wins or money collected)."""
    return announcement_rules.unit_rules(uow, unit_id).metric


def board_from_words(uow: UnitOfWork, user_id: int, words: list[str], by_team: bool, now: datetime) -> Board:
    """/rank [metric] [period] [unit], in any order: known metric and period words, the rest is a unit."""
    metric = period = None
    rest = []
    for word in words:
        key = word.lower()
        if metric is None and key in METRIC_WORDS:
            metric = METRIC_WORDS[key]
        elif period is None and key in PERIOD_WORDS:
            period = PERIOD_WORDS[key]
        else:
            rest.append(word)
    user = uow.session.get(User, user_id)
    assert user is not None
    unit_name = " ".join(rest) or None
    if unit_name and len(rest) == 1 and metric is None and not _looks_like_unit(uow, user_id, unit_name):
        raise UserError("deals/rank_bad_metric", metric=unit_name[:30], metrics=", ".join(METRIC_WORDS))
    metric = metric or default_metric(uow, user.unit_id)
    return board_for_caller(uow, user_id, metric, period or "month", unit_name, "team" if by_team else "rep", now)


def _looks_like_unit(uow: UnitOfWork, user_id: int, name: str) -> bool:
    """A word names a unit only when it names one the caller may rank: anything else is an unknown word."""
    fragment = name.lower()
    return any(fragment in unit.name.lower() and _may_rank(uow, user_id, unit)
               for unit in uow.session.scalars(select(OrgUnit)))


def _may_rank(uow: UnitOfWork, user_id: int, unit: OrgUnit) -> bool:
    """His own unit's chain upwards, or a unit his scope covers."""
    user = uow.session.get(User, user_id)
    assert user is not None
    own = uow.session.get(OrgUnit, user.unit_id)
    return (own is not None and own.path.startswith(unit.path)) or scopes.covers_unit(uow, scopes.of(uow, user_id), unit.id)

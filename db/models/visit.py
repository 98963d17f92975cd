"""Visits and attendance: the `visits` table, per-unit rules, live-location trails, used check-in links,
and customers waiting for their location to be set by the owner.

Per-unit settings are inherited down the org tree: a unit without its own row uses the nearest
ancestor's, and the company root falls back to the defaults of docs/design/rules.md.
"""
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow

DEFAULT_ACCURACY_M = 200.0
DEFAULT_GEOFENCE_M = 500.0
DEFAULT_MAX_SPEED_KMH = 150.0
DEFAULT_NO_LOCATION_HOURS = 24
DEFAULT_WORK_START = 9 * 60  # minutes after local midnight
DEFAULT_WORK_END = 18 * 60
DEFAULT_LATE_MINUTES = 15
# Spoofed positions (bot.services.visits.spoof_checks); the reasoning is beside each check.
DEFAULT_SAME_PLACE_M = 0.5  # closer than this to the stored place is no GPS fix
DEFAULT_MIN_ACCURACY_M = 1.0  # a phone never claims better than this
DEFAULT_SAME_ACCURACY_FIXES = 5  # that many fixes in a row with the very same accuracy value
DEFAULT_STRAIGHT_LINE_M = 2.0  # a live trail whose every point lies this close to one straight line…
DEFAULT_STEADY_SPEED_PCT = 3.0  # …at a speed varying less than this (coefficient of variation)
DEFAULT_HEADING_OFF_DEG = 50.0  # mean angle between the reported heading and the path itself
DEFAULT_TYPED_DECIMALS = 4  # both coordinates with at most this many decimals were typed
DEFAULT_REPLAY_FRACTION = 0.05  # an earlier position within this fraction of the better accuracy
DEFAULT_REPLAY_DAYS = 90  # how far back earlier positions and trails are compared
DEFAULT_VISIT_WINDOW_HOURS = 3  # an open visit's window when it has no end yet
DEFAULT_WINDOW_SLACK_MIN = 15  # a position may be taken this long after the visit ended
DEFAULT_BACKDATE_MIN = 5  # or this long before it started (a cached fix, a phone clock)
DEFAULT_MIN_DWELL_MINUTES = 10  # a live trail seen leaving the place sooner after arriving (断点打卡)
DEFAULT_OFFICE_RADIUS_M = 200.0  # the office geofence when the unit set none


class Visit(Base):
    """A visit (拜访) or a check-in/check-out (考勤): a rep somewhere, with the location he shared
    and the verdict on whether it can be trusted. Only rows with counts=True (verified, or
    approved by a manager) count on boards, targets and reports."""

    __tablename__ = "visits"
    __table_args__ = (
        # Previous visit/check-in of a rep (impossible travel) and a rep's day.
        Index("ix_visits_user_taken", "user_id", "taken_at"),
        # Boards: counted visits per rep per period.
        Index("ix_visits_counted", "counts", "started_at", "user_id"),
        Index("ix_visits_review", "verdict", "review_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(12), default="visit")  # visit | checkin | checkout
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # waiting | open | closed
    note: Mapped[str | None] = mapped_column(Text)
    end_note: Mapped[str | None] = mapped_column(Text)
    # The visit report (/visit end --outcome --next-step, a Slack modal, the Mini App's form).
    outcome: Mapped[str | None] = mapped_column(String(20))
    next_step: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(12), default="none")  # live|static|web|manual|venue|none
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the position was taken
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it reached us
    distance_m: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(12), default="unverified")  # verified|flagged|unverified|rejected
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    no_location_reason: Mapped[str | None] = mapped_column(Text)
    location_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_status: Mapped[str] = mapped_column(String(12), default="none")  # none|approved|rejected
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When its live trail arrived at the place and was last seen there (bot.services.visits.dwell;
    # migration 0021): the visit's time on site, rather than the times of /visit and /visit end.
    arrived_at_place: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_place_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VisitSettings(Base):
    """Thresholds for one org unit (and, by inheritance, its subtree)."""

    __tablename__ = "visit_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), unique=True)
    accuracy_max_m: Mapped[float] = mapped_column(Float, default=DEFAULT_ACCURACY_M)
    geofence_m: Mapped[float] = mapped_column(Float, default=DEFAULT_GEOFENCE_M)
    max_speed_kmh: Mapped[float] = mapped_column(Float, default=DEFAULT_MAX_SPEED_KMH)
    no_location_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_NO_LOCATION_HOURS)
    work_start_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_WORK_START)
    work_end_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_WORK_END)
    late_threshold_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_LATE_MINUTES)
    office_latitude: Mapped[float | None] = mapped_column(Float)
    office_longitude: Mapped[float | None] = mapped_column(Float)
    office_radius_m: Mapped[float | None] = mapped_column(Float)
    # The spoof checks' thresholds (bot.services.visits.spoof_checks; migration 0020).
    same_place_m: Mapped[float] = mapped_column(Float, default=DEFAULT_SAME_PLACE_M)
    min_accuracy_m: Mapped[float] = mapped_column(Float, default=DEFAULT_MIN_ACCURACY_M)
    same_accuracy_fixes: Mapped[int] = mapped_column(Integer, default=DEFAULT_SAME_ACCURACY_FIXES)
    straight_line_m: Mapped[float] = mapped_column(Float, default=DEFAULT_STRAIGHT_LINE_M)
    steady_speed_pct: Mapped[float] = mapped_column(Float, default=DEFAULT_STEADY_SPEED_PCT)
    heading_off_deg: Mapped[float] = mapped_column(Float, default=DEFAULT_HEADING_OFF_DEG)
    typed_decimals: Mapped[int] = mapped_column(Integer, default=DEFAULT_TYPED_DECIMALS)
    replay_fraction: Mapped[float] = mapped_column(Float, default=DEFAULT_REPLAY_FRACTION)
    replay_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_REPLAY_DAYS)
    visit_window_hours: Mapped[float] = mapped_column(Float, default=DEFAULT_VISIT_WINDOW_HOURS)
    window_slack_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_SLACK_MIN)
    backdate_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_BACKDATE_MIN)
    min_dwell_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MIN_DWELL_MINUTES)  # migration 0021
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Taken out by an org file that no longer writes it (kept as history, never deleted).
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VisitTrailPoint(Base):
    """The positions of a live location: the first (pinned to its visit) and each update. A static
    position is kept on its visit row alone."""

    __tablename__ = "visit_trail_points"
    __table_args__ = (Index("ix_visit_trail_message", "user_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Telegram's id of the live-location message whose edits extend the trail.
    message_id: Mapped[str | None] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)  # the reported course, when moving (migration 0020)
    source: Mapped[str] = mapped_column(String(12))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsedCheckinLink(Base):
    """A one-time check-in link that has been used; the unique nonce makes a second use fail. The link
    named a visit or a position request (a /nearby or /setloc waiting for a position, migration 0031)."""

    __tablename__ = "used_checkin_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("customer_location_requests.id"), index=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerLocationRequest(Base):
    """A position asked for: `/setloc CUSTOMER` (the next location the user shares becomes the
    customer's location) or, with no customer, `/nearby` without a recent fix (the next location
    answers it, within `radius_m`)."""

    __tablename__ = "customer_location_requests"
    __table_args__ = (Index("ix_customer_location_requests_user", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    radius_m: Mapped[int | None] = mapped_column(Integer)  # /nearby's radius (no customer)
    status: Mapped[str] = mapped_column(String(12), default="waiting")  # waiting | done | replaced
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The previous-visit lookup (impossible travel) and the last accuracies (the repeated-accuracy
# check) read only these columns: on PostgreSQL the INCLUDE makes both index-only scans, with no
# heap page per earlier visit. On SQLite the include is ignored (the core index serves).
Index(
    "ix_visits_user_taken_cover",
    Visit.__table__.c.user_id,
    Visit.__table__.c.taken_at,
    postgresql_include=["latitude", "longitude", "accuracy_m"],
)
# A rep's own positions near a point (the replay check, bot.services.visits.evidence): his rows in
# the box's latitude band, the longitude and time read from the index.
Index(
    "ix_visits_user_coordinates", Visit.__table__.c.user_id, Visit.__table__.c.latitude, Visit.__table__.c.longitude,
    Visit.__table__.c.taken_at,
)
# A rep's visits waiting for a location or still open: a handful of rows among a year of closed
# ones. Queries spell the predicate with SQL literals (bot.services.visits.visits) so it always matches.
VISITS_PENDING = "status IN ('waiting', 'open')"
Index(
    "ix_visits_user_pending", Visit.__table__.c.user_id,
    postgresql_where=text(VISITS_PENDING), sqlite_where=text(VISITS_PENDING),
)
# No-signal visits still without a location (their window is checked on every shared location).
VISITS_UNLOCATED = "no_location_reason IS NOT NULL AND latitude IS NULL"
Index(
    "ix_visits_user_unlocated", Visit.__table__.c.user_id, Visit.__table__.c.location_deadline,
    postgresql_where=text(VISITS_UNLOCATED), sqlite_where=text(VISITS_UNLOCATED),
)

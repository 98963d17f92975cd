"""A unit's visit checks as people write them (org file `units: … visits:`): the thresholds of
docs/design/rules.md ("Visit checks"), the working hours and the office. How they map onto the
`visit_settings` row of the unit.

A unit with its own row uses every value of that row: a key the file leaves out takes the default
below, not the value of the unit above (thresholds.py reads the nearest row up the tree as a
whole). A unit without a row follows the nearest unit above that has one."""
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from bot.services.core.clock import clock_of, minutes, split_span
from bot.services.core.settings_rows import assign, tidy, unit_row, unit_row_to_write
from bot.services.core.validation import Strict, problem
from db.base import utcnow
from db.models import OrgUnit, VisitSettings
from db.models.visit import (
    DEFAULT_ACCURACY_M,
    DEFAULT_BACKDATE_MIN,
    DEFAULT_GEOFENCE_M,
    DEFAULT_HEADING_OFF_DEG,
    DEFAULT_LATE_MINUTES,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_MIN_ACCURACY_M,
    DEFAULT_MIN_DWELL_MINUTES,
    DEFAULT_NO_LOCATION_HOURS,
    DEFAULT_REPLAY_DAYS,
    DEFAULT_REPLAY_FRACTION,
    DEFAULT_SAME_ACCURACY_FIXES,
    DEFAULT_SAME_PLACE_M,
    DEFAULT_STEADY_SPEED_PCT,
    DEFAULT_STRAIGHT_LINE_M,
    DEFAULT_TYPED_DECIMALS,
    DEFAULT_VISIT_WINDOW_HOURS,
    DEFAULT_WINDOW_SLACK_MIN,
    DEFAULT_WORK_END,
    DEFAULT_WORK_START,
)
from db.session import UnitOfWork


def _work_hours(value: object) -> str:
    """'09:00-18:00': a start before the end, on one day."""
    span = split_span(value) if isinstance(value, str) else None
    if span is None or minutes(span[0]) >= minutes(span[1]):
        raise problem("bad_work_hours")
    return "-".join(span)


Metres = Annotated[float, Field(gt=0, le=100_000), AfterValidator(tidy)]


class Office(Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_m: Metres | None = None  # None: the geofence


class VisitRules(Strict):
    accuracy_max_m: Metres = tidy(DEFAULT_ACCURACY_M)
    geofence_m: Metres = tidy(DEFAULT_GEOFENCE_M)
    max_speed_kmh: Annotated[float, Field(gt=0, le=2000), AfterValidator(tidy)] = tidy(DEFAULT_MAX_SPEED_KMH)
    no_location_hours: int = Field(DEFAULT_NO_LOCATION_HOURS, ge=1, le=720)
    work_hours: Annotated[str, BeforeValidator(_work_hours)] = (
        f"{clock_of(DEFAULT_WORK_START)}-{clock_of(DEFAULT_WORK_END)}")
    # A check-in this much after the start (a check-out this much before the end) is noted.
    grace_minutes: int = Field(DEFAULT_LATE_MINUTES, ge=0, le=600)
    office: Office | None = None
    # The spoof checks (docs/design/rules.md "Spotting made-up positions"); 0 turns the first,
    # second, sixth and eighth off.
    same_place_m: Annotated[float, Field(ge=0, le=100), AfterValidator(tidy)] = tidy(DEFAULT_SAME_PLACE_M)
    min_accuracy_m: Annotated[float, Field(ge=0, le=100), AfterValidator(tidy)] = tidy(DEFAULT_MIN_ACCURACY_M)
    same_accuracy_fixes: int = Field(DEFAULT_SAME_ACCURACY_FIXES, ge=2, le=100)
    straight_line_m: Annotated[float, Field(gt=0, le=1000), AfterValidator(tidy)] = tidy(DEFAULT_STRAIGHT_LINE_M)
    steady_speed_pct: Annotated[float, Field(gt=0, le=100), AfterValidator(tidy)] = tidy(DEFAULT_STEADY_SPEED_PCT)
    heading_off_deg: Annotated[float, Field(gt=0, le=180), AfterValidator(tidy)] = tidy(DEFAULT_HEADING_OFF_DEG)
    typed_decimals: int = Field(DEFAULT_TYPED_DECIMALS, ge=0, le=8)
    replay_fraction: Annotated[float, Field(ge=0, le=1), AfterValidator(tidy)] = tidy(DEFAULT_REPLAY_FRACTION)
    replay_days: int = Field(DEFAULT_REPLAY_DAYS, ge=0, le=3650)
    visit_window_hours: Annotated[float, Field(gt=0, le=72), AfterValidator(tidy)] = tidy(DEFAULT_VISIT_WINDOW_HOURS)
    window_slack_min: int = Field(DEFAULT_WINDOW_SLACK_MIN, ge=0, le=1440)
    backdate_min: int = Field(DEFAULT_BACKDATE_MIN, ge=0, le=1440)
    # A live trail seen leaving the place sooner than this after arriving is flagged; 0 turns it off.
    min_dwell_minutes: int = Field(DEFAULT_MIN_DWELL_MINUTES, ge=0, le=600)

    def as_file(self) -> dict:
        """The keys that differ from the defaults, as an org file writes them."""
        return self.model_dump(exclude_defaults=True, exclude_none=True)


# The spoof checks' thresholds: each a VisitRules field, a visit_settings column and a Thresholds
# field of the same name.
SPOOF_THRESHOLDS = ("same_place_m", "min_accuracy_m", "same_accuracy_fixes", "straight_line_m", "steady_speed_pct",
                    "heading_off_deg", "typed_decimals", "replay_fraction", "replay_days", "visit_window_hours",
                    "window_slack_min", "backdate_min", "min_dwell_minutes")


def settings_of(uow: UnitOfWork, unit_id: int) -> VisitRules | None:
    """The unit's own settings; None when it follows the unit above."""
    row = unit_row(uow, VisitSettings, unit_id)
    return rules_of(row) if row is not None else None


def rules_of(row: VisitSettings) -> VisitRules:
    """A settings row as people write it."""
    office = None
    if row.office_latitude is not None and row.office_longitude is not None:
        office = Office(latitude=row.office_latitude, longitude=row.office_longitude, radius_m=row.office_radius_m)
    return VisitRules(accuracy_max_m=row.accuracy_max_m, geofence_m=row.geofence_m, max_speed_kmh=row.max_speed_kmh,
                      no_location_hours=row.no_location_hours,
                      work_hours=f"{clock_of(row.work_start_min)}-{clock_of(row.work_end_min)}",
                      grace_minutes=row.late_threshold_min, office=office,
                      **{name: getattr(row, name) for name in SPOOF_THRESHOLDS})


def apply(uow: UnitOfWork, unit: OrgUnit, rules: VisitRules | None, now: datetime) -> None:
    """Write the unit's own settings; None takes them out (the row is marked, kept as history), so the
    unit follows the unit above."""
    row = unit_row_to_write(uow, VisitSettings, unit.id, rules is not None, now)
    if row is None or rules is None:
        return
    start, end = rules.work_hours.split("-")
    office = rules.office
    if assign(row, {
        "accuracy_max_m": rules.accuracy_max_m, "geofence_m": rules.geofence_m,
        "max_speed_kmh": rules.max_speed_kmh, "no_location_hours": rules.no_location_hours,
        "work_start_min": minutes(start), "work_end_min": minutes(end), "late_threshold_min": rules.grace_minutes,
        "office_latitude": office.latitude if office else None,
        "office_longitude": office.longitude if office else None,
        "office_radius_m": office.radius_m if office else None,
        **{name: getattr(rules, name) for name in SPOOF_THRESHOLDS},
    }):
        row.updated_at = utcnow()

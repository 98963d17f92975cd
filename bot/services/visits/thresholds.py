"""Which visit thresholds apply to a rep: the settings of the nearest unit up the tree (the unit itself
first) that has its own, or docs/design/rules.md's defaults (location_checks.Thresholds) when none has."""
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from bot.services.visits.location_checks import Thresholds
from bot.services.visits.unit_settings import SPOOF_THRESHOLDS
from db.models import OrgUnit, VisitSettings
from db.session import UnitOfWork


def unit_settings_query(unit_id) -> Select:
    """The settings row of the nearest unit up the tree (the unit itself first) that has one."""
    ancestor, unit = aliased(OrgUnit), aliased(OrgUnit)
    return (
        select(VisitSettings).join(ancestor, ancestor.id == VisitSettings.unit_id)
        .join(unit, unit.path.startswith(ancestor.path)).where(unit.id == unit_id, VisitSettings.removed_at.is_(None))
        .order_by(func.length(ancestor.path).desc()).limit(1)
    )


def as_thresholds(row: VisitSettings | None) -> Thresholds:
    if row is None:
        return Thresholds()
    office = (row.office_latitude, row.office_longitude) if row.office_latitude is not None else None
    return Thresholds(
        row.accuracy_max_m, row.geofence_m, row.max_speed_kmh, row.no_location_hours, row.work_start_min,
        row.work_end_min, row.late_threshold_min, office, row.office_radius_m,
        **{name: getattr(row, name) for name in SPOOF_THRESHOLDS},
    )


def thresholds_for(uow: UnitOfWork, unit_id: int) -> Thresholds:
    """The nearest unit up the tree with its own settings; docs/design/rules.md defaults when none has."""
    return as_thresholds(uow.session.scalar(unit_settings_query(unit_id)))

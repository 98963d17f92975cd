"""A person's private nudges as the org file writes them (`users: … nudges:`): on or off (what
`/nudges on|off` sets) and the time of day by which a visit is expected. How they map onto the
person's `nudge_settings` row; no row means the defaults."""
from sqlalchemy import select

from bot.services.core.clock import Clock, clock_of, minutes
from bot.services.core.settings_rows import assign
from bot.services.core.validation import Strict
from bot.services.deals.nudges import DEFAULT_VISIT_BY_MINUTE
from db.models.nudge import NudgeSettings
from db.session import UnitOfWork


class NudgePlan(Strict):
    enabled: bool = True
    visit_by: Clock = clock_of(DEFAULT_VISIT_BY_MINUTE)

    def as_file(self) -> dict:
        """The keys that differ from the defaults, as an org file writes them."""
        return self.model_dump(exclude_defaults=True)


def _row(uow: UnitOfWork, user_id: int) -> NudgeSettings | None:
    return uow.session.scalar(select(NudgeSettings).where(NudgeSettings.user_id == user_id))


def settings_of(uow: UnitOfWork, user_id: int) -> NudgePlan:
    """The person's settings (the defaults without a row)."""
    row = _row(uow, user_id)
    if row is None:
        return NudgePlan()
    by = row.visit_by_minute if row.visit_by_minute is not None else DEFAULT_VISIT_BY_MINUTE
    return NudgePlan(enabled=row.enabled, visit_by=clock_of(by))


def apply(uow: UnitOfWork, user_id: int, plan: NudgePlan) -> None:
    """Write the person's settings; no row is written for someone who keeps the defaults."""
    row = _row(uow, user_id)
    if row is None and plan == NudgePlan():
        return
    if row is None:
        row = NudgeSettings(user_id=user_id)
        uow.session.add(row)
    by = minutes(plan.visit_by)
    assign(row, {"enabled": plan.enabled, "visit_by_minute": None if by == DEFAULT_VISIT_BY_MINUTE else by})

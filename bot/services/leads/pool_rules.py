"""A pool's rules as people write them (org file `pools: … rules:`, `/pool admin rules`), checked
the same way wherever they come from, and how they map onto the pool's row. Defaults are those of
docs/design/rules.md; a return rule written as off, false, 0 or null is off."""
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from bot.services.core.validation import Strict
from db.models import Pool

_OFF_WORDS = {"off", "none", "no", "false", "关", "关闭", "不限"}


def _off_is_none(value: object) -> object:
    """Return rules may be switched off: off, false, 0 or null all mean off."""
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, str) and value.strip().lower() in _OFF_WORDS | {"0", ""}:
        return None
    return value


ReturnDays = Annotated[Annotated[int, Field(ge=1, le=3650)] | None, BeforeValidator(_off_is_none)]
Level = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=8)]

# The rules that may differ per customer level (a level's own row in the return sweep).
LEVEL_RULES = ("return_no_followup_days", "return_no_deal_created_days", "return_no_deal_days")
POOL_RULES = ("max_open_leads", "daily_claim_limit", *LEVEL_RULES, "warn_days_before", "reclaim_cooldown_days",
              "auto_distribute", "distribution")


class LevelRules(Strict):
    """A customer level's own return rules; what it leaves out follows the pool's."""

    return_no_followup_days: ReturnDays = None
    return_no_deal_created_days: ReturnDays = None
    return_no_deal_days: ReturnDays = None


class PoolRules(Strict):
    max_open_leads: int = Field(50, ge=1, le=100_000)
    daily_claim_limit: int = Field(20, ge=1, le=10_000)
    return_no_followup_days: ReturnDays = 7
    return_no_deal_created_days: ReturnDays = None
    return_no_deal_days: ReturnDays = 30
    warn_days_before: int = Field(1, ge=0, le=30)
    reclaim_cooldown_days: int = Field(3, ge=0, le=365)
    auto_distribute: bool = False
    # plain: most room first; matched: weighted by conversion on leads like it (bot.services.leads.matching).
    distribution: Annotated[Literal["plain", "matched"], StringConstraints(strip_whitespace=True, to_lower=True)] = "plain"
    levels: dict[Level, LevelRules] = Field(default_factory=dict)

    def as_file(self) -> dict:
        """The rules as an org file writes them: only what differs from the defaults, levels with
        only what they set, off written as null."""
        defaults = PoolRules()
        written = {key: getattr(self, key) for key in POOL_RULES if getattr(self, key) != getattr(defaults, key)}
        levels = {level: rules.model_dump(exclude_unset=True) for level, rules in sorted(self.levels.items())}
        if levels:
            written["levels"] = levels
        return written


def rules_of(pool: Pool) -> PoolRules:
    """The rules a pool row holds."""
    levels = {level: LevelRules(**{k: v for k, v in rules.items() if k in LEVEL_RULES})
              for level, rules in (pool.level_rules or {}).items() if isinstance(rules, dict)}
    return PoolRules(**{key: getattr(pool, key) for key in POOL_RULES}, levels=levels)


def apply(pool: Pool, rules: PoolRules) -> None:
    """Write checked rules onto the pool's row (the caller audits and commits)."""
    for key in POOL_RULES:
        setattr(pool, key, getattr(rules, key))
    pool.level_rules = {level: level_rules.model_dump(exclude_unset=True)
                        for level, level_rules in rules.levels.items()}

"""A field-sales company set up the way its admin sets one up, for the visit checks through the real
adapters (test_checks_telegram, test_checks_checkin_page, test_field_pipeline). Not a test file.

As the `fieldcrm` program does it (tests/platforms/first_week runs the program itself): an org
file with one unit whose office is tests/visits/fieldday.OFFICE, its reps and a pool, then a CSV of
leads with the coordinates the company has for them (imported coordinates are trusted at once; a lead without
any gets its place from agreeing visits). The reps join on Telegram with their invitation codes,
claim their leads and work them there, on a clock the test moves.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram import Update

from bot.adapters.telegram.inbound import to_incoming
from bot.bootstrap import build_router
from bot.config import Settings
from bot.messages import Reply
from bot.ratelimit import RateLimiter
from bot.router import Router
from bot.services.core import identity, org_file
from bot.services.leads import imports
from db.base import utcnow
from db.models import Lead
from db.session import Database
from tests.fakes.telegram_api import location_update, message, next_update_id, text_update
from tests.visits.fieldday import OFFICE
from tests.visits.test_visits import START, Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")

POOL = "City pool"
WORKSPACE = "123"  # the Telegram workspace: the bot id of token 123:ABC


class OnCompanyClock:
    """A rep's chat on the company's shared clock (`self.clock`), moved by local time of day."""

    clock: Clock

    def at(self, day: int, local: str = "10:00") -> None:
        """Move the clock to this local time, `day` days after the first day."""
        hours, minutes = (int(p) for p in local.split(":"))
        first = START.astimezone(SHANGHAI).date()
        self.clock.now = datetime.combine(first + timedelta(days=day), time(hours, minutes), SHANGHAI)

    def later(self, **delta: float) -> None:
        self.clock.advance(**delta)


@dataclass(frozen=True)
class Rep:
    handle: str
    name: str
    locale: str
    telegram_id: int


def org_yaml(reps: Sequence[Rep]) -> str:
    """One unit in Shanghai with its office (radius 200 m), a manager, the reps and the pool they claim from."""
    people = "\n".join(
        f"  - {{handle: {r.handle}, name: \"{r.name}\", unit: Field Sales, role: rep, locale: {r.locale},"
        f" manager: boss, timezone: Asia/Shanghai}}" for r in reps)
    return f"""\
units:
  - name: Field Sales
    timezone: Asia/Shanghai
    phone_region: CN
    visits:
      work_hours: 09:00-18:00
      office: {{latitude: {OFFICE[0]}, longitude: {OFFICE[1]}, radius_m: 200}}
users:
  - {{handle: boss, name: Boss Wang, unit: Field Sales, role: manager, locale: en, timezone: Asia/Shanghai}}
{people}
pools:
  - name: {POOL}
    members: {{units: [Field Sales], users: []}}
    admins: [boss]
    rules: {{max_open_leads: 1000, daily_claim_limit: 1000, return_no_followup_days: null,
             return_no_deal_days: null}}
"""


def leads_csv(places: dict[str, tuple[float, float] | None]) -> str:
    """Company name -> the coordinates the company has for it (None: none)."""
    rows = [f"{name},{place[0]!r},{place[1]!r}" if place else f"{name},," for name, place in places.items()]
    return "\n".join(["公司名称,纬度,经度", *rows]) + "\n"


def set_up_company(db: Database, settings: Settings, reps: Sequence[Rep],
                   places: dict[str, tuple[float, float] | None]) -> dict[str, str]:
    """What `fieldcrm org load` and `fieldcrm import leads --pool` do, through the services they call
    (the program would also check the migrations on every run); each rep's invitation code."""
    now = utcnow()
    with db.uow() as uow:
        loaded = org_file.load_org_text(uow, org_yaml(reps), "org.yaml", settings.DEFAULT_TIMEZONE,
                                        settings.DEFAULT_LOCALE, now)
        codes = {user.handle: identity.create_invitation(uow, user.id, now, settings.INVITATION_DAYS)
                 for user in (identity.find_user(uow, handle) for handle in loaded.users_created) if user}
        imports.import_leads(uow, leads_csv(places).encode(), "leads.csv", POOL, now)
        uow.commit()
    return codes


def lead_ids(db: Database) -> dict[str, int]:
    with db.uow() as uow:
        return dict(uow.session.execute(select(Lead.company, Lead.id)).tuples().all())


def texts(replies: Sequence[Reply]) -> str:
    return "\n".join(" ".join([r.title or "", r.text, *(f"{k}: {v}" for k, v in r.fields)]) for r in replies)


def router_on(db: Database, settings: Settings, clock: Clock) -> Router:
    """The router on the test's clock, its rate limiter too (a live location's updates come every half
    minute of that clock, not of the test's run)."""
    return build_router(db, settings, clock=clock, limiter=RateLimiter(clock=lambda: clock.now.timestamp()))


@dataclass
class Telegram:
    """The reps' private chats with the bot: real Update JSON through the Telegram adapter's
    translation (to_incoming) into the router, dated by `clock`."""

    db: Database
    settings: Settings
    clock: Clock

    def __post_init__(self) -> None:
        self.router = router_on(self.db, self.settings, self.clock)

    def now(self) -> int:
        return int(self.clock.now.timestamp())

    def send(self, update: dict) -> list[Reply]:
        incoming = to_incoming(Update.de_json(update, None), WORKSPACE, "fieldcrm_bot")
        assert incoming is not None
        return self.router.handle(incoming)

    def say(self, rep: Rep, text: str) -> str:
        return texts(self.send(text_update(text, **self._who(rep), date=self.now())))

    def share(self, rep: Rep, lat: float, lon: float, accuracy: float | None = None, taken: datetime | None = None,
              **point: object) -> str:
        """A shared location (static; live with live_period and message_id), taken at `taken` (now)."""
        date = int((taken or self.clock.now).timestamp())
        return texts(self.send(location_update(lat, lon, accuracy=accuracy, date=date, **self._who(rep), **point)))

    def live_edit(self, rep: Rep, lat: float, lon: float, *, message_id: int, started: datetime, taken: datetime,
                  accuracy: float | None = None, heading: float | None = None) -> str:
        """One update of a live location: an edited_message with the new point, dated edit_date."""
        point: dict[str, object] = {"latitude": lat, "longitude": lon, "live_period": 3600}
        if accuracy is not None:
            point["horizontal_accuracy"] = accuracy
        if heading is not None:
            point["heading"] = heading
        body = message(location=point, message_id=message_id, date=int(started.timestamp()),
                       edit_date=int(taken.timestamp()), **self._who(rep))
        return texts(self.send({"update_id": next_update_id(), "edited_message": body}))

    def venue(self, rep: Rep, lat: float, lon: float, title: str) -> str:
        place = {"latitude": lat, "longitude": lon}
        body = message(venue={"location": place, "title": title, "address": "-"}, location=place, date=self.now(),
                       **self._who(rep))
        return texts(self.send({"update_id": next_update_id(), "message": body}))

    def join(self, rep: Rep, code: str) -> None:
        assert rep.name in self.say(rep, f"/start {code}")

    @staticmethod
    def _who(rep: Rep) -> dict:
        return {"chat_id": rep.telegram_id, "user_id": rep.telegram_id, "language_code": rep.locale}

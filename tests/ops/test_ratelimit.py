"""The per-user rate limit: a flood from one chat user is refused before the database, told once
in his language, and lets him through again once he slows down."""
from sqlalchemy import func, select

from bot.bootstrap import build_router
from bot.messages import Incoming
from bot.ratelimit import RateLimiter
from bot.router import LAST_OUTCOME
from db.models import InboundEvent
from db.session import Database
from tests.platforms.telegram_harness import link_telegram


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tg(command: str, n: int, user: str = "555", hint: str | None = "en") -> Incoming:
    return Incoming(platform="telegram", workspace="123", chat_id=user, user_id=user, command=command,
                    event_id=f"u{user}-{n}", language_hint=hint)


def events(db: Database) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(InboundEvent)) or 0


def link_li_on_telegram(db: Database) -> None:
    link_telegram(db, "li", 555)


def test_bucket_allows_a_burst_then_one_per_interval():
    clock = Clock()
    limiter = RateLimiter(burst=3, per_second=0.5, clock=clock)
    key = ("telegram", "1", "9")
    assert [limiter.check(key).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.check(key)
    assert not refused.allowed and refused.wait_seconds == 2 and not refused.tell
    clock.now += 2.0
    assert limiter.check(key).allowed
    assert limiter.check(("telegram", "1", "other")).allowed, "another user has his own bucket"


def test_idle_buckets_are_forgotten(monkeypatch):
    import bot.ratelimit as ratelimit

    monkeypatch.setattr(ratelimit, "SWEEP_AT", 10)
    clock = Clock()
    limiter = RateLimiter(burst=2, per_second=1.0, clock=clock)
    for n in range(10):
        limiter.check(("slack", "T", str(n)))
    clock.now += 5
    limiter.check(("slack", "T", "new"))
    assert len(limiter) == 1


def test_a_flood_is_refused_once_in_the_users_language_and_writes_nothing(db, demo_org, settings):
    link_li_on_telegram(db)
    clock = Clock()
    router = build_router(db, settings, limiter=RateLimiter(burst=3, per_second=0.2, clock=clock))
    answers = [router.handle(tg("whoami", n)) for n in range(3)]
    assert all(a and "Traceback" not in a[0].text for a in answers)
    assert events(db) == 3
    (refusal,) = router.handle(tg("whoami", 3))
    assert LAST_OUTCOME.get() == "rate_limited"
    assert "请等待 5 秒" in refusal.text, "li reads Chinese, remembered without asking the database"
    for n in range(4, 30):  # the rest of the flood: dropped silently
        assert router.handle(tg("whoami", n)) == []
    assert events(db) == 3, "refused commands leave no trace in the database"
    clock.now += 5
    (again,) = router.handle(tg("whoami", 99))
    assert LAST_OUTCOME.get() == "ok" and again.title and "Li Lei" in again.title


def test_the_limit_holds_without_a_database_and_speaks_the_platform_language(tmp_path, settings):
    broken = Database(f"sqlite:///{tmp_path / 'missing' / 'crm.sqlite3'}")
    router = build_router(broken, settings, limiter=RateLimiter(burst=2, per_second=0.1, clock=Clock()))
    first = router.handle(tg("whoami", 1, user="9", hint="zh"))
    assert "请过一分钟再试" in first[0].text  # the database is down: the polite try-again
    router.handle(tg("whoami", 2, user="9", hint="zh"))
    (refusal,) = router.handle(tg("whoami", 3, user="9", hint="zh"))
    assert "你发送命令太快了" in refusal.text and "10" in refusal.text
    (english,) = [r for n in range(3) for r in router.handle(tg("whoami", 10 + n, user="8", hint="en"))][-1:]
    assert "too fast" in english.text
    broken.dispose()


def test_the_console_operator_is_not_limited(db, demo_org, settings):
    router = build_router(db, settings, limiter=RateLimiter(burst=1, per_second=0.01, clock=Clock()))
    for n in range(5):
        router.handle(Incoming(platform="console", workspace="local", chat_id="@li", user_id="li", command="whoami",
                               event_id=f"c{n}"))
        assert LAST_OUTCOME.get() == "ok"

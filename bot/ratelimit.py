"""Per-user rate limit, in process memory: a runaway script in a chat is refused before it
reaches the database.

A token bucket per (platform, workspace, user): `burst` commands at once, then `per_second`
sustained. Checking costs a dict lookup and a little arithmetic; no I/O. With several bot
processes each keeps its own buckets (a load balancer spreading one user's flood over N
processes lets N times the rate through, which still bounds it).
"""
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings

Key = tuple[str, str, str]
DEFAULT_BURST = 20
DEFAULT_PER_SECOND = 1.0
# Idle buckets are forgotten once this many are held (each is a few hundred bytes).
SWEEP_AT = 50_000


@dataclass
class Bucket:
    tokens: float
    stamp: float
    # The refusal reply goes out once per blocked streak, then the flood is dropped silently.
    warned: bool = False
    # The user's language as last seen by the router: the refusal needs no database read.
    locale: str | None = None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    wait_seconds: int = 0
    # False when the user was already told during this streak: answer nothing.
    tell: bool = True
    locale: str | None = None


class RateLimiter:
    def __init__(self, burst: int = DEFAULT_BURST, per_second: float = DEFAULT_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic):
        self.burst = float(burst)
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[Key, Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.burst > 0 and self.per_second > 0

    def check(self, key: Key) -> Verdict:
        """Take one token for this user, or say how long to wait for the next one."""
        if not self.enabled:
            return Verdict(True)
        now = self.clock()
        with self._lock:
            bucket = self._refilled(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.warned = False
                return Verdict(True, locale=bucket.locale)
            wait = max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))
            tell = not bucket.warned
            bucket.warned = True
            return Verdict(False, wait, tell, bucket.locale)

    def remember_locale(self, key: Key, locale: str) -> None:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.locale = locale

    def _refilled(self, key: Key, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= SWEEP_AT:
                self._sweep(now)
            bucket = self._buckets[key] = Bucket(self.burst, now)
            return bucket
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
        return bucket

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they hold nothing a fresh one would not."""
        full_after = self.burst / self.per_second
        for key in [k for k, b in self._buckets.items() if now - b.stamp >= full_after]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def from_settings(settings: Settings) -> RateLimiter:
    """RATE_LIMIT_BURST, then RATE_LIMIT_PER_SECOND; 0 turns the limit off."""
    return RateLimiter(settings.RATE_LIMIT_BURST, settings.RATE_LIMIT_PER_SECOND)

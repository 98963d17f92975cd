"""The answers this process handed to its front ends and has not yet heard back about.

A redelivered event whose kept answer was never confirmed sent (bot.services.core.answers) is
answered again, unless the first delivery may still be sending it: here, known exactly; in another
process, assumed while the event's claim is younger than OTHER_PROCESS_S.
"""
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.base import utcnow

# An answer handed out here and not heard of for this long is taken for lost (a front end that never
# reports must not keep an event silent, nor grow the table forever).
FORGET_S = 60.0
# Another process sending the first answer is assumed while the claim is younger than this: sending
# takes a second or two, a restart after a crash longer. A redelivery sooner gets nothing.
OTHER_PROCESS = timedelta(seconds=10)
_PRUNE_ABOVE = 1000


@dataclass
class _Handout:
    at: float  # time.monotonic() when handed out
    failed: bool = False  # the front end reported it could not send every reply


class Handouts:
    def __init__(self) -> None:
        self._handed: dict[object, _Handout] = {}
        self._lock = threading.Lock()

    def hand_out(self, key: object) -> None:
        """A fresh answer goes to the front end (noted before its commit: a retry waiting on the
        claim must find it on its way)."""
        with self._lock:
            self._put(key)

    def hand_out_again(self, key: object, claimed_at: datetime) -> bool:
        """May a redelivery of `key` get the kept answer? True (and noted as on its way) unless the
        first answer may still be sending: here, or, as far as this process knows nothing of it,
        in another process that claimed the event less than OTHER_PROCESS ago."""
        with self._lock:
            handout = self._live(key)
            if handout is None and utcnow() - claimed_at < OTHER_PROCESS:
                return False
            if handout is not None and not handout.failed:
                return False
            self._put(key)
            return True

    def sending(self, key: object) -> bool:
        """Handed out here and not reported on yet: the front end's report then updates the row."""
        with self._lock:
            handout = self._live(key)
            return handout is not None and not handout.failed

    def reported(self, key: object, delivered: bool) -> None:
        with self._lock:
            if delivered:
                self._handed.pop(key, None)
            elif key in self._handed:
                self._handed[key].failed = True

    def _live(self, key: object) -> _Handout | None:
        handout = self._handed.get(key)
        return handout if handout is not None and time.monotonic() - handout.at < FORGET_S else None

    def _put(self, key: object) -> None:
        now = time.monotonic()
        if len(self._handed) > _PRUNE_ABOVE:
            self._handed = {k: h for k, h in self._handed.items() if now - h.at < FORGET_S}
        self._handed[key] = _Handout(now)

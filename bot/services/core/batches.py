"""What set-based batches share: Python's cycle collector held off while one runs.

A batch such as the morning push (bot.services.plans.morning) keeps hundreds of thousands of young
objects alive at once (the rows read, every rep's stops and plan) until it writes them. Each full
pass of the collector scans all of them and, measured on a 10,000-rep push, ran six to eight times
during it: 1 to 2 s of 3.5. Nothing a batch makes becomes garbage before it ends, so the collector
waits; it runs again on its own schedule afterwards. Nested or concurrent batches (the scheduler's
threads) share one count: the collector resumes when the last one ends."""
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()

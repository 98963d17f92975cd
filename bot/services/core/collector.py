"""Python's cycle collector, kept off the paths where its full passes cost most.

- **Start-up frozen** (`freeze_start_up`, called by bot.app once a process is up; `thaw` when it
  stops). What start-up built (modules, templates, the frameworks' objects: hundreds of thousands)
  lives as long as the process. Left in the collector's oldest generation, every full pass scanned
  all of it: 120-150 ms with every thread stopped, landing on whichever answer was under way
  (measured in a bot process during a fan-out). Frozen, a full pass scans only what came later:
  2-3 ms there.
- **Held off during a batch** (`collector_paused`). A batch such as the morning push
  (bot.services.plans.morning) keeps hundreds of thousands of young objects alive at once (the rows
  read, every rep's stops and plan) until it writes them. Each full pass of the collector scans all
  of them and, measured on a 10,000-rep push, ran six to eight times during it: 1 to 2 s of 3.5.
  Nothing a batch makes becomes garbage before it ends, so the collector waits; it runs again on
  its own schedule afterwards. Nested or concurrent batches (the scheduler's threads) share one
  count: the collector resumes when the last one ends."""
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


def freeze_start_up() -> None:
    """Everything alive now is left out of every later pass (gc.freeze), after one last full pass."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """A process stopping (or a test's) gives what it froze back to the collector."""
    gc.unfreeze()

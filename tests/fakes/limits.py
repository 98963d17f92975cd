"""Platform rate limits for the fakes: sliding windows on the fake's own clock, and a log of posts.

A fake asks `RateLimits.check(chat_id)` when a send arrives: None lets it through, a `Rejection`
says which limit it broke and how long to wait (whole seconds, as both platforms answer). Once the
send succeeded the fake calls `accept(...)`, which counts it in the windows and records it with its
arrival time. `refuse(chat_id)` makes every send to one chat fail until `lift(chat_id)`, whatever
the limits. Tests read the log: `posts`, `rejections`, `most_in_window`, `duplicates`, `missing`.
"""
import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """At most `most` accepted sends in any `window_s` seconds."""

    name: str
    most: int
    window_s: float


@dataclass(frozen=True)
class Post:
    """One accepted send: what the chat now shows."""

    chat_id: str
    text: str
    at: float  # arrival time on the fake's clock
    method: str


@dataclass(frozen=True)
class Rejection:
    """One send answered 429: `rule` is the limit broken, or "refused" for a chat switched off."""

    chat_id: str
    rule: str
    at: float
    retry_after: int


# Which (window key, rule) pairs a send to this chat counts against.
RulesFor = Callable[[str], list[tuple[str, Rule]]]


@dataclass
class RateLimits:
    rules_for: RulesFor
    clock: Callable[[], float] = time.monotonic
    enforce: bool = True  # False: record posts and honour refuse(), but never limit
    posts: list[Post] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # chat id -> retry_after it answers
    _windows: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))

    # -- switches

    def refuse(self, chat_id: int | str, retry_after: int = 30) -> None:
        self.refused[str(chat_id)] = retry_after

    def lift(self, chat_id: int | str) -> None:
        self.refused.pop(str(chat_id), None)

    # -- at arrival

    def check(self, chat_id: int | str, at: float | None = None) -> Rejection | None:
        """The rejection this send earns on arrival, recorded; None when it may go through."""
        chat, now = str(chat_id), self.clock() if at is None else at
        if chat in self.refused:
            return self._reject(Rejection(chat, "refused", now, self.refused[chat]))
        if not self.enforce:
            return None
        for key, rule in self.rules_for(chat):
            wait = self._wait(key, rule, now)
            if wait > 0:
                return self._reject(Rejection(chat, rule.name, now, max(1, math.ceil(wait))))
        return None

    def accept(self, chat_id: int | str, text: str, method: str, at: float | None = None) -> Post:
        chat = str(chat_id)
        post = Post(chat, text, self.clock() if at is None else at, method)
        for key, rule in self.rules_for(chat):
            self._windows[(rule.name, key)].append(post.at)
        self.posts.append(post)
        return post

    def _wait(self, key: str, rule: Rule, now: float) -> float:
        """Seconds until one more send fits in this window (0: it fits now)."""
        times = self._windows[(rule.name, key)]
        while times and times[0] <= now - rule.window_s:
            times.popleft()
        if len(times) < rule.most:
            return 0.0
        return times[len(times) - rule.most] + rule.window_s - now

    def _reject(self, rejection: Rejection) -> Rejection:
        self.rejections.append(rejection)
        return rejection

    # -- what tests read

    def texts(self, chat_id: int | str) -> list[str]:
        return [p.text for p in self.posts if p.chat_id == str(chat_id)]

    def most_in_window(self, chat_id: int | str, window_s: float, tried: bool = False) -> int:
        """The most posts accepted into this chat within any `window_s` seconds; with `tried`, the
        most sends that arrived for it (the ones answered 429 too)."""
        chat = str(chat_id)
        times = [p.at for p in self.posts if p.chat_id == chat]
        if tried:
            times += [r.at for r in self.rejections if r.chat_id == chat]
        times.sort()
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window_s:
                start += 1
            most = max(most, end - start + 1)
        return most

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(chat, text) -> extra copies beyond the first, for every text a chat got more than once."""
        seen = Counter((p.chat_id, p.text) for p in self.posts)
        return {key: n - 1 for key, n in seen.items() if n > 1}

    def missing(self, expected: Iterable[tuple[int | str, str]]) -> list[tuple[str, str]]:
        """The (chat, text) pairs expected but never accepted: lost posts."""
        got = {(p.chat_id, p.text) for p in self.posts}
        return [(str(chat), text) for chat, text in expected if (str(chat), text) not in got]

    def chats(self) -> set[str]:
        return {p.chat_id for p in self.posts}


def too_many_by_rule(rejections: list[Rejection]) -> dict[str, int]:
    return dict(Counter(r.rule for r in rejections))

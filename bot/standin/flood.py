"""Telegram's flood control: strict sliding windows by default, token buckets on request.

Telegram documents about 30 messages per second overall, about one per second in a private
chat and 20 per minute in a group, and answers 429 "Too Many Requests: retry after N" beyond
that. It does not publish its algorithm, so the stand-in takes the conservative reading:

* ``strict`` (the default): sliding windows with no burst allowance. A message is accepted
  only if the window ending now holds fewer than the limit: 30 in any second for the bot, 1 in
  any second per private chat, 20 in any minute per group. A bot that passes this never relies
  on Telegram forgiving a burst.
* ``burst``: token buckets (30/s with a burst of 30, 1/s with a burst of 3 per private chat,
  20/min with a burst of 20 per group), the lenient reading some fakes use; kept for comparison.

Paid broadcasts: a message sent with ``allow_paid_broadcast`` by a bot that has paid broadcasts
enabled may go beyond the free limit, up to 1,000 messages in any second overall. It is *billed*
(0.1 Star, only once it is accepted) when the free limit had no room for it: at most 30 messages
in any second go free, and the free window counts only the messages that were not billed; the
paid window counts every message. That is the Bot API's "each message broadcasted over the free
amount of 30 messages per second incurs a cost of 0.1 Stars", read as a sliding window. The
per-chat limits apply to paid messages as to any other.

Only sends and edits are limited (the caller decides which requests count). Time comes from the
injected ``clock`` so tests are deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Literal

__all__ = ["FloodControl", "FloodModel"]

FloodModel = Literal["strict", "burst"]

OVERALL_PER_SECOND = 30
PRIVATE_PER_SECOND = 1
GROUP_PER_MINUTE = 20
PAID_PER_SECOND = 1000


class _Window:
    """At most ``limit`` accepted messages in any ``seconds`` (the window ``(now - s, now]``)."""

    __slots__ = ("limit", "seconds", "stamps")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more message fits (0 if it fits now)."""
        stamps = self.stamps
        while stamps and stamps[0] <= now - self.seconds:
            stamps.popleft()
        if len(stamps) < self.limit:
            return 0.0
        return stamps[0] + self.seconds - now

    def take(self, now: float) -> None:
        self.stamps.append(now)

    def idle(self, now: float) -> bool:
        """Nothing in the window: forgetting it changes nothing."""
        self.wait(now)
        return not self.stamps


class _Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``capacity`` saved up."""

    __slots__ = ("capacity", "last", "rate", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.last = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if there is one), refilling first."""
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.last = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.tokens -= 1

    def idle(self, now: float) -> bool:
        self.wait(now)
        return self.tokens >= self.capacity


_Limit = _Window | _Bucket


class FloodControl:
    """Decides whether the bot may send to a chat now; see the module docstring for the limits.

    Call :meth:`check` first; if it returns ``None`` the request is accepted and :meth:`record`
    must follow (with no time passing in between: ``check`` brings the limits up to date).
    """

    __slots__ = ("_billed", "_chats", "_clock", "_global", "_model", "_now", "_paid")

    def __init__(self, clock: Callable[[], float], model: FloodModel = "strict") -> None:
        self._clock = clock
        self._model = model
        now = clock()
        self._now = now
        self._global: _Limit = (
            _Window(OVERALL_PER_SECOND, 1.0)
            if model == "strict"
            else _Bucket(float(OVERALL_PER_SECOND), float(OVERALL_PER_SECOND), now)
        )
        self._paid: _Limit = (
            _Window(PAID_PER_SECOND, 1.0)
            if model == "strict"
            else _Bucket(float(PAID_PER_SECOND), float(PAID_PER_SECOND), now)
        )
        self._chats: dict[int, _Limit] = {}
        self._billed = False

    @property
    def model(self) -> FloodModel:
        return self._model

    def _limit_for(self, chat_id: int, now: float) -> _Limit:
        if self._model == "strict":
            if chat_id > 0:
                return _Window(PRIVATE_PER_SECOND, 1.0)
            return _Window(GROUP_PER_MINUTE, 60.0)
        if chat_id > 0:
            return _Bucket(1.0, 3.0, now)
        return _Bucket(GROUP_PER_MINUTE / 60.0, float(GROUP_PER_MINUTE), now)

    def check(self, chat_id: int, *, paid: bool = False) -> int | None:
        """``None`` if a message to ``chat_id`` may go now, else the ``retry_after`` seconds.

        ``paid``: sent with ``allow_paid_broadcast`` by a bot that may use it; such a message
        may go when the free limit is full but the paid one is not, and is then billed (see
        :attr:`billed`).
        """
        now = self._clock()
        self._now = now
        limit = self._chats.get(chat_id)
        if limit is None:
            limit = self._chats[chat_id] = self._limit_for(chat_id, now)
        chat_wait = limit.wait(now)
        total_wait = self._paid.wait(now)
        free_wait = self._global.wait(now)
        self._billed = paid and free_wait > 0
        wait = max(chat_wait, total_wait, 0.0 if paid else free_wait)
        if wait > 0:
            return max(1, int(-(-wait // 1)))
        return None

    @property
    def checked_at(self) -> float:
        """The clock reading of the last :meth:`check`: when an accepted message was counted."""
        return self._now

    @property
    def billed(self) -> bool:
        """Whether the message the last successful :meth:`check` accepted went beyond the free
        limit (a paid broadcast: 0.1 Star once it is sent)."""
        return self._billed

    def record(self, chat_id: int) -> None:
        """Count an accepted message to ``chat_id`` (right after a successful :meth:`check`)."""
        now = self._now
        if not self._billed:
            self._global.take(now)
        self._paid.take(now)
        self._chats[chat_id].take(now)
        if len(self._chats) > 50_000:  # forget chats whose windows are empty again
            self._chats = {c: w for c, w in self._chats.items() if not w.idle(now)}

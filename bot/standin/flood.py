"""Telegram's flood control, approximated by token buckets.

Telegram documents about 30 messages per second overall, about one per second in a private
chat and 20 per minute in a group, and answers 429 "Too Many Requests: retry after N" beyond
that. The model here: one bucket for the whole bot (30/s, burst 30), one per private chat (1/s,
burst 3) and one per group (20/min, burst 20). A request is accepted only if every bucket it
draws from has a whole token.

Only sends and edits are limited (the caller decides which requests count). Time comes from the
injected ``clock`` so tests are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["FloodControl"]


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


class FloodControl:
    """Decides whether the bot may send to a chat now; see the module docstring for the limits.

    Call :meth:`check` first; if it returns ``None`` the request is accepted and :meth:`record`
    must follow (with no time passing in between: ``check`` brings the buckets up to date).
    """

    __slots__ = ("_chats", "_clock", "_global")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._global = _Bucket(30.0, 30.0, clock())
        self._chats: dict[int, _Bucket] = {}

    def check(self, chat_id: int) -> int | None:
        """``None`` if a message to ``chat_id`` may go now, else the ``retry_after`` seconds."""
        now = self._clock()
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = _Bucket(1.0, 3.0, now) if chat_id > 0 else _Bucket(20.0 / 60.0, 20.0, now)
            self._chats[chat_id] = bucket
        wait = max(self._global.wait(now), bucket.wait(now))
        if wait > 0:
            return max(1, int(-(-wait // 1)))
        return None

    def record(self, chat_id: int) -> None:
        """Count an accepted message to ``chat_id`` (right after a successful :meth:`check`)."""
        self._global.tokens -= 1
        self._chats[chat_id].tokens -= 1

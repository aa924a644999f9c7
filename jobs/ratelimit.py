"""PTB's AIORateLimiter, except that flood control pauses one chat instead of the whole bot.

AIORateLimiter keeps the overall limit (30 requests/s) and the per-group limit (20/min), which
is what we want. But on a `RetryAfter` it halts *every* request for that long, so one chat's
flood control would stall a fan-out to a thousand other chats. Here a `RetryAfter` pauses only
the chat it came from; if several different chats are told to wait within one second, the limit
is evidently global and everything pauses, for the time Telegram asked and no longer.

`rate_limit_args` is the number of retries for this call (0: raise `RetryAfter` at once, which
the delivery worker uses to do its own waiting); None means the configured default.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
GLOBAL_SIGNAL_CHATS = 3  # this many distinct chats told to wait within a second = global limit


def retry_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (PTB moves from int to timedelta)."""
    value: Any = exc._retry_after  # noqa: SLF001 - the public property warns while PTB migrates
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


class FairRateLimiter(AIORateLimiter):
    """AIORateLimiter with per-chat handling of RetryAfter (see the module docstring)."""

    def __init__(self, *, max_retries: int = 2, overall_max_rate: float = 30.0) -> None:
        super().__init__(max_retries=max_retries, overall_max_rate=overall_max_rate)
        self._paused: dict[int | str | None, float] = {}  # chat (None: all) -> loop time
        self._recent: list[tuple[float, int | str | None]] = []
        self.retry_after_count = 0

    def paused_for(self, chat: int | str | None) -> float:
        """Seconds until `chat` (or, with None, every chat) may be sent to again."""
        now = asyncio.get_running_loop().time()
        until = max(self._paused.get(chat, 0.0), self._paused.get(None, 0.0))
        return max(0.0, until - now)

    def note_retry_after(self, chat: int | str | None, seconds: float) -> None:
        """Record a flood-control answer for `chat`; may escalate to a global pause."""
        self.retry_after_count += 1
        now = asyncio.get_running_loop().time()
        until = now + seconds + 0.05
        self._paused[chat] = max(self._paused.get(chat, 0.0), until)
        self._recent = [(t, c) for t, c in self._recent if now - t < 1.0]
        self._recent.append((now, chat))
        if len({c for _, c in self._recent}) >= GLOBAL_SIGNAL_CHATS:
            self._paused[None] = max(self._paused.get(None, 0.0), until)
        if len(self._paused) > 4096:
            self._paused = {k: v for k, v in self._paused.items() if v > now}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        max_retries = self._max_retries if rate_limit_args is None else rate_limit_args
        chat_id: Any = data.get("chat_id")
        chat = chat_id is not None
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)
        group: int | str | bool = False
        if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
            group = chat_id
        key: int | str | None = chat_id if isinstance(chat_id, int | str) else None
        paid = bool(data.get("allow_paid_broadcast", False))
        attempt = 0
        while True:
            if chat:
                wait = self.paused_for(key)
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                return await self._run_request(
                    chat=chat,
                    group=group,
                    allow_paid_broadcast=paid,
                    callback=callback,
                    args=args,
                    kwargs=kwargs,
                )
            except RetryAfter as exc:
                self.note_retry_after(key, retry_seconds(exc))
                if attempt >= max_retries:
                    raise
                attempt += 1
                log.info("flood control for %s: waiting %.1fs", key, retry_seconds(exc))

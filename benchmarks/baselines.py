"""Yesterday's behaviour, kept only to measure against: the product no longer has it.

* `FairRateLimiter`: the rate limiter before the pacer (PTB's `AIORateLimiter`, a leaky bucket
  of 30/s and 20/min per group, with per-chat handling of `RetryAfter`), copied unchanged.
* `TickPoller`: the poller whose tick held one lock and gathered every due feed, so that a tick
  lasted as long as its slowest feed and nothing else was polled meanwhile (`poll_due` as it
  was), and the JobQueue's `max_instances=1` skipped the ticks that came in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from jobs.polling import Poller, PollReport
from jobs.ratelimit import retry_seconds
from storage import feeds

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
GLOBAL_SIGNAL_CHATS = 3
MAX_CONCURRENT_HOSTS = 8


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


@dataclass
class TickPoller(Poller):
    """`Poller` with the tick of before: one lock, every due feed gathered, then return."""

    _tick_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start_due(self, report: PollReport | None = None) -> list[asyncio.Task[None]]:
        await self.poll_due()
        return []

    async def poll_due(self) -> PollReport:
        report = PollReport()
        if self._tick_lock.locked():
            return report
        async with self._tick_lock:
            due = await feeds.due_feeds(self.db, [v.visit_id for v in self.visits], self.clock())
            by_host: dict[str, list[feeds.Feed]] = defaultdict(list)
            for feed in due:
                by_host[urlsplit(feed.url).hostname or feed.url].append(feed)
            limit = asyncio.Semaphore(MAX_CONCURRENT_HOSTS)

            async def poll_host(host_feeds: list[feeds.Feed]) -> None:
                async with limit:
                    for index, feed in enumerate(host_feeds):
                        if index:
                            await asyncio.sleep(self.host_spacing)
                        started = time.perf_counter()
                        outcome = await self.poll_feed(feed, report)
                        report.outcomes[feed.id] = outcome
                        if self.on_polled is not None:
                            self.on_polled(outcome, time.perf_counter() - started)

            await asyncio.gather(*(poll_host(group) for group in by_host.values()))
        return report

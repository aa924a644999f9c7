"""How updates are handled at once: different chats concurrently, one chat in order, fairly.

PTB handles updates one at a time unless given an update processor; then one slow handler (an
`/addfeed` fetching a feed for a minute) or one person sending 200 commands holds up everybody.
`FairUpdateProcessor` is a `BaseUpdateProcessor` (PTB's public contract, nothing else), so it
composes with any wrapper of `Application.process_update`:

* Order: updates with the same key run one after another, in arrival order. The key is the
  chat (a message, a button press in it, a member change), else the user (inline queries),
  else none (such updates run unordered). A `ConversationHandler` keyed by chat and user
  therefore sees its updates one at a time, as PTB requires.
* Bound: at most `max_running` updates run at once; as each chat has at most one update
  running or waiting for a slot, the slots go round the chats that are waiting, not to whoever
  sent most.
* Fairness: a user with `per_user_backlog` updates already waiting or running has further ones
  dropped until their backlog drains, and is told once (`updates.flood_notice`, at most once a
  minute, in their chat and after what they were already answered). A newer inline query from
  the same user replaces one still waiting (Telegram shows only the answer to the latest).

PTB's own bound (`max_concurrent_updates`, its semaphore around `do_process_update`) is set to
`max_pending`: it counts waiting updates too, and with the real bound there a flood from one
chat would fill it and stall every other chat.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.i18n import resolve_language, t

log = logging.getLogger(__name__)

MAX_RUNNING = 16
PER_USER_BACKLOG = 8
MAX_PENDING = 4096
NOTICE_EVERY = 60.0  # seconds between two flood notices to one user

Key = tuple[str, int]
Notice = Callable[[Update], Awaitable[None]]


async def flood_notice(update: Update) -> None:
    """Tell the sender, once, that their excess was skipped (in their app's language)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None:
        return
    lang = resolve_language(None, user.language_code)
    try:
        await update.get_bot().send_message(
            chat.id if chat is not None else user.id, t(lang, "updates.flood_notice")
        )
    except TelegramError as exc:  # an inline user who never started the bot, say
        log.info("flood notice to %s not sent: %s", user.id, exc)


def update_keys(update: object) -> tuple[Key | None, int | None]:
    """(ordering key, user) of an update; None where it has none."""
    if not isinstance(update, Update):
        return None, None
    user = update.effective_user
    user_id = user.id if user is not None else None
    chat = update.effective_chat
    if chat is not None:
        return ("chat", chat.id), user_id
    if user_id is not None:
        return ("user", user_id), user_id
    return None, None


def _discard(coroutine: Awaitable[Any]) -> None:
    """A coroutine that will never run: close it, or Python warns that it was never awaited."""
    if inspect.iscoroutine(coroutine):
        coroutine.close()


class FairUpdateProcessor(BaseUpdateProcessor):
    """Per-chat order, a global bound and per-user fairness (see the module docstring)."""

    def __init__(
        self,
        *,
        max_running: int = MAX_RUNNING,
        per_user_backlog: int = PER_USER_BACKLOG,
        max_pending: int = MAX_PENDING,
        notice: Notice = flood_notice,
        on_discard: Callable[[object], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates=max_pending)
        self.max_running = max_running
        self.per_user_backlog = per_user_backlog
        self.notice = notice
        # Told of every update that is dropped or merged, never run: the update inbox marks it
        # settled, or a restart would replay the flood.
        self.on_discard = on_discard
        self._slots = asyncio.Semaphore(max_running)
        self._chains: dict[Key, asyncio.Lock] = {}
        self._chain_refs: Counter[Key] = Counter()
        self._backlog: Counter[int] = Counter()
        self._noticed: dict[int, float] = {}
        self._latest_inline: dict[int, int] = {}
        self.dropped = 0
        self.merged = 0

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for the updates in progress before shutting down."""

    def backlog(self, user_id: int) -> int:
        """Updates of this user waiting or running (for tests and metrics)."""
        return self._backlog.get(user_id, 0)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key, user = update_keys(update)
        if user is not None and self._backlog[user] >= self.per_user_backlog:
            _discard(coroutine)
            await self._discarded(update)
            self.dropped += 1
            now = time.monotonic()
            if not isinstance(update, Update) or now - self._noticed.get(user, -1e9) < (
                NOTICE_EVERY
            ):
                return
            if len(self._noticed) > 1000:
                self._noticed = {
                    u: at for u, at in self._noticed.items() if now - at < NOTICE_EVERY
                }
            self._noticed[user] = now
            log.info("user %s floods the bot; excess updates are dropped", user)
            coroutine = self.notice(update)  # in the chat's order, after what was accepted
        inline = isinstance(update, Update) and update.inline_query is not None
        if inline and user is not None and isinstance(update, Update):
            self._latest_inline[user] = update.update_id
        if user is not None:
            self._backlog[user] += 1
        try:
            if key is None:
                async with self._slots:
                    await coroutine
                return
            self._chain_refs[key] += 1
            lock = self._chains.setdefault(key, asyncio.Lock())
            try:
                async with lock:
                    if inline and not self._is_latest(update, user):
                        _discard(coroutine)
                        await self._discarded(update)
                        self.merged += 1
                        return
                    async with self._slots:
                        await coroutine
            finally:
                self._chain_refs[key] -= 1
                if not self._chain_refs[key]:
                    del self._chain_refs[key]
                    del self._chains[key]
        finally:
            if user is not None:
                self._backlog[user] -= 1
                if not self._backlog[user]:
                    del self._backlog[user]

    async def _discarded(self, update: object) -> None:
        if self.on_discard is not None:
            try:
                await self.on_discard(update)
            except Exception:  # the inbox being unavailable must not stop the processor
                log.exception("could not settle a discarded update")

    def _is_latest(self, update: object, user: int | None) -> bool:
        if user is None or not isinstance(update, Update):
            return True
        latest = self._latest_inline.get(user)
        if latest == update.update_id:
            del self._latest_inline[user]
            return True
        return latest is None

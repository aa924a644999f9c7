"""The delivery worker: drains the alert outbox to Telegram, fast and without losing anything.

How it works
------------
One loop claims due deliveries ('pending' -> 'sending', all due rows of a chat at once) for as
many chats as there are free slots, and starts one task per chat. A chat task has its alerts
rendered into as few messages as fit (by the `AlertRenderer` the Telegram side passes in:
`bot.alert_render`), sends them, and queues the outcomes; a flusher
writes outcomes in batches, one transaction per batch, because a transaction per message would
itself become the bottleneck long before Telegram's limits do.

Guarantees
----------
* Nothing is lost: rows are claimed before sending and marked after; on start-up every 'sending'
  row goes back to 'pending'. A crash can repeat only what was in flight or sent but not yet
  recorded (at most `concurrency` chats plus one flush interval).
* Limits: the application's rate limiter (`jobs.ratelimit.Pacer`) keeps every limit, overall
  and per chat; the worker marks its sends as bulk (`rate_limit_args`) so that replies to people
  go first. The worker itself only keeps enough chats in flight to use every slot.
* Paid broadcasts (`paid_max_messages`, from PAID_BROADCAST): direct alerts (private chats
  only; never groups or channels) go with a `PaidBudget` per alert, and the pacer sends them
  as paid broadcasts (`allow_paid_broadcast`) while the budget lasts. A message that bundles
  several alerts is charged to the first of them. Each budget starts from what the alert
  already spent (`alert_totals.paid_messages`, written with the outcomes), so a restart does
  not start the cap again; once it is used up, the alert's remaining messages go without the
  flag, at the free rate.
* Channels: one post per alert, never held for quiet hours or a digest.
* Errors: a RetryAfter that gets past the limiter waits the given time for that chat only and
  tries again; Forbidden, "chat not found" and, in groups and channels, "not enough rights"
  deactivate the chat (for a group, the person who subscribed it is told, through
  `on_chat_lost`); ChatMigrated moves the subscription and re-queues the rows for the new chat
  id; time-outs, network errors and 5xx are retried with backoff and then marked 'failed'; an
  HTML parse error (a bug) is logged and the alert re-sent as plain text.
* Anything unexpected (a rendering bug, another TelegramError, a database hiccup) in a chat's
  task is logged with the chat id and ends that chat's unsent rows as 'failed' with the error:
  retrying a bug only repeats it, and a row left 'sending' would wait for the next restart. A
  failure while preparing a batch puts the claimed rows back to 'pending'; the loop itself logs
  any error, pauses briefly and carries on, so one bad row never stops delivery for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import ExtBot

from jobs.ratelimit import Pace, PaidBudget, retry_seconds
from storage.alerts import (
    ChatPrefs,
    DueDelivery,
    Outcome,
    any_due,
    claim_due,
    next_due_at,
    paid_messages,
    postpone,
    quiet_until,
    record_outcomes,
    recover_in_flight,
    register_waker,
    release,
    release_chat,
    unregister_waker,
)
from storage.db import Clock, Database, from_db_time
from storage.subscriptions import ChatView, LostChat, chat_views, deactivate, migrate_chat

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_ROUNDS = 20  # a chat still flood-limited after this many waits goes back
# Telegram's answers when the bot may no longer post in a group or channel it is still in.
NO_RIGHTS = (
    "not enough rights",
    "have no rights to send",
    "chat_write_forbidden",
    "need administrator rights",
    "chat_restricted",
)
ERROR_PAUSE = 1.0  # seconds the loop waits after an unexpected error, so it cannot spin
BUDGETS_KEPT = 1000  # alerts whose paid budget stays in memory (older ones are reloaded)


class RenderedAlerts(Protocol):
    """One message to send and the indexes (in the rows given) of the alerts it carries."""

    @property
    def html(self) -> str: ...

    @property
    def alerts(self) -> tuple[int, ...]: ...


class AlertRenderer(Protocol):
    """Turns a chat's due rows into messages: the Telegram side's rendering, passed in."""

    def render(
        self, rows: Sequence[DueDelivery], chat: ChatView | None
    ) -> Sequence[RenderedAlerts]: ...

    def plain(self, html: str) -> str:
        """The same message as plain text, for when Telegram refuses the HTML."""
        ...


ChatLostCallback = Callable[[LostChat], Awaitable[None]]


class DeliveryWorker:
    """Owns the delivery loop of one running application (`Services.delivery`)."""

    def __init__(
        self,
        bot: ExtBot[Any],
        db: Database,
        renderer: AlertRenderer,
        *,
        clock: Clock,
        time_zones: Mapping[int, dt.tzinfo],
        rate_limit_args: object = None,
        on_chat_lost: ChatLostCallback | None = None,
        is_running: Callable[[], bool] = lambda: True,
        concurrency: int = 32,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0, 8.0),
        poll_interval: float = 2.0,
        flush_interval: float = 0.05,
        flush_batch: int = 100,
        paid_max_messages: int = 0,
    ) -> None:
        self.bot = bot
        self.db = db
        self.renderer = renderer
        self.clock = clock
        # visit id -> its zone: the quiet hours of a chat that chose no zone are the visit's
        self.time_zones = time_zones
        # passed on every send: `jobs.ratelimit.BULK` puts alerts behind replies (None: no
        # limiter, or one that knows no priorities)
        self.rate_limit_args = rate_limit_args
        self.on_chat_lost = on_chat_lost
        self.is_running = is_running
        self.concurrency = concurrency
        self.retry_delays = tuple(retry_delays)  # one entry per retry: len+1 attempts in all
        self.poll_interval = poll_interval
        self.flush_interval = flush_interval
        self.flush_batch = flush_batch
        # Paid broadcasts: the cap per alert in billed messages (0: off), and each alert's
        # budget (what it spent, as persisted on the last flush)
        self.paid_max_messages = paid_max_messages if isinstance(rate_limit_args, Pace) else 0
        self._budgets: dict[int, PaidBudget] = {}
        self._budgets_written: dict[int, int] = {}
        self.sent_messages = 0
        self.plain_fallbacks = 0
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        recovered = await recover_in_flight(self.db)
        if recovered:
            log.warning("re-queued %d deliveries that were in flight at the last stop", recovered)
        register_waker(self.wake)
        self._loop_task = asyncio.create_task(self._run(), name="delivery-loop")
        self._flush_task = asyncio.create_task(self._flusher(), name="delivery-flush")

    async def stop(self) -> None:
        """Stop at once; unfinished rows stay 'sending' and are re-sent after the next start."""
        self._stopping = True
        unregister_waker(self.wake)
        tasks = [t for t in (self._loop_task, self._flush_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush()

    def wake(self) -> None:
        self._wake.set()

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is due or in flight and every outcome is written (for tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self._idle.clear()
            self.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), max(0.01, deadline - loop.time()))
                return
        raise TimeoutError("delivery worker did not become idle")

    # --- the loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        """The loop; it must outlive any error, or every later alert would wait for a restart."""
        while not self._stopping:
            try:
                await self._round()
            except Exception:
                log.exception("delivery loop failed; continuing after a pause")
                await asyncio.sleep(ERROR_PAUSE)

    async def _round(self) -> None:
        """Claim what is due for the free slots, start a task per chat, then sleep if idle."""
        self._wake.clear()
        free = self.concurrency - len(self._busy)
        claimed: dict[int, list[DueDelivery]] = {}
        if free > 0 and (free >= max(1, self.concurrency // 4) or not self._busy):
            try:
                claimed = await claim_due(
                    self.db,
                    self.clock(),
                    max_chats=free,
                    exclude_chats=set(self._busy),
                )
            except Exception:
                log.exception("claiming deliveries failed")
                await asyncio.sleep(ERROR_PAUSE)
                return
            try:
                views = await chat_views(self.db, list(claimed))
            except Exception:
                # The rows are claimed but no task owns them: hand them back, or they would sit
                # in 'sending' until the next restart.
                log.exception("preparing deliveries for %d chats failed", len(claimed))
                await self._release_claimed(claimed)
                await asyncio.sleep(ERROR_PAUSE)
                return
            claimed = await self._hold_quiet_chats(claimed, views)
            await self._load_budgets(claimed)
            for chat_id, rows in claimed.items():
                self._busy.add(chat_id)
                task = asyncio.create_task(self._deliver_chat(chat_id, rows, views.get(chat_id)))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        if claimed and len(claimed) >= free:
            return  # slots are full; a finishing task wakes us
        if not claimed and not self._busy and not self._outcomes and not await self._due():
            self._idle.set()
        await self._sleep(await self._timeout())

    async def _hold_quiet_chats(
        self, claimed: dict[int, list[DueDelivery]], views: dict[int, ChatView]
    ) -> dict[int, list[DueDelivery]]:
        """Rows of chats now in quiet hours go back until the hours end; the rest go out.

        `not_before` already honours quiet hours as they were when the alert was created; an
        alert that waited since (the bot was down, a long fan-out, flood control) must not
        arrive in the middle of the night anyway.
        """
        now = self.clock()
        ready: dict[int, list[DueDelivery]] = {}
        for chat_id, rows in claimed.items():
            view = views.get(chat_id)
            if view is not None and view.channel:  # no quiet hours in a channel
                ready[chat_id] = rows
                continue
            prefs = (
                ChatPrefs(view.timezone, view.quiet_start, view.quiet_end, view.digest_hour)
                if view
                else None
            )
            zone = self.time_zones.get(rows[0].visit_id, dt.UTC)
            until = quiet_until(prefs, now, zone) if prefs else None
            if until is None:
                ready[chat_id] = rows
                continue
            try:
                await postpone(self.db, [row.id for row in rows], until)
            except Exception:
                log.exception("holding deliveries for quiet hours of chat %s failed", chat_id)
                ready[chat_id] = rows  # better late at night than stuck in 'sending'
        return ready

    async def _load_budgets(self, claimed: dict[int, list[DueDelivery]]) -> None:
        """The paid budget of each alert about to be sent to private chats, resumed from what
        the alert already spent (a restart, or an alert whose budget left memory)."""
        if not self.paid_max_messages:
            return
        for alert_id in sorted({r.alert_id for c, rows in claimed.items() if c > 0 for r in rows}):
            if alert_id in self._budgets:
                continue
            try:
                spent = await paid_messages(self.db, alert_id)
            except Exception:  # without the total, spend nothing rather than too much
                log.exception("reading the paid spend of alert %s failed", alert_id)
                spent = self.paid_max_messages
            if len(self._budgets) >= BUDGETS_KEPT:
                oldest = next(iter(self._budgets))
                if not self._budgets[oldest].reserved:
                    self._budgets.pop(oldest)
                    self._budgets_written.pop(oldest, None)
            self._budgets[alert_id] = PaidBudget(self.paid_max_messages, spent)
            self._budgets_written[alert_id] = spent

    def budget(self, alert_id: int) -> PaidBudget | None:
        """The paid budget of an alert in memory (None: none, or paid broadcasts are off)."""
        return self._budgets.get(alert_id)

    async def _release_claimed(self, claimed: dict[int, list[DueDelivery]]) -> None:
        """Put claimed rows back to 'pending' (not counted as an attempt)."""
        ids = [row.id for rows in claimed.values() for row in rows]
        try:
            await release(self.db, ids)
        except Exception:  # the database is down: start-up recovery re-queues them
            log.exception("releasing %d claimed deliveries failed", len(ids))

    async def _due(self) -> bool:
        """Whether any pending delivery is due now."""
        return await any_due(self.db, self.clock())

    async def _timeout(self) -> float:
        timeout = self.poll_interval
        if not self._busy:
            due = await next_due_at(self.db)
            if due is not None:
                wait = (from_db_time(due) - self.clock()).total_seconds()
                timeout = min(timeout, max(0.01, wait))
        return timeout

    async def _sleep(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())
        self._wake.set()

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.flush_interval)
            self._flush_now.clear()
            try:
                await self._flush()
            except Exception:
                log.exception("recording delivery outcomes failed; will retry")
                await asyncio.sleep(1.0)

    async def _flush(self) -> None:
        paid = {
            alert_id: budget.spent
            for alert_id, budget in self._budgets.items()
            if budget.spent != self._budgets_written.get(alert_id)
        }
        if not self._outcomes and not paid:
            return
        batch, self._outcomes = self._outcomes, []
        try:
            await record_outcomes(self.db, batch, paid)
        except BaseException:
            self._outcomes[:0] = batch
            raise
        self._budgets_written.update(paid)
        self._wake.set()

    def _record(self, outcomes: list[Outcome]) -> None:
        self._outcomes.extend(outcomes)
        if len(self._outcomes) >= self.flush_batch:
            self._flush_now.set()

    # --- one chat -----------------------------------------------------------------------

    async def _deliver_chat(
        self, chat_id: int, rows: list[DueDelivery], view: ChatView | None
    ) -> None:
        """Send a chat's claimed rows; every row ends recorded, re-queued or (on error) failed."""
        settled: set[int] = set()  # rows with an outcome, or handed back to the queue
        try:
            now = self.clock()
            fresh: list[DueDelivery] = []
            stale: list[Outcome] = []
            for row in rows:
                if row.kind == "reminder" and _started(row.payload, now):
                    stale.append(Outcome(row.id, "dropped", error="reminder after the start"))
                else:
                    fresh.append(row)
            self._settle(settled, stale)
            if fresh:
                await self._send_rows(chat_id, fresh, view, settled)
        except Exception as exc:
            # A bug or an error no branch of `_send` expects: retrying would repeat it, and
            # leaving the rows 'sending' would strand them until a restart.
            log.exception("delivery to chat %s failed", chat_id)
            error = f"{type(exc).__name__}: {exc}"[:500]
            self._record(
                [Outcome(r.id, "failed", None, error) for r in rows if r.id not in settled]
            )
        finally:
            self._busy.discard(chat_id)

    def _settle(self, settled: set[int], outcomes: list[Outcome]) -> None:
        """Queue outcomes and note their rows as done, so an error later cannot fail them."""
        self._record(outcomes)
        settled.update(o.delivery_id for o in outcomes)

    async def _send_rows(
        self, chat_id: int, rows: list[DueDelivery], view: ChatView | None, settled: set[int]
    ) -> None:
        messages = self.renderer.render(rows, view)
        for index, message in enumerate(messages):
            group = [rows[i] for i in message.alerts]
            budget = self._budgets.get(group[0].alert_id) if chat_id > 0 else None
            result = await self._send(chat_id, message.html, budget)
            if isinstance(result, int):
                stamp = self.clock()
                self._settle(settled, [Outcome(r.id, "sent", result, None, stamp) for r in group])
                continue
            status, error = result
            if status == "requeued":  # migrated or still flood-limited: the rows wait in the queue
                settled.update(r.id for r in rows)
                return
            if status == "dropped":  # the chat is gone: nothing else can reach it either
                rest = [rows[i] for m in messages[index:] for i in m.alerts]
                self._settle(settled, [Outcome(r.id, "dropped", None, error[:500]) for r in rest])
                return
            self._settle(settled, [Outcome(r.id, "failed", None, error[:500]) for r in group])

    async def _send(
        self, chat_id: int, html: str, budget: PaidBudget | None = None
    ) -> int | tuple[str, str]:
        """Send one message: its message_id, or (status, error): requeued, dropped, failed.

        With a `budget` that is not used up, as a paid broadcast charged to it.
        """
        bot = self.bot
        failures = 0
        flood_rounds = 0
        plain = False
        while True:
            paid = budget is not None and not budget.exhausted
            pace = self.rate_limit_args
            if paid and isinstance(pace, Pace):
                pace = Pace(bulk=pace.bulk, retries=pace.retries, budget=budget)
            try:
                message = await bot.send_message(
                    chat_id,
                    self.renderer.plain(html) if plain else html,
                    parse_mode=None if plain else ParseMode.HTML,
                    disable_web_page_preview=True,
                    rate_limit_args=pace,  # the pacer sets allow_paid_broadcast on paid slots
                )
                self.sent_messages += 1
                return int(message.message_id)
            except RetryAfter as exc:  # the limiter's own retries did not suffice
                flood_rounds += 1
                if flood_rounds >= MAX_RETRY_AFTER_ROUNDS:
                    log.warning("chat %s still flood-limited; back to the queue", chat_id)
                    return await self._requeue_for(chat_id)
                await asyncio.sleep(retry_seconds(exc) + 0.05)
            except ChatMigrated as exc:
                await self._flush()  # what went out before the move must stay 'sent'
                new_id = int(exc.new_chat_id)
                await migrate_chat(self.db, chat_id, new_id, self.clock())
                self.wake()
                return ("requeued", "migrated")
            except Forbidden as exc:
                return await self._lost(chat_id, f"forbidden: {exc.message}")
            except BadRequest as exc:
                text = exc.message.lower()
                if "chat not found" in text or "chat_id is empty" in text:
                    return await self._lost(chat_id, exc.message)
                if chat_id < 0 and any(marker in text for marker in NO_RIGHTS):
                    return await self._lost(chat_id, f"no rights: {exc.message}")
                if "can't parse entities" in text and not plain:
                    log.error("Telegram rejected alert HTML for %s (%s): %r", chat_id, exc, html)
                    self.plain_fallbacks += 1
                    plain = True
                    continue
                log.error("alert to %s refused: %s", chat_id, exc.message)
                return ("failed", exc.message)
            except NetworkError as exc:  # time-outs, connection errors and 5xx
                if failures >= len(self.retry_delays):
                    log.warning("giving up on %s after %d attempts: %s", chat_id, failures + 1, exc)
                    return ("failed", f"{type(exc).__name__}: {exc.message}")
                await asyncio.sleep(self.retry_delays[failures])
                failures += 1
            except RuntimeError:
                if self._stopping or not self.is_running():
                    await asyncio.Event().wait()  # shutting down: stop here, rows stay 'sending'
                raise

    async def _lost(self, chat_id: int, reason: str) -> tuple[str, str]:
        """The bot may no longer post here: stop trying, and tell a group's subscriber once."""
        lost = await deactivate(self.db, chat_id, reason, self.clock())
        if lost is not None and chat_id < 0 and self.on_chat_lost is not None:
            try:
                await self.on_chat_lost(lost)
            except Exception:
                log.exception("telling the subscriber of chat %s failed", chat_id)
        return ("dropped", reason)

    async def _requeue_for(self, chat_id: int) -> tuple[str, str]:
        await self._flush()  # rows already sent must not go back to the queue
        await release_chat(self.db, chat_id)
        return ("requeued", "flood control")


def _started(payload: dict[str, Any], now: dt.datetime) -> bool:
    try:
        starts = dt.datetime.fromisoformat(str(payload.get("starts_at")))
    except ValueError:
        return False
    return starts <= now

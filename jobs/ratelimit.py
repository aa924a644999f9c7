"""The pacer: every Bot API request passes here, so the bot never needs a 429 to slow down.

Telegram answers 429 "retry after N" beyond about 30 messages a second overall, 20 a minute in a
group or channel and about one a second in a private chat, does not publish how it counts, and
may ban a bot that keeps running into it. PTB's `AIORateLimiter` is a leaky bucket: after a
pause it lets a burst through, which a strict sliding window refuses. The pacer instead keeps the
timestamps of recent sends and lets a message go only when every window it belongs to has room:

* overall: at most 30 in any `1 + margin` seconds, and spaced `(1 + margin) / 30` apart on a
  virtual schedule (GCRA: a late wake-up of up to half a slot does not slow the pace), so the
  rate is smooth instead of 30 at once and then nothing;
* per private chat: 1 in any `1 + margin` seconds; per group or channel: 20 in any
  `60 + margin` seconds.

The margin (20 ms by default) absorbs jitter between our clock and Telegram's; the overall rate
is still `30 / 1.02` = 98% of the limit.

Paid broadcasts (`allow_paid_broadcast`, for direct alerts when PAID_BROADCAST is on): Telegram
lets such a message go beyond the free limit, up to 1,000 messages a second overall, and bills
0.1 Star for each message "broadcasted over the free amount of 30 messages per second". It does
not say whether paid messages use up the free amount, so the pacer assumes they may, and keeps
both limits without a 429 under either reading:

* A request carrying a `PaidBudget` (`Pace.budget`, the worker's direct alerts) goes *flagged*:
  the pacer sets `allow_paid_broadcast` on it and lets it go within the paid limit, at most
  1,000 messages of any kind in any `1 + margin` seconds, spaced `(1 + margin) / 1000` apart
  (a late wake-up of up to `paid_tolerance` catches up at once: timers are not precise to a
  millisecond). The flag is the pacer's to set: a request that does not go flagged goes
  without it, whatever its caller passed.
* Cost, exactly: a flagged message counts as billed (one tenth of a Star reserved in its
  budget) when 30 or more messages of any kind went out in the preceding `1 + margin`
  seconds; that is never less than what Telegram bills under any reading of the rule, and at
  full speed about 3% more than "30 a second are free" would bill. The reservation is spent
  when Telegram accepts the message and released when it does not (Telegram bills only what it
  delivered). A budget whose spent and reserved messages reach its limit stops flagging: the
  rest of its fan-out waits for free slots, at the free rate.
* Flagged messages may use up Telegram's free amount, so a message goes unflagged only while
  fewer than 30 messages of any kind, flagged ones included, went out in the preceding
  `1 + margin` seconds. While flagged messages are going out (and for `1 + margin` seconds
  after the last one) a reply that can carry the flag (sendMessage and the other send methods)
  carries it and goes at once, counted in `billed_unbudgeted` when billed (outside every
  alert's cap: people are not kept waiting for 0.1 Star); anything else (a post to a channel
  or group, an edit, an alert whose budget is used up) stops new flagged alerts until fewer
  than 30 went out in that window (about a second), then takes a free slot. Answers to queries
  (no flag exists for them) take the paid limit's slots meanwhile.

What counts: methods that post or change a message in a chat (`COUNTED`) count overall and
against their chat; answers to callback and inline queries count overall only (Telegram does not
say whether they do; counting them costs a fan-out a few slots and can never cause a 429);
everything else (getMe, getUpdates, setMyCommands, getChatMember, deleteMessage,
sendChatAction ...) is not a message and passes straight through.

Priorities: a request waits in one of two queues. Replies, the default, are anything sent while
handling a person's update; `rate_limit_args=BULK` (the delivery worker's alerts) marks the
other. The next free slot goes to the oldest reply whose chat may be written to, and only then
to the oldest bulk request, so a reply waits at most one slot (about 34 ms) however long the
fan-out; alerts use what replies leave.

A 429 that still arrives is respected: the chat it came from pauses for the time Telegram asked
(if three chats are told within a second the limit is evidently global and everything pauses),
and the request is retried up to its `retries` (`Pace.retries`, or an int as with PTB's
limiter; default `max_retries`) before `RetryAfter` reaches the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
ChatKey = int | str
GLOBAL_SIGNAL_CHATS = 3  # this many distinct chats told to wait within a second = global limit
OVERALL_PER_SECOND = 30
PRIVATE_PER_SECOND = 1
GROUP_PER_MINUTE = 20
PAID_PER_SECOND = 1000
DEFAULT_MARGIN = 0.02
PAID_TOLERANCE = 0.01  # seconds of billed slots a late wake-up may still use at once

COUNTED = frozenset(
    name.lower()
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "sendGame",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
        "stopPoll",
    )
)
"""Methods that post or change a message: they count overall and against their chat."""
OVERALL_ONLY = frozenset(
    name.lower()
    for name in (
        "answerCallbackQuery",
        "answerInlineQuery",
        "answerWebAppQuery",
        "answerShippingQuery",
        "answerPreCheckoutQuery",
    )
)
"""Answers to a person's query: no chat to count against, but counted overall to be safe."""
FLAGGABLE = frozenset(
    name.lower()
    for name in (
        "sendMessage",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendSticker",
        "sendVideo",
        "sendVideoNote",
        "sendAnimation",
        "sendVoice",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendGame",
        "sendInvoice",
        "sendPoll",
        "sendDice",
        "sendPaidMedia",
        "copyMessage",
    )
)
"""Methods that take `allow_paid_broadcast` (the Bot API's list, as PTB 22.8 has it)."""


class PaidBudget:
    """What one alert may spend on paid broadcasts, counted in billed messages (0.1 Star each).

    `spent` is what Telegram accepted, `reserved` what is in flight on billed slots; a billed
    slot is granted only while both together stay under `limit`, so the cap holds however many
    requests wait at once.
    """

    __slots__ = ("limit", "reserved", "spent")

    def __init__(self, limit: int, spent: int = 0) -> None:
        self.limit = limit
        self.spent = spent
        self.reserved = 0

    @property
    def exhausted(self) -> bool:
        return self.spent + self.reserved >= self.limit

    def reserve(self) -> None:
        self.reserved += 1

    def settle(self, *, accepted: bool) -> None:
        self.reserved -= 1
        if accepted:
            self.spent += 1

    @property
    def stars(self) -> float:
        return self.spent / 10


@dataclass(frozen=True, slots=True)
class Pace:
    """`rate_limit_args` for the pacer: the priority class, the retries after a 429, and the
    budget of a paid broadcast (None: free slots only)."""

    bulk: bool = False
    retries: int | None = None
    budget: PaidBudget | None = None


BULK = Pace(bulk=True)
"""What the delivery worker passes: alerts wait behind every reply."""


def retry_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (PTB moves from int to timedelta)."""
    value: Any = exc._retry_after  # noqa: SLF001 - the public property warns while PTB migrates
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


class _Window:
    """At most `limit` sends in any `seconds`: the timestamps of the recent ones.

    A send is stamped when it actually goes out (`sent`), not when its slot is granted
    (`hold`): a task can resume late after its grant (a busy loop, a garbage collection), and
    a window stamped at the grant would then think it left earlier than it did. Granted sends
    not yet out count as taken meanwhile.
    """

    __slots__ = ("limit", "pending", "seconds", "stamps")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.stamps: deque[float] = deque()
        self.pending = 0

    def free_at(self, now: float, limit: int | None = None) -> float:
        """The earliest time one more send fits (`now` if it fits now; infinity while every
        slot is granted to sends that have not gone out yet: their going out tells). `limit`:
        a smaller limit over the same window."""
        limit = self.limit if limit is None else limit
        stamps = self.stamps
        while stamps and stamps[0] <= now - self.seconds:
            stamps.popleft()
        if len(stamps) + self.pending < limit:
            return now
        if self.pending >= limit:
            return math.inf
        return stamps[-(limit - self.pending)] + self.seconds

    def take(self, now: float) -> None:
        self.stamps.append(now)

    def count(self, now: float) -> int:
        """Sends in the window ending now, those granted but not yet out included."""
        self.free_at(now)
        return len(self.stamps) + self.pending

    def hold(self) -> None:
        self.pending += 1

    def sent(self, now: float) -> None:
        self.pending -= 1
        self.stamps.append(now)


@dataclass(eq=False, slots=True)
class _Waiter:
    future: asyncio.Future[None]
    bulk: bool
    chat: ChatKey | None  # None: counted overall only
    budget: PaidBudget | None = None  # may go flagged while it is not used up
    flaggable: bool = False  # a send method that takes `allow_paid_broadcast`
    flagged: bool = False  # granted as a paid broadcast (the flag is set on its request)
    billed: bool = False  # ... and counted as billed (its budget holds a reservation)


class Pacer(BaseRateLimiter[Pace | int]):
    """PTB rate limiter with strict sliding windows and reply priority (see module docstring).

    `private_per_second=None` drops the per-private-chat window (only for tests of features
    that talk to one chat quickly against a stand-in without limits).
    """

    def __init__(
        self,
        *,
        overall_per_second: int = OVERALL_PER_SECOND,
        private_per_second: int | None = PRIVATE_PER_SECOND,
        group_per_minute: int | None = GROUP_PER_MINUTE,
        paid_per_second: int = PAID_PER_SECOND,
        margin: float = DEFAULT_MARGIN,
        paid_tolerance: float = PAID_TOLERANCE,
        max_retries: int = 2,
    ) -> None:
        self.margin = margin
        self.max_retries = max_retries
        self._overall = _Window(overall_per_second, 1.0 + margin)  # free (unbilled) sends
        self._spacing = (1.0 + margin) / overall_per_second
        self._tolerance = self._spacing / 2
        self._tat = -math.inf  # GCRA: the theoretical time of the next overall send
        # Paid broadcasts: every send counts here, billed or not; billed ones are spaced.
        self._total = _Window(paid_per_second, 1.0 + margin)
        self._paid_spacing = (1.0 + margin) / paid_per_second
        self._paid_tolerance = max(paid_tolerance, self._paid_spacing / 2)
        self._paid_tat = -math.inf
        self._flagged_pending = 0  # flagged grants not out yet
        self._last_flagged = -math.inf  # when the last flagged send went out
        self._private = private_per_second
        self._group = group_per_minute
        self._chats: dict[ChatKey, _Window] = {}
        self._replies: deque[_Waiter] = deque()
        self._bulk: deque[_Waiter] = deque()
        self._paused: dict[ChatKey | None, float] = {}  # chat (None: all) -> loop time
        self._recent_429: list[tuple[float, ChatKey | None]] = []
        self._kick = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self.granted: Counter[str] = Counter()  # "reply" / "bulk" / "free" (not counted)
        self.billed = 0  # billed messages Telegram accepted (0.1 Star each), all of them
        self.billed_unbudgeted = 0  # ... of them replies, flagged during a paid fan-out
        self.retry_after_count = 0

    async def initialize(self) -> None:
        """Nothing to allocate: the pump starts with the first request that has to wait."""

    async def shutdown(self) -> None:
        """Stop the pump; requests still waiting fail (the application is going away)."""
        task, self._pump_task = self._pump_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in (self._replies, self._bulk):
            while queue:
                waiter = queue.popleft()
                if not waiter.future.done():
                    waiter.future.set_exception(RuntimeError("the rate limiter was shut down"))

    # --- what a request counts against ------------------------------------------------------

    def _window(self, chat: ChatKey) -> _Window | None:
        window = self._chats.get(chat)
        if window is not None:
            return window
        if isinstance(chat, int) and chat > 0:
            if self._private is None:
                return None
            window = _Window(self._private, 1.0 + self.margin)
        else:
            if self._group is None:
                return None
            window = _Window(self._group, 60.0 + self.margin)
        if len(self._chats) > 10_000:
            self._forget_idle_chats()
        self._chats[chat] = window
        return window

    def _forget_idle_chats(self) -> None:
        now = asyncio.get_running_loop().time()
        for chat in [c for c, w in self._chats.items() if w.free_at(now) <= now and not w.stamps]:
            del self._chats[chat]
        self._paused = {c: u for c, u in self._paused.items() if u > now}

    def _chat_at(self, waiter: _Waiter, now: float) -> float:
        """When the waiter's own chat may be written to (its window, a 429's pause)."""
        chat = waiter.chat
        if chat is None:
            return now
        at = self._paused.get(chat, 0.0)
        window = self._window(chat)
        if window is not None:
            at = max(at, window.free_at(now))
        return at

    def _paid_end(self, now: float) -> float:
        """When Telegram's free amount is surely clear of flagged messages (now: it is)."""
        if self._flagged_pending:
            return math.inf  # the send going out tells (`_gone`)
        return max(now, self._last_flagged + self._total.seconds)

    def _eligible(self, waiter: _Waiter) -> bool:
        """A waiter that would go flagged, were it not held back."""
        if not waiter.flaggable:
            return False
        if waiter.bulk:
            return waiter.budget is not None and not waiter.budget.exhausted
        return True  # a reply, while flagged messages are going out

    def _dispatch(self, now: float) -> float | None:
        """Grant every slot that is free now; the time of the next possible grant, if any."""
        while True:
            total_at = max(self._total.free_at(now), self._paused.get(None, 0.0))
            active = self._paid_end(now) > now
            # Unflagged: fewer than 30 sends of *any* kind in the window, flagged ones included
            # (they may have used up Telegram's free amount); without paid sends, the same as
            # the free window alone.
            free_at = max(
                self._tat - self._tolerance,
                self._overall.free_at(now),
                self._total.free_at(now, self._overall.limit),
                total_at,
            )
            flag_at = max(self._paid_tat - self._paid_tolerance, total_at)
            # Something that may not go flagged is ready: no new flagged alerts, so that the
            # free amount clears for it within a second (replies still go, flagged: a person's
            # few messages cannot keep it from clearing).
            hold = active and any(
                not self._eligible(w) and w.chat is not None and self._chat_at(w, now) <= now
                for queue in (self._replies, self._bulk)
                for w in queue
            )
            soonest = math.inf
            granted = False
            for queue in (self._replies, self._bulk):
                for waiter in queue:
                    chat_at = self._chat_at(waiter, now)
                    flagged = self._eligible(waiter) and (waiter.bulk or active)
                    if flagged and hold and waiter.bulk:
                        continue  # the held-back waiter's grant wakes this one again
                    # a query's answer has no flag: it takes the paid limit's slots meanwhile
                    if flagged or (waiter.chat is None and active):
                        at = max(flag_at, chat_at)
                    else:
                        at = max(free_at, chat_at)
                    if at <= now:
                        queue.remove(waiter)
                        self._grant(waiter, now, flagged=flagged)
                        granted = True
                        break
                    soonest = min(soonest, at)
                if granted:
                    break
            if not granted:
                return soonest if soonest < math.inf else None

    def _grant(self, waiter: _Waiter, now: float, *, flagged: bool) -> None:
        if flagged:
            waiter.flagged = True
            self._flagged_pending += 1
            # Billed when the free amount may be used up: 30 sends of any kind in the window.
            if self._total.count(now) >= self._overall.limit:
                waiter.billed = True
                if waiter.budget is not None:
                    waiter.budget.reserve()
        else:
            self._overall.hold()
            self._tat = max(self._tat, now) + self._spacing
        self._total.hold()
        self._paid_tat = max(self._paid_tat, now) + self._paid_spacing
        if waiter.chat is not None:
            window = self._window(waiter.chat)
            if window is not None:
                window.take(now)
        self.granted["bulk" if waiter.bulk else "reply"] += 1
        if not waiter.future.done():
            waiter.future.set_result(None)

    async def _pump(self) -> None:
        """Wakes at the next possible grant, or when a request arrives; ends when none waits."""
        loop = asyncio.get_running_loop()
        while self._replies or self._bulk:
            self._kick.clear()
            wake = self._dispatch(loop.time())
            if wake is None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), max(0.0, wake - loop.time()))
        self._pump_task = None

    async def _slot(
        self,
        *,
        bulk: bool,
        chat: ChatKey | None,
        budget: PaidBudget | None = None,
        flaggable: bool = False,
    ) -> _Waiter:
        """Wait for this request's turn; its send is counted when the turn comes."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), bulk, chat, budget, flaggable)
        queue = self._bulk if bulk else self._replies
        queue.append(waiter)
        self._dispatch(loop.time())
        if not waiter.future.done():
            self._wake_pump()
        try:
            await waiter.future
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            if waiter.future.done() and not waiter.future.cancelled():  # granted, then cancelled
                self._gone(waiter, loop.time())
                self._settle(waiter, accepted=False)
            raise
        self._gone(waiter, loop.time())
        return waiter

    def _gone(self, waiter: _Waiter, now: float) -> None:
        """A granted send goes out now: stamp the overall windows (see `_Window`)."""
        if waiter.flagged:
            self._flagged_pending -= 1
            self._last_flagged = now
        else:
            self._overall.sent(now)
        self._total.sent(now)
        if self._replies or self._bulk:
            self._wake_pump()

    def _settle(self, waiter: _Waiter, *, accepted: bool) -> None:
        """A billed send is over: what Telegram accepted is spent, the rest released."""
        if not waiter.billed:
            return
        if waiter.budget is not None:
            waiter.budget.settle(accepted=accepted)
        elif accepted:
            self.billed_unbudgeted += 1
        self.billed += accepted

    def _wake_pump(self) -> None:
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="pacer")
        self._kick.set()

    # --- flood control that still happens ---------------------------------------------------

    def paused_for(self, chat: ChatKey | None) -> float:
        """Seconds until `chat` (or, with None, every chat) may be sent to again after a 429."""
        now = asyncio.get_running_loop().time()
        until = max(self._paused.get(chat, 0.0), self._paused.get(None, 0.0))
        return max(0.0, until - now)

    def note_retry_after(self, chat: ChatKey | None, seconds: float) -> None:
        """Record a flood-control answer for `chat`; may escalate to a global pause."""
        self.retry_after_count += 1
        now = asyncio.get_running_loop().time()
        until = now + seconds + 0.05
        self._paused[chat] = max(self._paused.get(chat, 0.0), until)
        self._recent_429 = [(t, c) for t, c in self._recent_429 if now - t < 1.0]
        self._recent_429.append((now, chat))
        if len({c for _, c in self._recent_429}) >= GLOBAL_SIGNAL_CHATS:
            self._paused[None] = max(self._paused.get(None, 0.0), until)
        self._kick.set()

    # --- PTB's entry point ------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Pace | int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        method = endpoint.lower()
        if method not in COUNTED and method not in OVERALL_ONLY:
            self.granted["free"] += 1
            return await callback(*args, **kwargs)
        pace = rate_limit_args if isinstance(rate_limit_args, Pace) else Pace()
        retries = rate_limit_args if isinstance(rate_limit_args, int) else pace.retries
        max_retries = self.max_retries if retries is None else retries
        chat = _chat_key(data.get("chat_id")) if method in COUNTED else None
        flaggable = method in FLAGGABLE
        budget = pace.budget if flaggable else None
        attempt = 0
        while True:
            waiter = await self._slot(bulk=pace.bulk, chat=chat, budget=budget, flaggable=flaggable)
            accepted = False
            try:
                result = await callback(*_flag(args, data, flagged=waiter.flagged), **kwargs)
                accepted = True
                return result
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                self.note_retry_after(chat, seconds)
                if attempt >= max_retries:
                    raise
                attempt += 1
                log.info("flood control for %s: waiting %.1fs", chat, seconds)
            finally:
                self._settle(waiter, accepted=accepted)


def _flag(args: Any, data: dict[str, Any], *, flagged: bool) -> Any:
    """The callback's arguments with `allow_paid_broadcast` as the grant decided.

    PTB hands the rate limiter the request's parameters as `data`, the same dict its callback
    sends (`ExtBot._do_post(endpoint, data)`); a copy is changed, never the caller's dict.
    """
    if not isinstance(args, tuple) or len(args) != 2 or args[1] is not data:
        return args  # not the call this pacer knows: leave it exactly as it was
    if flagged:
        return (args[0], {**data, "allow_paid_broadcast": True})
    if data.get("allow_paid_broadcast"):
        return (args[0], {k: v for k, v in data.items() if k != "allow_paid_broadcast"})
    return args


def _chat_key(chat_id: Any) -> ChatKey | None:
    """Chat ids arrive as int, numeric string or @username (channels and supergroups)."""
    if chat_id is None or isinstance(chat_id, bool):
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    try:
        return int(text)
    except ValueError:
        return text.lower()

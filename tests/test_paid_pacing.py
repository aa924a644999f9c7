"""Paid broadcasts against the stand-in: both limits kept (no 429), the cost counted, the cap.

The stand-in bills a paid message when its free window (30 unbilled in any second) is full and
accepts at most 1,000 messages in any second (see `bot.standin.flood`); the pacer must keep
both, count at least what the stand-in bills, and fall back to the free rate at the cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from bot.config import Settings
from bot.handlers.stats import stats_text
from bot.standin import SentMessage
from jobs.ratelimit import Pacer
from storage.alerts import create_alert
from tests.conftest import USER_ID, BotHarness, Clock, running_bot, with_settings
from tests.test_pacing import max_in_any_second, subscribe_many

FIRST = 30_000
FREE, PAID = 30, 1000


def _paid(settings: Settings, stars: float) -> Settings:
    return with_settings(
        settings, paid_broadcast=True, paid_broadcast_max_messages=round(stars * 10)
    )


async def _fanout(
    settings: Settings,
    clock: Clock,
    subscribers: int,
    *,
    during: Callable[[BotHarness], Awaitable[None]] | None = None,
) -> tuple[list[tuple[float, SentMessage]], int, int, str, int]:
    """(stamped messages, pacer's billed count, recorded paid messages, /stats, 429s)."""
    harness = running_bot(settings, clock, rate_limits=True)
    harness.standin.enable_paid_broadcasts(balance_stars=50_000)
    stamped: list[tuple[float, SentMessage]] = []
    harness.standin.subscribe(lambda m: stamped.append((m.counted_at or 0.0, m)))
    async with harness as bot:
        await subscribe_many(bot, range(FIRST, FIRST + subscribers))
        svc = bot.services
        if during is not None:
            await during(bot)
        async with svc.db.transaction() as tx:
            await create_alert(
                tx,
                visit_id=svc.visit_id,
                kind="broadcast",
                payload={"text": "Signed"},
                now=bot.clock.now,
            )
        assert svc.delivery is not None
        if during is not None:
            await during(bot)
        await svc.delivery.wait_idle(timeout=60)
        limiter = bot.app.bot.rate_limiter  # type: ignore[attr-defined]
        assert isinstance(limiter, Pacer)
        recorded = await svc.db.fetchval("SELECT SUM(paid_messages) FROM alert_totals")
        loaded = svc.visits.get(svc.visit_id)
        assert loaded is not None
        stats = await stats_text(svc, loaded, "en")
        errors = sum(n for (_, code), n in bot.standin.errors_returned.items() if code == 429)
        sent = await svc.db.fetchval(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND chat_id >= ?", (FIRST,)
        )
        assert sent == subscribers
        assert bot.standin.billed_messages <= limiter.billed
        return stamped, limiter.billed, int(recorded or 0), stats, errors


@pytest.mark.slow
async def test_a_paid_fanout_keeps_both_limits_and_counts_its_cost(
    settings: Settings, clock: Clock
) -> None:
    stamped, billed, recorded, stats, errors = await _fanout(_paid(settings, 1000), clock, 1500)
    stamps = [t for t, _ in stamped]
    free = [t for t, m in stamped if not m.billed]
    assert errors == 0
    assert max_in_any_second(stamps) <= PAID
    assert max_in_any_second(free) <= FREE
    assert max_in_any_second(stamps) > 10 * FREE  # beyond the free limit: paid slots were used
    assert billed == recorded > 0  # the spend is written with the outcomes
    assert all(m.paid_broadcast for _, m in stamped if m.chat_id >= FIRST)
    assert billed <= 1500 - FREE
    assert f"{billed / 10:.1f} Stars" in stats


@pytest.mark.slow
async def test_at_the_cap_the_rest_of_the_fanout_goes_at_the_free_rate(
    settings: Settings, clock: Clock
) -> None:
    stamped, billed, recorded, _, errors = await _fanout(_paid(settings, 5), clock, 200)
    assert errors == 0
    assert billed == recorded == 50  # 5 Stars: 50 messages beyond the free rate, no more
    last_billed = max(i for i, (_, m) in enumerate(stamped) if m.billed)
    after = [t for t, _ in stamped[last_billed + 1 :]]
    assert len(after) >= 100
    assert max_in_any_second(after) <= FREE  # the free limit again, and no 429 for it
    assert not [m for _, m in stamped[last_billed + 1 :] if m.billed]


async def test_without_paid_broadcasts_nothing_is_flagged_or_billed(
    settings: Settings, clock: Clock
) -> None:
    async with running_bot(settings, clock) as bot:
        bot.standin.enable_paid_broadcasts()
        await subscribe_many(bot, range(FIRST, FIRST + 40))
        svc = bot.services
        async with svc.db.transaction() as tx:
            await create_alert(
                tx, visit_id=svc.visit_id, kind="broadcast", payload={"text": "x"}, now=clock.now
            )
        assert svc.delivery is not None
        await svc.delivery.wait_idle()
        assert svc.delivery.paid_max_messages == 0
        alerts = [m for m in bot.standin.sent if m.chat_id >= FIRST]
        assert len(alerts) == 40 and not [m for m in alerts if m.paid_broadcast]


@pytest.mark.slow
async def test_replies_and_channel_posts_during_a_paid_fanout_get_no_429(
    settings: Settings, clock: Clock
) -> None:
    """Paid messages may use up Telegram's free amount: what goes unflagged waits for it to
    clear (a channel post), a reply goes flagged and at once."""
    channel = -1001000000500
    asked: list[float] = []

    async def during(bot: BotHarness) -> None:
        if not asked:  # before the alert: a channel that follows the visit
            bot.standin.add_channel(channel, title="Desk", creator=USER_ID)
            await asyncio.sleep(0.3)
            bot.standin.post_in_channel(channel, "/subscribe")
            await bot.standin.wait_for_messages(channel, 1)
            asked.append(0.0)
            return
        await asyncio.sleep(0.5)  # the fan-out is under way, flagged
        asked[0] = time.monotonic()
        bot.standin.send_text(USER_ID, "/status")

    stamped, billed, _, _, errors = await _fanout(_paid(settings, 1000), clock, 1500, during=during)
    assert errors == 0
    [reply] = [(t, m) for t, m in stamped if m.chat_id == USER_ID and t >= asked[0]]
    assert reply[0] - asked[0] < 0.5 and reply[1].paid_broadcast  # flagged, not kept waiting
    posts = [m for _, m in stamped if m.chat_id == channel]
    assert len(posts) == 2 and not [m for m in posts if m.paid_broadcast]  # never flagged
    assert billed > 0


async def test_the_flag_is_the_pacers_to_set(settings: Settings, clock: Clock) -> None:
    """A request that asks for allow_paid_broadcast itself goes without it: no budget, and no
    paid fan-out under way."""
    async with running_bot(_paid(settings, 10), clock, rate_limits=True) as bot:
        bot.standin.enable_paid_broadcasts()
        ext_bot = bot.app.bot  # type: ignore[attr-defined]
        await ext_bot.send_message(USER_ID, "asked for the flag", allow_paid_broadcast=True)
        [sent] = bot.standin.messages_to(USER_ID)[-1:]
        assert sent.text == "asked for the flag" and not sent.paid_broadcast
        limiter = ext_bot.rate_limiter
        assert isinstance(limiter, Pacer) and limiter.billed == 0

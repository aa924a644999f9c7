"""Unexpected errors in delivery: no row is stranded in 'sending', and the worker carries on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import jobs.delivery
from bot import alert_render
from bot.alert_render import AlertView, RenderContext, RenderedMessage, render_bundle
from bot.standin import InjectedError
from storage import alerts as alerts_store
from storage import subscriptions as subscription_store
from storage.alerts import create_alert, delivery_stats
from tests.conftest import BotHarness
from tests.test_delivery import FIRST, add_subscribers, alert, statuses, texts_by_chat, worker


@pytest.fixture(autouse=True)
def short_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.delivery, "ERROR_PAUSE", 0.01)


async def set_language(bot: BotHarness, chat_id: int, lang: str) -> None:
    await bot.services.db.execute(
        "UPDATE chats SET language = ? WHERE chat_id = ?", (lang, chat_id)
    )


async def dated_agreement(bot: BotHarness, title: str) -> None:
    """An agreement with a signing date, which the renderer formats in the reader's locale."""
    svc = bot.services
    payload: dict[str, Any] = {
        "title": title,
        "sector": "energy",
        "signed_on": "2025-11-24",
        "parties": "",
        "status": "confirmed",
        "sources": [],
    }
    async with svc.db.transaction() as tx:
        await create_alert(
            tx, visit_id=svc.visit_id, kind="agreement", payload=payload, now=bot.clock.now
        )


async def deliveries(bot: BotHarness) -> dict[str, int]:
    stats = await delivery_stats(bot.services.db, bot.services.visit_id)
    return {status: n for status, n in stats.deliveries.items() if n}


async def test_unknown_stored_language_falls_back_to_english(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST, FIRST + 1])
    await set_language(bot, FIRST, "xx")  # not a catalogue language (nor a Babel locale)
    await dated_agreement(bot, "Grid MoU")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Grid MoU") == {FIRST: 1, FIRST + 1: 1}
    [message] = bot.standin.messages_to(FIRST)
    assert "November 24, 2025" in message.text
    assert await deliveries(bot) == {"sent": 2}


async def test_render_error_fails_that_chat_only_and_later_alerts_still_go_out(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_for_turkish(
        alerts: Sequence[AlertView], ctx: RenderContext
    ) -> list[RenderedMessage]:
        if ctx.lang == "tr":
            raise RuntimeError("renderer broke")
        return render_bundle(alerts, ctx)

    monkeypatch.setattr(alert_render, "render_bundle", broken_for_turkish)
    await add_subscribers(bot, [FIRST, FIRST + 1, FIRST + 2])
    await set_language(bot, FIRST + 1, "tr")
    await alert(bot, "First alert")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "First alert") == {FIRST: 1, FIRST + 2: 1}
    assert await deliveries(bot) == {"sent": 2, "failed": 1}
    row = await bot.services.db.fetchone(
        "SELECT chat_id, last_error FROM deliveries WHERE status = 'failed'"
    )
    assert row is not None and row["chat_id"] == FIRST + 1
    assert row["last_error"] == "RuntimeError: renderer broke"

    await alert(bot, "Second alert")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Second alert") == {FIRST: 1, FIRST + 2: 1}
    assert await deliveries(bot) == {"sent": 4, "failed": 2}


async def test_unexpected_telegram_error_fails_the_row(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    bot.standin.inject_errors(
        "sendMessage", InjectedError.response(409, "Conflict: something unexpected")
    )
    await alert(bot, "Refused")
    await worker(bot).wait_idle()
    assert await deliveries(bot) == {"failed": 1}
    await alert(bot, "Accepted")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Accepted") == {FIRST: 1}
    assert await deliveries(bot) == {"sent": 1, "failed": 1}


async def test_claimed_rows_go_back_to_the_queue_when_preparing_fails(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = subscription_store.chat_views
    calls = 0

    async def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk I/O error")
        return await real(*args)

    monkeypatch.setattr(jobs.delivery, "chat_views", flaky)
    await add_subscribers(bot, [FIRST])
    await alert(bot, "Held back once")
    await worker(bot).wait_idle()
    assert calls >= 2
    assert texts_by_chat(bot, "Held back once") == {FIRST: 1}
    assert await statuses(bot) == {"sent": 1}
    attempts = await bot.services.db.fetchval("SELECT attempts FROM deliveries")
    assert attempts == 1  # the released claim did not count as an attempt


async def test_the_loop_survives_an_unexpected_error(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = alerts_store.next_due_at
    failures = 0

    async def once_broken(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("database is locked")
        return await real(*args, **kwargs)

    monkeypatch.setattr(jobs.delivery, "next_due_at", once_broken)
    await add_subscribers(bot, [FIRST])
    await alert(bot, "Before")
    await worker(bot).wait_idle(timeout=5)
    await alert(bot, "After")
    await worker(bot).wait_idle(timeout=5)
    assert failures == 1
    assert texts_by_chat(bot, "Before") == {FIRST: 1}
    assert texts_by_chat(bot, "After") == {FIRST: 1}

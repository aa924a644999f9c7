"""Admin rights are checked when something is done: revoked admins finish nothing half-done.

An admin removed with /deladmin in the middle of the guided /addagreement, or with a "save
anyway", correction, review or feed button still on screen, is refused at the step or button,
nothing is written and nobody is alerted. The guided form also ends after a silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import Settings
from bot.handlers import common
from bot.standin import SentMessage
from tests.conftest import ADMIN_ID, BotHarness, Clock, buttons, running_bot, with_settings
from tests.feedserver import FeedServer, Reply
from tests.test_admin_e2e import (
    SECOND_ADMIN,
    SUBSCRIBER,
    add_second_admin,
    assert_no_rejections,
    rows,
    snapshot,
    subscribe,
)
from tests.test_admin_feeds import FEED
from tests.test_admin_review import cards, make_story

REFUSED = "you are not one now"


async def revoke(bot: BotHarness) -> None:
    [removed] = await bot.ask(ADMIN_ID, f"/deladmin {SECOND_ADMIN}")
    assert "no longer an admin" in removed.text


async def guided_until_confirm(bot: BotHarness) -> SentMessage:
    """The second admin fills in the whole guided form; returns the Save/Cancel message."""
    await bot.ask(SECOND_ADMIN, "/addagreement")
    [ask_sector] = await bot.ask(SECOND_ADMIN, "Hydrogen cooperation roadmap")
    await bot.press(SECOND_ADMIN, ask_sector, buttons(ask_sector)["Energy"])
    await bot.ask(SECOND_ADMIN, "2025-11-24")
    await bot.ask(SECOND_ADMIN, "KEPCO and EÜAŞ")
    [confirm] = await bot.ask(SECOND_ADMIN, "/skip")
    assert "Save this agreement" in confirm.text
    return confirm


async def deliveries(bot: BotHarness) -> list[dict[str, object]]:
    return await rows(bot, "SELECT * FROM deliveries ORDER BY id")


async def test_revoked_admin_pressing_save_is_refused_and_nothing_is_written(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    await add_second_admin(bot)
    confirm = await guided_until_confirm(bot)
    await revoke(bot)
    before = await snapshot(bot)
    [refusal] = await bot.press(SECOND_ADMIN, confirm, buttons(confirm)["✅ Save"])
    assert REFUSED in refusal.text and "Nothing was saved or sent" in refusal.text
    assert await snapshot(bot) == before  # no agreement, no alert, no audit row
    assert await deliveries(bot) == []
    assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []
    await asyncio.sleep(0.1)
    assert bot.standin.messages_to(SUBSCRIBER) == []  # nobody was alerted
    # The conversation is over: plain text is a facts search again, not the next step.
    [search] = await bot.ask(SECOND_ADMIN, "bridge")
    assert "Çanakkale" in search.text
    assert_no_rejections(bot)


async def _at_title(bot: BotHarness) -> tuple[str, str | None]:
    await bot.ask(SECOND_ADMIN, "/addagreement")
    return "Hydrogen roadmap", None


async def _at_sector(bot: BotHarness, *, button: bool) -> tuple[str, str | None]:
    await bot.ask(SECOND_ADMIN, "/addagreement")
    [ask_sector] = await bot.ask(SECOND_ADMIN, "Hydrogen roadmap")
    return ("Energy", buttons(ask_sector)["Energy"]) if button else ("energy", None)


async def _at(bot: BotHarness, step: str) -> tuple[str, str | None]:
    """Take the second admin to `step`; returns what they answer there (text, or a button)."""
    if step == "title":
        return await _at_title(bot)
    if step in ("sector_button", "sector_text"):
        return await _at_sector(bot, button=step == "sector_button")
    await _at_sector(bot, button=False)
    await bot.ask(SECOND_ADMIN, "energy")
    if step == "date":
        return "2025-11-24", None
    await bot.ask(SECOND_ADMIN, "2025-11-24")
    if step == "parties":
        return "KEPCO", None
    await bot.ask(SECOND_ADMIN, "KEPCO")
    if step == "source":
        return "https://example.com/h2", None
    [confirm] = await bot.ask(SECOND_ADMIN, "/skip")
    if step == "confirm_text":
        return "yes please", None
    assert step == "cancel"
    return "/cancel", None


@pytest.mark.parametrize(
    "step",
    [
        "title",
        "sector_button",
        "sector_text",
        "date",
        "parties",
        "source",
        "confirm_text",
        "cancel",
    ],
)
async def test_every_step_of_the_guided_form_rechecks_rights(bot: BotHarness, step: str) -> None:
    await add_second_admin(bot)
    answer, data = await _at(bot, step)
    await revoke(bot)
    before = await snapshot(bot)
    if data is not None:
        last = bot.standin.messages_to(SECOND_ADMIN)[-1]
        [refusal] = await bot.press(SECOND_ADMIN, last, data)
    else:
        [refusal] = await bot.ask(SECOND_ADMIN, answer)
    assert REFUSED in refusal.text
    assert await snapshot(bot) == before
    # Ended: being made an admin again does not bring the old form back.
    await add_second_admin(bot)
    [search] = await bot.ask(SECOND_ADMIN, "bridge")
    assert "Çanakkale" in search.text
    assert_no_rejections(bot)


async def test_revoked_admin_cannot_save_anyway_after_a_similar_title_warning(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    await add_second_admin(bot)
    [saved] = await bot.ask(ADMIN_ID, "/addagreement Space cooperation memorandum")
    assert "saved as Confirmed" in saved.text
    [warning] = await bot.ask(SECOND_ADMIN, "/addagreement Memorandum on space cooperation")
    assert "similar entry exists" in warning.text
    await revoke(bot)
    before = await snapshot(bot)
    delivered = await deliveries(bot)
    save = buttons(warning)["✅ Save anyway"]
    [refusal] = await bot.press(SECOND_ADMIN, warning, save)
    assert REFUSED in refusal.text
    assert await snapshot(bot) == before and await deliveries(bot) == delivered
    # The draft was forgotten: after being made an admin again, the old button does nothing.
    await add_second_admin(bot)
    pressed = await bot.press(SECOND_ADMIN, warning, save, replies=2)
    assert "expired" in pressed[-1].text
    assert await rows(bot, "SELECT id FROM agreements WHERE title LIKE 'Memorandum%'") == []


async def test_revoked_admin_cannot_send_a_correction(bot: BotHarness) -> None:
    await subscribe(bot)
    await add_second_admin(bot)
    await bot.ask(ADMIN_ID, "/addagreement Hydrogen cooperation roadmap | energy")
    [entry] = await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")
    [offer] = await bot.ask(SECOND_ADMIN, f"/editagreement {entry['id']} parties=KEPCO")
    assert "correction" in offer.text
    await revoke(bot)
    before = await snapshot(bot)
    send = next(data for data in buttons(offer).values() if data.startswith("agr:corr:"))
    [refusal] = await bot.press(SECOND_ADMIN, offer, send)
    assert REFUSED in refusal.text
    assert await snapshot(bot) == before
    assert await rows(bot, "SELECT id FROM alerts WHERE kind = 'correction'") == []


@pytest.mark.parametrize("action", ["✅ Confirm", "✖ Dismiss", "✏️ Edit"])
async def test_revoked_admin_cannot_use_a_review_card(bot: BotHarness, action: str) -> None:
    await subscribe(bot)
    await add_second_admin(bot)
    story_id = await make_story(bot)
    card = (await cards(bot, story_id, [ADMIN_ID, SECOND_ADMIN]))[SECOND_ADMIN]
    await revoke(bot)
    before = await snapshot(bot)
    [refusal] = await bot.press(SECOND_ADMIN, card, buttons(card)[action])
    assert REFUSED in refusal.text
    assert await snapshot(bot) == before  # the story is still pending, no entry, no alert
    assert "/addagreement" not in refusal.text  # no prefilled command either
    [story] = await rows(bot, "SELECT review FROM stories WHERE id = ?", (story_id,))
    assert story["review"] == "pending"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.route("/rss", Reply(body=FEED, headers={"Content-Type": "application/rss+xml"}))
        yield running


@pytest.fixture
async def open_bot(settings: Settings, clock: Clock) -> AsyncIterator[BotHarness]:
    async with running_bot(with_settings(settings, allow_private_feeds=True), clock) as harness:
        yield harness


async def test_revoked_admin_cannot_add_a_previewed_feed(
    open_bot: BotHarness, server: FeedServer
) -> None:
    bot = open_bot
    await add_second_admin(bot)
    [preview] = await bot.ask(SECOND_ADMIN, f"/addfeed {server.url('/rss')}")
    await revoke(bot)
    before = await snapshot(bot)
    [refusal] = await bot.press(SECOND_ADMIN, preview, buttons(preview)["✅ Add feed"])
    assert REFUSED in refusal.text
    assert await snapshot(bot) == before
    assert await rows(bot, "SELECT feed_id FROM feed_visits WHERE origin = 'admin'") == []


# --- silence ---------------------------------------------------------------------------------


async def test_a_silent_guided_form_times_out_and_says_so(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the timeout shortened to half a second: the form ends by itself, tells the admin,
    and its Save button no longer saves."""
    monkeypatch.setattr(common, "CONVERSATION_TIMEOUT_SECONDS", 0.5)
    async with running_bot(settings, clock) as bot:
        await subscribe(bot)
        await bot.ask(ADMIN_ID, "/addagreement")
        [ask_sector] = await bot.ask(ADMIN_ID, "Hydrogen roadmap")
        await bot.press(ADMIN_ID, ask_sector, buttons(ask_sector)["Energy"])
        await bot.ask(ADMIN_ID, "/skip")
        await bot.ask(ADMIN_ID, "/skip")
        [confirm] = await bot.ask(ADMIN_ID, "/skip")
        before = len(bot.standin.messages_to(ADMIN_ID))
        [timed_out] = (await bot.standin.wait_for_messages(ADMIN_ID, before + 1))[before:]
        assert "closed after 1 minutes without an answer" in timed_out.text
        assert "Nothing was saved" in timed_out.text
        pressed = await bot.press(ADMIN_ID, confirm, buttons(confirm)["✅ Save"], replies=2)
        assert "expired" in pressed[-1].text
        assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []
        assert await rows(bot, "SELECT id FROM alerts") == []
        # and text is no longer taken as the next step
        [search] = await bot.ask(ADMIN_ID, "bridge")
        assert "Çanakkale" in search.text
        assert_no_rejections(bot)


async def test_an_answered_form_does_not_time_out(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each answer restarts the silence: a form answered in time is saved normally."""
    monkeypatch.setattr(common, "CONVERSATION_TIMEOUT_SECONDS", 1.5)
    async with running_bot(settings, clock) as bot:
        await bot.ask(ADMIN_ID, "/addagreement")
        await asyncio.sleep(0.8)
        [ask_sector] = await bot.ask(ADMIN_ID, "Hydrogen roadmap")
        await asyncio.sleep(0.8)  # 1.6 s since the start, 0.8 s since the last answer
        await bot.press(ADMIN_ID, ask_sector, buttons(ask_sector)["Energy"])
        for _ in range(2):
            await bot.ask(ADMIN_ID, "/skip")
        [confirm] = await bot.ask(ADMIN_ID, "/skip")
        await bot.press(ADMIN_ID, confirm, buttons(confirm)["✅ Save"], replies=2)
        assert "saved as Confirmed" in bot.standin.messages_to(ADMIN_ID)[-1].text
        assert not any("closed after" in m.text for m in bot.standin.messages_to(ADMIN_ID))

"""Subscribing in private chats and groups, and agenda reminders across restarts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

from bot.config import Settings
from storage import subscriptions as subscription_store
from storage.db import to_db_time
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, Clock, buttons, running_bot
from tests.test_delivery import add_subscribers, worker


async def test_subscribe_twice_is_harmless_and_says_so(bot: BotHarness) -> None:
    [first] = await bot.ask(USER_ID, "/subscribe")
    assert "Subscribed" in first.text and "agreements" in first.text
    [again] = await bot.ask(USER_ID, "/subscribe")
    assert "already subscribed" in again.text
    [narrower] = await bot.ask(USER_ID, "/subscribe agenda")
    assert "Updated" in narrower.text and "agenda" in narrower.text
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, USER_ID)
    assert sub is not None and sub.wants_agenda and not sub.wants_agreements
    [bad] = await bot.ask(USER_ID, "/subscribe weather")
    assert "/subscribe agreements" in bad.text
    [gone] = await bot.ask(USER_ID, "/unsubscribe")
    assert "Unsubscribed" in gone.text
    [none] = await bot.ask(USER_ID, "/unsubscribe")
    assert "weren't subscribed" in none.text


async def test_settings_buttons_change_the_subscription(bot: BotHarness) -> None:
    [menu] = await bot.ask(USER_ID, "/settings")
    assert "Not subscribed" in menu.text and "Europe/Istanbul" in menu.text
    choices = buttons(menu)
    assert set(choices.values()) == {"sub:all", "sub:agreements", "sub:agenda", "sub:off"}
    [edited] = await bot.press(USER_ID, menu, "sub:agreements")
    assert edited.edited and "✓ Agreements" in buttons(edited)
    assert "Subscribed to signed agreements" in edited.text
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, USER_ID)
    assert sub is not None and sub.wants_agreements and not sub.wants_agenda
    [off] = await bot.press(USER_ID, edited, "sub:off")
    assert "Not subscribed" in off.text
    assert not bot.standin.errors_returned


async def test_in_groups_only_admins_may_change_alerts(bot: BotHarness) -> None:
    group = -200
    bot.standin.add_group(group, title="Friends of Korea", admins=[ADMIN_ID])
    [refused] = await bot.ask(USER_ID, "/subscribe", chat_id=group)
    assert "only its administrators" in refused.text
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, group) is None
    )
    [done] = await bot.ask(ADMIN_ID, "/subscribe", chat_id=group)
    assert "Subscribed" in done.text
    [menu] = await bot.ask(USER_ID, "/settings", chat_id=group)  # anyone may look
    bot.standin.press_button(USER_ID, menu.message_id, "sub:off", chat_id=group)
    await asyncio.sleep(0.2)
    assert "administrators" in bot.standin.answered_callbacks[-1]["text"]
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, group)
        is not None
    )
    [quiet] = await bot.ask(USER_ID, "/quiet 22:00-07:00", chat_id=group)
    assert "only its administrators" in quiet.text
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, group)
    assert sub is not None and sub.set_by == ADMIN_ID and sub.quiet_start is None


async def test_timezone_quiet_and_digest_validation(bot: BotHarness) -> None:
    [unknown] = await bot.ask(USER_ID, "/timezone Mars/Olympus")
    assert "don't know" in unknown.text
    [ok] = await bot.ask(USER_ID, "/timezone asia/seoul")
    assert "Asia/Seoul" in ok.text
    [bad] = await bot.ask(USER_ID, "/quiet 25:00-07:00")
    assert "couldn't read" in bad.text
    [bad_digest] = await bot.ask(USER_ID, "/digest 24")
    assert "0 to 23" in bad_digest.text
    [off] = await bot.ask(USER_ID, "/digest off")
    assert "Digest off" in off.text
    prefs = await subscription_store.chat_prefs(bot.services.db, USER_ID)
    assert prefs.timezone == "Asia/Seoul" and prefs.digest_hour is None


START = dt.datetime(2025, 11, 24, 7, 0, tzinfo=dt.UTC)  # 10:00 in Ankara
LATER = START + dt.timedelta(minutes=10)


async def _add_item(bot: BotHarness, key: str, starts: dt.datetime) -> None:
    stamp = to_db_time(bot.clock.now)
    await bot.services.db.execute(
        "INSERT INTO agenda_items (visit_id, key, starts_at, time_known, title, place, origin,"
        " created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, 'admin', ?, ?)",
        (
            bot.services.visit_id,
            key,
            to_db_time(starts),
            json.dumps({"en": f"Item {key}"}),
            json.dumps({"en": "Ankara"}),
            stamp,
            stamp,
        ),
    )


def reminders(bot: BotHarness) -> list[str]:
    return [m.text for m in bot.standin.messages_to(5000) if "Starting in" in m.text]


async def test_agenda_reminders_fire_on_time_and_once_across_restarts(
    settings: Settings, clock: Clock
) -> None:
    clock.now = START - dt.timedelta(hours=1)
    async with running_bot(settings, clock) as bot:
        await add_subscribers(bot, [5000], topics="agenda")
        await _add_item(bot, "a", START)
        await _add_item(bot, "b", LATER)
        assert bot.services.reminders is not None
        # The bundled visit's own timed items still ahead are scheduled too.
        agenda = bot.services.visit.agenda
        bundled = sum(1 for a in agenda if a.time_known and a.starts_at > clock.now)
        assert await bot.services.reminders.resync() == 2 + bundled
        await asyncio.sleep(0.3)
        assert reminders(bot) == []

    # Restarted three seconds before item a's reminder is due (30 minutes before it starts):
    # the job is rebuilt from the database and fires three seconds after start-up, not before.
    clock.now = START - dt.timedelta(minutes=30, seconds=3)
    entered = time.monotonic()
    async with running_bot(settings, clock) as bot:
        bot.standin.add_user(5000)
        await bot.standin.wait_for_messages(5000, 1, timeout=10)
        assert time.monotonic() - entered >= 2.9
        [reminder] = reminders(bot)
        assert "Starting in 30 minutes" in reminder and "Item a" in reminder
        assert "10:00" in reminder  # Ankara time

    # Down while item b's reminder was due; restarted before b starts: it fires at once, and
    # item a's reminder is not sent again.
    clock.now = LATER - dt.timedelta(minutes=20)
    async with running_bot(settings, clock) as bot:
        bot.standin.add_user(5000)
        await bot.standin.wait_for_messages(5000, 1, timeout=4)
        await worker(bot).wait_idle()
        await asyncio.sleep(0.3)
        [reminder] = reminders(bot)
        assert "Item b" in reminder and "Starting in 20 minutes" in reminder
        count = await bot.services.db.fetchval("SELECT COUNT(*) FROM alerts WHERE kind='reminder'")
        assert count == 2

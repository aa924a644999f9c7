"""Channels end to end through the stand-in: subscribing by a post or /addchannel, refusals
that say what is missing, one post per alert in the channel's language, losing the channel."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from bot.config import Settings
from bot.standin import SentMessage
from storage import channels as channel_store
from storage import subscriptions as subscription_store
from storage.alerts import create_alert
from storage.db import to_db_time
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, Clock, buttons, running_bot
from tests.test_delivery import add_subscribers, alert, worker

CHANNEL = -1001000000077
OTHER = -1001000000078
SIGNED = {"en": "Agreement signed", "ko": "협정 서명", "tr": "Anlaşma imzalandı"}


async def _settle(bot: BotHarness) -> None:
    """Let queued updates (my_chat_member, channel posts) be handled."""
    for _ in range(40):
        await asyncio.sleep(0.05)
        if not bot.standin.pending_updates:
            break
    await asyncio.sleep(0.1)


async def _posted(bot: BotHarness, text: str) -> list[SentMessage]:
    """Post `text` in the channel and return what the bot answered there."""
    before = len(bot.standin.messages_to(CHANNEL))
    bot.standin.post_in_channel(CHANNEL, text)
    await _settle(bot)
    return bot.standin.messages_to(CHANNEL)[before:]


def _private(bot: BotHarness, user_id: int) -> list[str]:
    return [m.text for m in bot.standin.messages_to(user_id)]


async def _channel_alerts(bot: BotHarness, *texts: str, kind: Any = "agreement") -> None:
    for text in texts:
        await alert(bot, text, kind=kind)
    await worker(bot).wait_idle()


async def test_a_channel_subscribes_by_posting_subscribe(bot: BotHarness) -> None:
    bot.standin.add_channel(CHANNEL, title="Ankara Desk", username="ankaradesk", creator=USER_ID)
    await _settle(bot)
    [welcome] = _private(bot, USER_ID)  # who made the bot an administrator hears how
    assert "Ankara Desk" in welcome and "/subscribe" in welcome

    [answer] = await _posted(bot, "/subscribe agreements")
    assert "This channel now gets alerts" in answer.text and "signed agreements" in answer.text
    svc = bot.services
    sub = await subscription_store.subscription(svc.db, svc.visit_id, CHANNEL)
    assert sub is not None and sub.wants_agreements and not sub.wants_agenda
    assert sub.set_by == USER_ID
    linked = await channel_store.channel(svc.db, CHANNEL)
    assert linked is not None and linked.linked_via == "post" and linked.linked_by == USER_ID

    [korean] = await _posted(bot, "/language ko")
    assert "한국어" in korean.text
    [zone] = await _posted(bot, "/timezone Asia/Seoul")
    assert "Asia/Seoul" in zone.text
    before = len(bot.standin.messages_to(CHANNEL))
    await _channel_alerts(bot, "Nuclear energy MoU")
    await _channel_alerts(bot, "Agenda change", kind="agenda")  # not what it follows
    [post] = bot.standin.messages_to(CHANNEL)[before:]
    assert SIGNED["ko"] in post.text and "Nuclear energy MoU" in post.text
    assert not bot.standin.errors_returned


async def test_a_channel_linked_by_addchannel(bot: BotHarness) -> None:
    bot.standin.add_channel(CHANNEL, title="Seoul Wire", username="seoulwire", creator=USER_ID)
    await _settle(bot)
    [turkish] = await bot.ask(ADMIN_ID, "/language tr")  # the linking admin reads Turkish
    assert "Türkçe" in turkish.text
    [linked] = await bot.ask(ADMIN_ID, "/addchannel @SeoulWire")
    assert "Seoul Wire" in linked.text and "/channels" in linked.text
    svc = bot.services
    found = await channel_store.channel(svc.db, CHANNEL)
    assert found is not None and found.linked_by == ADMIN_ID and found.linked_via == "command"
    audit = await svc.db.fetchval("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit == "addchannel"

    await _channel_alerts(bot, "Defence industry deal")
    [post] = bot.standin.messages_to(CHANNEL)
    assert SIGNED["tr"] in post.text  # the linker's language, until the channel picks one

    [listing] = await bot.ask(ADMIN_ID, "/channels")
    assert "Seoul Wire" in listing.text and "@seoulwire" in listing.text
    [opened] = await bot.press(ADMIN_ID, listing, f"chl:open:{CHANNEL}")
    [korean] = await bot.press(ADMIN_ID, opened, f"chl:lang:{CHANNEL}:ko")
    assert "✓ 한국어" in buttons(korean)
    await _channel_alerts(bot, "Shipbuilding MoU")
    assert SIGNED["ko"] in bot.standin.messages_to(CHANNEL)[-1].text

    [confirm] = await bot.press(ADMIN_ID, korean, f"chl:unlink:{CHANNEL}")
    assert "Seoul Wire" in confirm.text
    [done] = await bot.press(ADMIN_ID, confirm, f"chl:unlinkyes:{CHANNEL}")
    assert "Seoul Wire" in done.text
    assert await subscription_store.subscription(svc.db, svc.visit_id, CHANNEL) is None
    before = len(bot.standin.messages_to(CHANNEL))
    await _channel_alerts(bot, "After unlinking")
    assert len(bot.standin.messages_to(CHANNEL)) == before
    [empty] = await bot.ask(ADMIN_ID, "/channels")
    assert "Henüz bağlı kanal yok" in empty.text


async def test_a_channel_without_posting_rights_gets_a_clear_refusal(bot: BotHarness) -> None:
    bot.standin.add_channel(CHANNEL, title="Quiet Desk", username="quietdesk", bot_can_post=False)
    bot.standin.add_channel(OTHER, title="Elsewhere", username="elsewhere", bot_can_post=None)
    bot.standin.add_group(-100000000300, title="A group", supergroup=True, admins=[ADMIN_ID])
    await _settle(bot)
    [no_post] = await bot.ask(ADMIN_ID, "/addchannel @quietdesk")
    assert "without the right to post messages" in no_post.text and "Post messages" in no_post.text
    [not_admin] = await bot.ask(ADMIN_ID, "/addchannel @elsewhere")
    assert "not an administrator" in not_admin.text
    [missing] = await bot.ask(ADMIN_ID, "/addchannel @nosuchchannel")
    assert "can't find" in missing.text
    [group] = await bot.ask(ADMIN_ID, "/addchannel -100000000300")
    assert "is not a channel" in group.text
    [usage] = await bot.ask(ADMIN_ID, "/addchannel")
    assert "/addchannel @name" in usage.text
    [refused] = await bot.ask(USER_ID, "/addchannel @quietdesk")  # not a bot admin
    assert "Sorry" in refused.text

    # /subscribe posted there: the bot may not answer in the channel, so who added it hears.
    bot.standin.add_channel(CHANNEL, title="Quiet Desk", creator=USER_ID, bot_can_post=False)
    await _settle(bot)
    welcome = _private(bot, USER_ID)
    assert "without the right to post messages" in welcome[-1]
    assert await _posted(bot, "/subscribe") == []
    await _settle(bot)
    told = _private(bot, USER_ID)
    assert len(told) == len(welcome) + 1 and "Quiet Desk" in told[-1]
    assert "Post messages" in told[-1]
    svc = bot.services
    assert await subscription_store.subscription(svc.db, svc.visit_id, CHANNEL) is None


async def test_an_alert_is_one_post_per_channel_in_its_language(bot: BotHarness) -> None:
    for chat_id, title, lang in ((CHANNEL, "Korean Desk", "ko"), (OTHER, "Turkish Desk", "tr")):
        bot.standin.add_channel(chat_id, title=title, creator=USER_ID)
        await _settle(bot)
        bot.standin.post_in_channel(chat_id, f"/language {lang}")
        bot.standin.post_in_channel(chat_id, "/subscribe")
        await _settle(bot)
    svc = bot.services
    # Quiet hours never hold a channel's posts (none are offered there; set one anyway).
    await svc.db.execute(
        "UPDATE chats SET quiet_start = 0, quiet_end = 1439, digest_hour = 3 WHERE chat_id = ?",
        (CHANNEL,),
    )
    await add_subscribers(bot, [5000])
    before = {c: len(bot.standin.messages_to(c)) for c in (CHANNEL, OTHER, 5000)}
    async with svc.db.transaction() as tx:  # due together: still two posts in each channel
        for title in ("Energy MoU", "Trade MoU"):
            payload = {"title": title, "sector": "", "status": "confirmed", "sources": []}
            await create_alert(
                tx, visit_id=svc.visit_id, kind="agreement", payload=payload, now=bot.clock.now
            )
    await worker(bot).wait_idle()
    korean = bot.standin.messages_to(CHANNEL)[before[CHANNEL] :]
    turkish = bot.standin.messages_to(OTHER)[before[OTHER] :]
    assert [("Energy" in m.text, SIGNED["ko"] in m.text) for m in korean] == [
        (True, True),
        (False, True),
    ]
    assert [("Trade" in m.text, SIGNED["tr"] in m.text) for m in turkish] == [
        (False, True),
        (True, True),
    ]
    assert len(bot.standin.messages_to(5000)[before[5000] :]) == 1  # a person gets one bundle
    rows = await svc.db.fetchall(
        "SELECT chat_id, COUNT(*) AS n FROM deliveries WHERE status = 'sent' GROUP BY chat_id"
    )
    assert {int(r["chat_id"]): int(r["n"]) for r in rows} == {CHANNEL: 2, OTHER: 2, 5000: 2}
    found = await channel_store.channel(svc.db, CHANNEL)
    assert found is not None and found.last_post_at == to_db_time(bot.clock.now)


async def test_a_channel_that_removes_the_bot_is_deactivated(bot: BotHarness) -> None:
    bot.standin.add_channel(CHANNEL, title="Gone Desk", creator=USER_ID)
    await _settle(bot)
    await _posted(bot, "/subscribe")
    bot.standin.kick_bot(CHANNEL, by=USER_ID)
    await _settle(bot)
    told = _private(bot, USER_ID)
    assert "Gone Desk" in told[-1] and "no longer post in the channel" in told[-1]
    svc = bot.services
    sub = await subscription_store.subscription(svc.db, svc.visit_id, CHANNEL)
    assert sub is not None and not sub.active
    posts = len(bot.standin.messages_to(CHANNEL))
    await _channel_alerts(bot, "Nobody there")
    assert len(bot.standin.messages_to(CHANNEL)) == posts
    assert not bot.standin.errors_returned  # never even tried
    assert len(_private(bot, USER_ID)) == len(told)  # told once


async def test_a_channel_whose_right_to_post_goes_silently_stops_and_resumes(
    bot: BotHarness,
) -> None:
    bot.standin.add_channel(CHANNEL, title="Muted Desk", username="muteddesk", creator=USER_ID)
    await _settle(bot)
    [linked] = await bot.ask(ADMIN_ID, "/addchannel @muteddesk agreements")
    assert "Muted Desk" in linked.text
    channel = bot.standin._chats[CHANNEL]  # noqa: SLF001 - no update: the post finds out
    channel.bot_can_post = False
    await _channel_alerts(bot, "First", "Second")
    assert bot.standin.errors_returned[("sendMessage", 400)] == 1  # tried once, then stopped
    lost = _private(bot, ADMIN_ID)[-1]
    assert "Muted Desk" in lost and "/channels" in lost  # the linking admin, not the adder
    [listing] = await bot.ask(ADMIN_ID, "/channels")
    assert "⛔" in listing.text
    bot.standin.set_bot_rights(CHANNEL, can_post=True, by=USER_ID)  # rights come back
    await _settle(bot)
    await _channel_alerts(bot, "Third")
    assert "Third" in bot.standin.messages_to(CHANNEL)[-1].text


async def test_posts_in_a_channel_keep_twenty_a_minute(settings: Settings, clock: Clock) -> None:
    async with running_bot(settings, clock, rate_limits=True) as bot:
        bot.standin.add_channel(CHANNEL, title="Busy Desk", creator=USER_ID)
        ext_bot: Any = bot.app.bot  # type: ignore[attr-defined]
        for n in range(20):
            await ext_bot.send_message(CHANNEL, f"post {n}")
        twenty_first = asyncio.create_task(ext_bot.send_message(CHANNEL, "post 20"))
        await asyncio.sleep(0.5)
        assert not twenty_first.done()  # waits for the minute, no 429
        twenty_first.cancel()
        assert bot.standin.errors_returned[("sendMessage", 429)] == 0


async def test_an_agenda_post_shows_the_channels_time_zone(bot: BotHarness) -> None:
    bot.standin.add_channel(CHANNEL, title="Zone Desk", creator=USER_ID)
    await _settle(bot)
    await _posted(bot, "/subscribe agenda")
    await _posted(bot, "/timezone Asia/Seoul")
    svc = bot.services
    starts = dt.datetime(2025, 11, 24, 7, 0, tzinfo=dt.UTC)  # 16:00 in Seoul, 10:00 in Ankara
    async with svc.db.transaction() as tx:
        await create_alert(
            tx,
            visit_id=svc.visit_id,
            kind="agenda",
            payload={
                "item_id": 1,
                "change": "new",
                "starts_at": starts.isoformat(),
                "time_known": True,
                "title": {"en": "Summit talks"},
                "place": json.loads('{"en": "Ankara"}'),
            },
            now=bot.clock.now,
        )
    await worker(bot).wait_idle()
    post = bot.standin.messages_to(CHANNEL)[-1]
    assert "Summit talks" in post.text and "16:00" in post.text and "10:00" not in post.text

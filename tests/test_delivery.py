"""Alert delivery end to end: the real Application, the stand-in, a real SQLite file."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from bot.handlers.stats import stats_text
from bot.standin import InjectedError, SentMessage
from jobs.delivery import DeliveryWorker
from storage import subscriptions as subscription_store
from storage.alerts import AlertKind, create_alert
from tests.conftest import ADMIN_ID, BotHarness

FIRST = 5000


def worker(bot: BotHarness) -> DeliveryWorker:
    found = bot.services.delivery
    assert found is not None
    found.retry_delays = (0.02, 0.05, 0.1)
    return found


async def add_subscribers(bot: BotHarness, ids: Iterable[int], **kwargs: Any) -> None:
    svc = bot.services
    for uid in ids:
        bot.standin.add_user(uid, first_name=f"U{uid}", language_code="en")
        await subscription_store.subscribe(
            svc.db,
            visit_id=svc.visit_id,
            chat_id=uid,
            chat_type="private",
            title="",
            set_by=uid,
            topics=kwargs.get("topics", "all"),
            now=bot.clock.now,
        )


async def alert(bot: BotHarness, text: str, kind: AlertKind = "broadcast") -> int:
    svc = bot.services
    payload: dict[str, Any] = {"text": text}
    if kind == "agreement":
        payload = {"title": text, "sector": "", "status": "confirmed", "sources": []}
    async with svc.db.transaction() as tx:
        alert_id = await create_alert(
            tx, visit_id=svc.visit_id, kind=kind, payload=payload, now=bot.clock.now
        )
    assert alert_id is not None
    return alert_id


def texts_by_chat(bot: BotHarness, needle: str) -> collections.Counter[int]:
    return collections.Counter(m.chat_id for m in bot.standin.sent if needle in m.text)


async def statuses(bot: BotHarness) -> dict[str, int]:
    rows = await bot.services.db.fetchall(
        "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status"
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


async def test_blocked_user_is_deactivated_and_start_reactivates(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST, FIRST + 1])
    bot.standin.block(FIRST)
    await asyncio.sleep(0.1)  # the my_chat_member update deactivates at once ...
    await bot.services.db.execute("UPDATE chats SET active = 1 WHERE chat_id = ?", (FIRST,))
    await alert(bot, "First alert")  # ... but even without it, a 403 does
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "First alert") == {FIRST + 1: 1}
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, FIRST)
    assert sub is not None and not sub.active
    assert bot.standin.errors_returned[("sendMessage", 403)] == 1
    await alert(bot, "Second alert")
    await worker(bot).wait_idle()
    assert bot.standin.errors_returned[("sendMessage", 403)] == 1  # no more tries
    assert texts_by_chat(bot, "Second alert") == {FIRST + 1: 1}

    await bot.ask(FIRST, "/start")  # pressing Restart unblocks and sends /start
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, FIRST)
    assert sub is not None and sub.active
    await alert(bot, "Third alert")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Third alert") == {FIRST: 1, FIRST + 1: 1}
    assert "Second alert" not in " ".join(m.text for m in bot.standin.messages_to(FIRST))


async def test_chat_not_found_deactivates(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST, FIRST + 1])
    bot.standin.remove_chat(FIRST)
    await alert(bot, "Hello")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Hello") == {FIRST + 1: 1}
    assert await statuses(bot) == {"sent": 1, "dropped": 1}
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, FIRST)
    assert sub is not None and not sub.active


async def _group(bot: BotHarness, chat_id: int) -> None:
    bot.standin.add_group(chat_id, title="Embassy <staff>", admins=[ADMIN_ID])
    [reply] = await bot.ask(ADMIN_ID, "/subscribe", chat_id=chat_id)
    assert "Subscribed" in reply.text


async def test_migrated_group_when_the_bot_sees_the_service_message(bot: BotHarness) -> None:
    old, new = -100, -1001000000100
    await _group(bot, old)
    bot.standin.migrate_group(old, new)
    await asyncio.sleep(0.2)
    await alert(bot, "After migration")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "After migration") == {new: 1}
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, old) is None
    )
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, new)
        is not None
    )


async def test_migrated_group_found_by_chat_migrated_error(bot: BotHarness) -> None:
    old, new = -101, -1001000000101
    await _group(bot, old)
    bot.standin.migrate_group(old, new)
    bot.standin._updates.clear()  # the service messages are late: the send finds out first
    await alert(bot, "Moved?")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Moved?") == {new: 1}
    assert bot.standin.errors_returned[("sendMessage", 400)] == 1
    assert await statuses(bot) == {"sent": 1}
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, new)
        is not None
    )


async def test_retry_after_waits_for_that_chat_only(bot: BotHarness) -> None:
    await add_subscribers(bot, range(FIRST, FIRST + 6))
    bot.standin.inject_errors("sendMessage", InjectedError.retry_after(2))
    arrived: dict[int, float] = {}

    def note(message: SentMessage) -> None:
        arrived.setdefault(message.chat_id, time.monotonic())

    bot.standin.subscribe(note)
    started = time.monotonic()
    await alert(bot, "Flood")
    await worker(bot).wait_idle()
    got = texts_by_chat(bot, "Flood")
    assert set(got) == set(range(FIRST, FIRST + 6)) and set(got.values()) == {1}
    delays = sorted(arrived[c] - started for c in got)
    assert delays[-1] >= 2.0  # the flood-limited chat waited as told ...
    assert delays[-2] < 1.5  # ... and nobody else waited for it
    assert await statuses(bot) == {"sent": 6}


async def test_server_errors_and_timeouts_retry_then_fail(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    bot.standin.inject_errors(
        "sendMessage", InjectedError.server_error(502), InjectedError.timeout()
    )
    await alert(bot, "Flaky")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Flaky") == {FIRST: 1}

    bot.standin.inject_errors("sendMessage", *[InjectedError.server_error(500)] * 4)
    await alert(bot, "Down")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Down") == {}
    assert await statuses(bot) == {"sent": 1, "failed": 1}
    row = await bot.services.db.fetchone("SELECT last_error FROM deliveries WHERE status='failed'")
    assert row is not None and "Internal Server Error" in row["last_error"]
    text = await stats_text(bot.services, bot.services.default_visit, "en")
    assert "1 failed" in text and "1 sent" in text


async def test_parse_error_is_resent_as_plain_text(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    bot.standin.inject_errors(
        "sendMessage",
        InjectedError.response(400, "Bad Request: can't parse entities: unexpected end tag"),
    )
    await alert(bot, "Signed <deal> & more", kind="agreement")
    await worker(bot).wait_idle()
    [message] = bot.standin.messages_to(FIRST)
    assert message.parse_mode is None and "Signed <deal> & more" in message.text
    assert worker(bot).plain_fallbacks == 1
    assert await statuses(bot) == {"sent": 1}


async def test_pending_alerts_for_one_chat_are_bundled(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    async with bot.services.db.transaction() as tx:
        for n in range(3):
            await create_alert(
                tx,
                visit_id=bot.services.visit_id,
                kind="broadcast",
                payload={"text": f"news {n}"},
                now=bot.clock.now,
            )
    await worker(bot).wait_idle()
    [message] = bot.standin.messages_to(FIRST)
    assert "3 updates" in message.text and "news 0" in message.text and "news 2" in message.text
    assert await statuses(bot) == {"sent": 3}


async def test_topics_choose_what_arrives(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST], topics="agenda")
    await add_subscribers(bot, [FIRST + 1], topics="agreements")
    await alert(bot, "Deal", kind="agreement")
    await alert(bot, "Everyone")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "Deal") == {FIRST + 1: 1}
    assert texts_by_chat(bot, "Everyone") == {FIRST: 1, FIRST + 1: 1}


async def test_quiet_hours_hold_alerts_and_deliver_them_together(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    [reply] = await bot.ask(FIRST, "/quiet 22:00-07:00")
    assert "22:00" in reply.text
    # 23:00 in Istanbul (UTC+3)
    bot.clock.now = dt.datetime(2025, 11, 23, 20, 0, tzinfo=dt.UTC)
    await alert(bot, "Night one")
    bot.clock.now += dt.timedelta(hours=2)
    await alert(bot, "Night two")
    await worker(bot).wait_idle()
    assert len(bot.standin.messages_to(FIRST)) == 1  # only the /quiet answer
    bot.clock.now = dt.datetime(2025, 11, 24, 4, 0, 30, tzinfo=dt.UTC)  # 07:00:30 local
    worker(bot).wake()
    await worker(bot).wait_idle()
    [bundle] = bot.standin.messages_to(FIRST)[1:]
    assert "Night one" in bundle.text and "Night two" in bundle.text


async def test_daily_digest_at_the_chosen_hour_in_the_chats_zone(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST])
    await bot.ask(FIRST, "/timezone Asia/Seoul")
    [reply] = await bot.ask(FIRST, "/digest 8")
    assert "08:00" in reply.text and "Asia/Seoul" in reply.text
    bot.clock.now = dt.datetime(2025, 11, 24, 3, 0, tzinfo=dt.UTC)  # 12:00 in Seoul
    await alert(bot, "Morning deal", kind="agreement")
    bot.clock.now += dt.timedelta(hours=5)
    await alert(bot, "Evening note")
    await worker(bot).wait_idle()
    assert len(bot.standin.messages_to(FIRST)) == 2
    bot.clock.now = dt.datetime(2025, 11, 24, 23, 0, 5, tzinfo=dt.UTC)  # 08:00:05 in Seoul
    worker(bot).wake()
    await worker(bot).wait_idle()
    [digest] = bot.standin.messages_to(FIRST)[2:]
    assert "daily digest" in digest.text
    assert "Morning deal" in digest.text and "Evening note" in digest.text


async def test_stats_for_admins_only(bot: BotHarness) -> None:
    await add_subscribers(bot, [FIRST, FIRST + 1])
    await alert(bot, "Counted")
    await worker(bot).wait_idle()
    [refused] = await bot.ask(FIRST, "/stats")
    assert "admins" in refused.text
    [answer] = await bot.ask(ADMIN_ID, "/stats")
    assert "2 active" in answer.text and "2 sent" in answer.text and "Feeds" in answer.text


async def test_a_group_that_mutes_the_bot_is_deactivated_and_its_subscriber_told(
    bot: BotHarness,
) -> None:
    group = -120
    await _group(bot, group)  # subscribed by the admin, in the group
    bot.standin.mute_bot(group)
    before = len(bot.standin.messages_to(ADMIN_ID))
    await alert(bot, "First after mute")
    await worker(bot).wait_idle()
    [notice] = bot.standin.messages_to(ADMIN_ID)[before:]
    assert "can no longer post in Embassy <staff>" in notice.text
    sub = await subscription_store.subscription(bot.services.db, bot.services.visit_id, group)
    assert sub is not None and not sub.active
    await alert(bot, "Second after mute")
    await worker(bot).wait_idle()
    assert bot.standin.errors_returned[("sendMessage", 400)] == 1  # no more tries ...
    assert len(bot.standin.messages_to(ADMIN_ID)) == before + 1  # ... and no second notice
    assert await statuses(bot) == {"dropped": 1}  # the second alert did not queue for it


async def test_a_group_that_kicks_the_bot_tells_its_subscriber_once(bot: BotHarness) -> None:
    group = -121
    await _group(bot, group)
    before = len(bot.standin.messages_to(ADMIN_ID))
    bot.standin.kick_bot(group, by=ADMIN_ID)
    told = await bot.standin.wait_for_messages(ADMIN_ID, before + 1)
    assert "can no longer post in Embassy <staff>" in told[-1].text
    await alert(bot, "After the kick")
    await worker(bot).wait_idle()
    assert texts_by_chat(bot, "After the kick") == {}
    assert bot.standin.errors_returned[("sendMessage", 403)] == 0  # known before any send
    assert len(bot.standin.messages_to(ADMIN_ID)) == before + 1


async def test_migrating_into_an_existing_supergroup_row_keeps_the_preferences(
    bot: BotHarness,
) -> None:
    old, new = -102, -1001000000102
    await _group(bot, old)
    [reply] = await bot.ask(ADMIN_ID, "/quiet 22:00-07:00", chat_id=old)
    assert "22:00" in reply.text
    await bot.ask(ADMIN_ID, "/timezone Asia/Seoul", chat_id=old)
    # The supergroup is known first (someone used it before the service message arrived).
    bot.standin.migrate_group(old, new)
    bot.standin._updates.clear()
    db = bot.services.db
    await db.execute(
        "INSERT INTO chats (chat_id, type, title, created_at, updated_at)"
        " VALUES (?, 'supergroup', '', '2025-11-20T09:00:00Z', '2025-11-20T09:00:00Z')",
        (new,),
    )
    await subscription_store.migrate_chat(db, old, new, bot.clock.now)
    sub = await subscription_store.subscription(db, bot.services.visit_id, new)
    assert sub is not None and sub.active
    assert (sub.timezone, sub.quiet_start, sub.quiet_end) == ("Asia/Seoul", 22 * 60, 7 * 60)
    assert sub.wants_agreements and sub.wants_agenda and sub.set_by == ADMIN_ID
    title = await db.fetchval("SELECT title FROM chats WHERE chat_id = ?", (new,))
    assert title == "Embassy <staff>"

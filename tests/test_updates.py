"""Updates from different chats at once, one chat in order, and nobody flooding the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from telegram import Update

from bot.config import Settings
from bot.i18n import t
from bot.updates import FairUpdateProcessor
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, Clock, running_bot, with_settings
from tests.feedserver import FeedServer, Reply

FLOODER = 3001


def message_update(update_id: int, chat_id: int, user_id: int, text: str = "hi") -> Update:
    user = {"id": user_id, "is_bot": False, "first_name": "U"}
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "G"}
    data = {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "chat": chat, "from": user, "text": text},
    }
    update = Update.de_json(data, None)
    assert update is not None
    return update


def inline_update(update_id: int, user_id: int, query: str) -> Update:
    user = {"id": user_id, "is_bot": False, "first_name": "U"}
    data = {
        "update_id": update_id,
        "inline_query": {"id": str(update_id), "from": user, "query": query, "offset": ""},
    }
    update = Update.de_json(data, None)
    assert update is not None
    return update


async def test_one_chat_in_order_different_chats_at_once_within_the_bound() -> None:
    processor = FairUpdateProcessor(max_running=3, per_user_backlog=100)
    log: list[tuple[str, int, int]] = []
    running = 0
    most = 0

    async def handle(chat: int, n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        log.append(("start", chat, n))
        await asyncio.sleep(0.05)
        log.append(("end", chat, n))
        running -= 1

    jobs = [
        processor.process_update(message_update(chat * 10 + n, chat, chat), handle(chat, n))
        for n in range(4)
        for chat in (1, 2, 3, 4, 5)
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*jobs)
    elapsed = loop.time() - started
    for chat in (1, 2, 3, 4, 5):
        mine = [(kind, n) for kind, c, n in log if c == chat]
        assert mine == [(kind, n) for n in range(4) for kind in ("start", "end")]  # in order
    assert most == 3  # concurrent, but never more than the bound
    assert elapsed < 20 * 0.05  # faster than one at a time


async def test_a_flood_is_capped_with_one_notice_and_inline_queries_merge() -> None:
    noticed: list[int] = []

    async def notice(update: Update) -> None:
        noticed.append(update.update_id)

    processor = FairUpdateProcessor(per_user_backlog=3, notice=notice)
    ran: list[int] = []
    gate = asyncio.Event()

    async def handle(n: int) -> None:
        ran.append(n)
        await gate.wait()

    jobs = [
        asyncio.create_task(processor.process_update(message_update(n, 7, 7), handle(n)))
        for n in range(1, 11)
    ]
    other = asyncio.create_task(processor.process_update(message_update(99, 8, 8), handle(99)))
    await asyncio.sleep(0.05)
    assert 99 in ran  # another user is not held up by the flood
    gate.set()
    await asyncio.gather(*jobs, other)
    assert [n for n in ran if n != 99] == [1, 2, 3]  # the first three, in order
    assert noticed == [4]  # one notice, in the chat's order, for seven dropped updates
    assert processor.dropped == 7

    processor = FairUpdateProcessor(notice=notice)  # a backlog of 8: no query is dropped
    seen: list[str] = []
    slow = asyncio.Event()

    async def answer(query: str) -> None:
        seen.append(query)
        if query == "w":
            await slow.wait()

    typing = [
        asyncio.create_task(processor.process_update(inline_update(200 + i, 9, q), answer(q)))
        for i, q in enumerate(["w", "wo", "wor", "word"])
    ]
    await asyncio.sleep(0.05)
    slow.set()
    await asyncio.gather(*typing)
    assert seen == ["w", "word"]  # the queries typed while "w" was answered merge into the last
    assert processor.merged == 2


@pytest.mark.slow
async def test_another_user_is_answered_at_once_while_one_user_sends_200_commands(
    settings: Settings, clock: Clock
) -> None:
    async with running_bot(settings, clock, rate_limits=True) as bot:
        bot.standin.add_user(FLOODER, first_name="Flood")
        latency = None
        for n in range(200):  # 200 commands in about a second
            bot.standin.send_text(FLOODER, "/facts trade")
            if n == 100:
                asked = time.monotonic()
                bot.standin.send_text(USER_ID, "/status")
                await bot.standin.wait_for_messages(USER_ID, 1, timeout=5.0)
                latency = time.monotonic() - asked
            await asyncio.sleep(0.005)
        flood_ended = time.monotonic()
        notice = t("en", "updates.flood_notice")
        await bot.standin.wait_for_messages(FLOODER, 9, timeout=20.0)
        processor = bot.app.update_processor  # type: ignore[attr-defined]
        assert isinstance(processor, FairUpdateProcessor)
        for _ in range(200):  # what was accepted drains at one a second
            if not processor.backlog(FLOODER):
                break
            await asyncio.sleep(0.1)
        drained = time.monotonic() - flood_ended
        to_flooder = bot.standin.messages_to(FLOODER)
        # Dropped updates are settled in the inbox: a restart must not replay the flood.
        unsettled = await bot.services.db.fetchval(
            "SELECT COUNT(*) FROM update_inbox WHERE handled_at IS NULL"
        )
    assert unsettled == 0
    assert latency is not None
    print(f"\n/status answered after {latency * 1000:.0f} ms during a flood of 200 commands")
    assert latency <= 1.0
    # The flooder: a backlog of eight answered (one a second, as Telegram allows, plus those
    # that fit while the flood went on), one notice for the rest, and done soon after.
    print(f"flooder: {len(to_flooder)} messages, {processor.dropped} dropped, {drained:.1f}s")
    assert [m.text for m in to_flooder].count(notice) == 1
    assert 9 <= len(to_flooder) <= 9 + 4
    assert processor.dropped >= 200 - len(to_flooder)
    assert drained < 15
    assert bot.standin.errors_returned[("sendMessage", 429)] == 0


@pytest.fixture
def trickle() -> Iterator[FeedServer]:
    def one_byte_every_five_seconds() -> Iterator[bytes]:
        for byte in b"<rss><channel><title>slow</title></channel></rss>":
            yield bytes([byte])

    with FeedServer() as server:
        server.route("/trickle", Reply(body=one_byte_every_five_seconds, chunk_delay=5.0))
        yield server


async def test_status_is_answered_while_an_admins_addfeed_waits_on_a_trickling_feed(
    settings: Settings, clock: Clock, trickle: FeedServer
) -> None:
    open_settings = with_settings(settings, allow_private_feeds=True)
    async with running_bot(open_settings, clock) as bot:
        bot.standin.send_text(ADMIN_ID, f"/addfeed {trickle.url('/trickle')}")
        await asyncio.sleep(1.0)
        assert trickle.requests_to("/trickle")  # the admin's fetch is under way
        asked = time.monotonic()
        [status] = await bot.ask(USER_ID, "/status")
        latency = time.monotonic() - asked
        assert not bot.standin.messages_to(ADMIN_ID)  # still waiting for the feed
        trickle.stopped.set()  # the feed server gives up: /addfeed answers, the bot can stop
        [answer] = await bot.standin.wait_for_messages(ADMIN_ID, 1, timeout=10.0)
    print(f"\n/status answered after {latency * 1000:.0f} ms beside a trickling /addfeed")
    assert latency <= 1.0
    assert status.text and answer.text


async def test_a_conversation_typed_ahead_runs_step_by_step_beside_other_chats(
    bot: BotHarness,
) -> None:
    """PTB warns that ConversationHandler needs updates one by one: per chat they still are."""
    steps = ["/addagreement", "Culture exchange programme", "Culture", "/skip", "/skip"]
    for text in steps:  # typed ahead, without waiting for the answers
        bot.standin.send_text(ADMIN_ID, text)
        bot.standin.send_text(USER_ID, "/status")
    answers = await bot.standin.wait_for_messages(ADMIN_ID, len(steps), timeout=10.0)
    [cancelled] = await bot.ask(ADMIN_ID, "/cancel")
    assert "Nothing was saved" in cancelled.text
    assert "title" in answers[0].text.lower()  # each step answered in turn ...
    assert "source" in answers[-1].text.lower()  # ... up to the source, after two skips
    assert len(await bot.standin.wait_for_messages(USER_ID, len(steps))) == len(steps)

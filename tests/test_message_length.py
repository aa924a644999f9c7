"""Whole messages, measured as Telegram measures them: what fits arrives whole, what cannot is
refused up front with its real length, and nothing is cut without a mark.

Telegram's 4,096 is counted on the visible text (tags removed, entities decoded) in UTF-16
units: "&amp;" is one, an emoji two, a link's address nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.handlers.review import notify_admins_of_story
from bot.render import MESSAGE_LIMIT, utf16_len, visible_len
from bot.validation import BROADCAST_MAX, TITLE_MAX
from storage.users import set_language
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, buttons
from tests.test_admin_e2e import SUBSCRIBER, alerts, assert_no_rejections, rows, subscribe
from tests.test_admin_review import make_story


async def delivered(bot: BotHarness, chat_id: int = SUBSCRIBER, count: int = 1) -> list[str]:
    """The texts the chat received once `count` messages arrived (and a moment more)."""
    await bot.standin.wait_for_messages(chat_id, count)
    await asyncio.sleep(0.2)  # a message more than expected would be noticed
    return [m.text for m in bot.standin.messages_to(chat_id)]


# --- /broadcast ------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["&", "<", "‹", '"'])
async def test_a_broadcast_of_2999_characters_that_grow_when_escaped_arrives_whole(
    bot: BotHarness, char: str
) -> None:
    """The reproduction: 2,999 "&" reached subscribers as 816 of them (the escaped HTML was
    measured); "<" as 1,021 (`&lt;` is four). Now each arrives as one whole message."""
    await subscribe(bot)
    [queued] = await bot.ask(ADMIN_ID, "/broadcast " + char * 2999)
    assert "queued for 1 subscribed chats" in queued.text
    assert await delivered(bot) == ["📣 " + char * 2999]
    assert_no_rejections(bot)


async def test_a_broadcast_of_2999_emoji_is_refused_with_its_real_length(bot: BotHarness) -> None:
    """2,999 emoji are 5,998 UTF-16 units: they reached subscribers as 2,044 of them. Now the
    admin is told the length Telegram counts and the limit, and nothing is queued."""
    await subscribe(bot)
    [refused] = await bot.ask(ADMIN_ID, "/broadcast " + "😀" * 2999)
    assert "5998 characters long as Telegram counts them" in refused.text
    assert f"at most {BROADCAST_MAX}" in refused.text and "Nothing was sent" in refused.text
    assert await alerts(bot, "broadcast") == []
    await asyncio.sleep(0.2)
    assert bot.standin.messages_to(SUBSCRIBER) == []


async def test_the_refusal_is_in_the_admins_language(bot: BotHarness) -> None:
    await set_language(bot.services.db, ADMIN_ID, "ko", bot.clock.now)
    [refused] = await bot.ask(ADMIN_ID, "/broadcast " + "😀" * 1501)
    assert "3002자" in refused.text and f"최대 {BROADCAST_MAX}자" in refused.text


async def test_the_longest_emoji_broadcast_that_fits_arrives_whole(bot: BotHarness) -> None:
    await subscribe(bot)
    text = "🇹🇷🇰🇷 " + "😀" * ((BROADCAST_MAX - 9) // 2)  # flags are two code points each
    assert utf16_len(text) <= BROADCAST_MAX
    await bot.ask(ADMIN_ID, "/broadcast " + text)
    assert await delivered(bot) == ["📣 " + text]


# --- /facts ----------------------------------------------------------------------------------

# About 940 visible characters, but half again as much HTML ("&" is "&amp;").
FACT_TEXT = "Zephyrine " + "R&D & trade <=> K&T " * 46
SOURCE = "Ministry https://example.com/press?" + "&page=1" * 200  # a 1,400-character address


async def add_facts(bot: BotHarness, count: int) -> None:
    for n in range(count):
        [added] = await bot.ask(ADMIN_ID, f"/addfact trade | Fact{n:02d} {FACT_TEXT} | {SOURCE}")
        assert "added" in added.text.lower(), added.text


async def test_a_facts_answer_that_fits_is_one_message(bot: BotHarness) -> None:
    """Three facts, about 3,000 visible characters: one message (it used to come in several,
    because the escaped HTML with its long links was measured)."""
    await add_facts(bot, 3)
    [answer] = await bot.ask(USER_ID, "/facts Zephyrine", replies=1)
    assert answer.html is not None
    assert utf16_len(answer.html) > 2 * MESSAGE_LIMIT  # the HTML is far longer than 4,096
    assert visible_len(answer.html) <= MESSAGE_LIMIT
    for n in range(3):
        assert f"Fact{n:02d} {FACT_TEXT.strip()}" in answer.text
    assert_no_rejections(bot)


async def test_a_facts_answer_too_long_for_one_message_is_split_at_lines_keeping_all(
    bot: BotHarness,
) -> None:
    await add_facts(bot, 6)
    before = len(bot.standin.messages_to(USER_ID))
    bot.standin.send_text(USER_ID, "/facts Zephyrine")
    await bot.standin.wait_for_messages(USER_ID, before + 2)
    await asyncio.sleep(0.2)
    parts = bot.standin.messages_to(USER_ID)[before:]
    assert len(parts) == 2  # 6 x 940 characters: two messages, no more
    for part in parts:
        assert part.html is not None and visible_len(part.html) <= MESSAGE_LIMIT
    text = "\n".join(part.text for part in parts)
    for n in range(6):
        assert f"Fact{n:02d} {FACT_TEXT.strip()}" in text  # every fact whole, in one part
    assert_no_rejections(bot)


# --- admin input is measured as Telegram measures it -----------------------------------------


async def test_an_emoji_title_is_measured_in_utf16_units_and_arrives_whole(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    [refused] = await bot.ask(ADMIN_ID, "/addagreement " + "🤝" * (TITLE_MAX // 2 + 1))
    assert f"{TITLE_MAX + 2} characters as Telegram counts them" in refused.text
    assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []
    title = "🤝" * (TITLE_MAX // 2)
    [saved] = await bot.ask(ADMIN_ID, f"/addagreement {title} | energy")
    assert "saved as Confirmed" in saved.text
    [alert] = await delivered(bot)
    assert title in alert and "…" not in alert


# --- messages to admins ------------------------------------------------------------------------


async def test_a_review_card_too_long_for_one_message_reaches_admins_whole(
    bot: BotHarness,
) -> None:
    """Feed titles are capped at 500 characters, but 500 emoji are 1,000 units: a card with
    five such sources is longer than a message. It arrives in parts, buttons on the last."""
    title = "📰" * 500
    story_id = await make_story(bot, title=title)
    db = bot.services.db
    feed_id = await db.fetchval("SELECT feed_id FROM news_items WHERE story_id = ?", (story_id,))
    for n in range(4):
        await db.execute(
            "INSERT INTO news_items (feed_id, entry_id, title, link, relevant, kind, story_id,"
            " seen_at) VALUES (?, ?, ?, ?, 1, 'agreement', ?, '2025-11-24T12:00:00+00:00')",
            (feed_id, f"more{n}", f"{n}" + "🗞" * 499, f"https://news.example/{n}", story_id),
        )
    before = len(bot.standin.messages_to(ADMIN_ID))
    await notify_admins_of_story(bot.app.bot, bot.services, story_id)  # type: ignore[attr-defined]
    parts = bot.standin.messages_to(ADMIN_ID)[before:]
    assert len(parts) >= 2
    assert [bool(buttons(p)) for p in parts] == [False] * (len(parts) - 1) + [True]
    text = "".join(p.text for p in parts)
    assert text.count("📰") >= 1000 and text.count("🗞") == 4 * 499  # title (twice) and sources
    assert_no_rejections(bot)

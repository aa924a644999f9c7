"""The review queue end to end: cards sent to admins, Confirm / Dismiss / Edit, and races."""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from bot.handlers.review import notify_admins_of_story
from bot.standin import SentMessage
from storage.agreements import Saved
from storage.audit import Actor
from storage.db import from_db_time
from storage.feeds import link_feed
from storage.review import decide_story
from tests.conftest import ADMIN_ID, BotHarness, buttons
from tests.test_admin_e2e import (
    SECOND_ADMIN,
    SUBSCRIBER,
    add_second_admin,
    alerts,
    assert_no_rejections,
    audit_actions,
    rows,
    subscribe,
)

STAMP = "2025-11-24T12:00:00+00:00"
LINK = "https://news.example/kepco-nuclear"


async def make_story(
    bot: BotHarness, title: str = "KEPCO signs nuclear MoU with Türkiye's EÜAŞ", link: str = LINK
) -> int:
    """A pending agreement story with one feed item, as the polling job stores it."""
    db = bot.services.db
    visit_id = bot.services.visit_id
    feed_id = await link_feed(
        db, visit_id, "https://news.example/rss", "admin", from_db_time(STAMP)
    )
    anchor = bot.services.visit.anchors[0].key
    story_id = await db.execute(
        "INSERT INTO stories (visit_id, kind, title, sectors, parties, day, first_seen_at, review)"
        " VALUES (?, 'agreement', ?, '[\"energy\"]', ?, '2025-11-24', ?, 'pending')",
        (visit_id, title, json.dumps([anchor]), STAMP),
    )
    await db.execute(
        "INSERT INTO news_items (feed_id, entry_id, title, link, relevant, kind, story_id,"
        " seen_at) VALUES (?, ?, ?, ?, 1, 'agreement', ?, ?)",
        (feed_id, f"e{story_id}", title, link, story_id, STAMP),
    )
    return story_id


async def cards(bot: BotHarness, story_id: int, admins: list[int]) -> dict[int, SentMessage]:
    """Run the hook the polling job calls, and collect each admin's card."""
    before = {a: len(bot.standin.messages_to(a)) for a in admins}
    await notify_admins_of_story(bot.app.bot, bot.services, story_id)  # type: ignore[attr-defined]
    found = {}
    for admin in admins:
        messages = await bot.standin.wait_for_messages(admin, before[admin] + 1)
        found[admin] = messages[-1]
    return found


async def test_new_story_card_has_three_buttons(bot: BotHarness) -> None:
    await add_second_admin(bot)
    story_id = await make_story(bot, title="<b>KEPCO</b> & EÜAŞ <script>x</script> sign MoU")
    sent = await cards(bot, story_id, [ADMIN_ID, SECOND_ADMIN])
    for card in sent.values():
        assert "New signing detected" in card.text
        assert "<b>KEPCO</b> & EÜAŞ <script>x</script> sign MoU" in card.text  # literal
        assert "Energy" in card.text and "2025-11-24" in card.text
        assert set(buttons(card)) == {"✅ Confirm", "✖ Dismiss", "✏️ Edit"}
    assert_no_rejections(bot)


async def test_two_admins_confirming_at_once_create_one_entry(bot: BotHarness) -> None:
    await subscribe(bot)
    await add_second_admin(bot)
    story_id = await make_story(bot)
    sent = await cards(bot, story_id, [ADMIN_ID, SECOND_ADMIN])
    before = {a: len(bot.standin.messages_to(a)) for a in sent}
    # Both buttons are pressed before either reply is awaited.
    for admin, card in sent.items():
        bot.standin.press_button(admin, card.message_id, buttons(card)["✅ Confirm"])
    for admin in sent:
        await bot.standin.wait_for_messages(admin, before[admin] + 2)  # buttons removed + reply
    await asyncio.sleep(0.05)
    replies = [bot.standin.messages_to(a)[-1].text for a in sent]
    assert sum("confirmed as agreement" in r for r in replies) == 1
    assert sum("already confirmed" in r for r in replies) == 1

    [entry] = await rows(bot, "SELECT * FROM agreements WHERE story_id = ?", (story_id,))
    assert (entry["status"], entry["origin"], entry["sector"]) == ("confirmed", "review", "energy")
    assert entry["title"] == "KEPCO signs nuclear MoU with Türkiye's EÜAŞ"
    assert entry["signed_on"] == "2025-11-24" and entry["source_url"] == LINK
    assert entry["parties"] == bot.services.visit.anchors[0].name.en
    [story] = await rows(bot, "SELECT * FROM stories WHERE id = ?", (story_id,))
    assert story["review"] == "confirmed" and story["reviewed_by"] in (ADMIN_ID, SECOND_ADMIN)
    [alert] = await alerts(bot, "agreement")
    assert alert["payload"]["story_id"] == story_id and alert["chats"] == [SUBSCRIBER]
    assert alert["payload"]["sources"][0]["url"] == LINK
    assert (await audit_actions(bot)).count("agreement.add") == 1
    for card in sent.values():  # the buttons are gone from both cards
        current = bot.standin.message(card.chat_id, card.message_id)
        assert current is not None and buttons(current) == {}
    assert_no_rejections(bot)


async def test_dismiss_records_the_decision_and_the_story_never_returns(bot: BotHarness) -> None:
    story_id = await make_story(bot)
    [review_title, card] = await bot.ask(ADMIN_ID, "/review", replies=2)
    assert "1 stories wait" in review_title.text
    await bot.press(ADMIN_ID, card, buttons(card)["✖ Dismiss"], replies=2)
    assert "dismissed" in bot.standin.messages_to(ADMIN_ID)[-1].text
    [story] = await rows(bot, "SELECT review, reviewed_by FROM stories WHERE id = ?", (story_id,))
    assert story == {"review": "dismissed", "reviewed_by": ADMIN_ID}
    [empty] = await bot.ask(ADMIN_ID, "/review")
    assert "Nothing waits" in empty.text
    assert await rows(bot, "SELECT id FROM agreements WHERE story_id = ?", (story_id,)) == []
    assert "story.dismiss" in await audit_actions(bot)


async def test_stale_card_after_a_decision_says_so(bot: BotHarness) -> None:
    story_id = await make_story(bot)
    [card] = (await cards(bot, story_id, [ADMIN_ID])).values()
    [_title, listed] = await bot.ask(ADMIN_ID, "/review", replies=2)
    await bot.press(ADMIN_ID, listed, buttons(listed)["✖ Dismiss"], replies=2)
    await bot.press(ADMIN_ID, card, buttons(card)["✅ Confirm"], replies=2)
    assert "already dismissed" in bot.standin.messages_to(ADMIN_ID)[-1].text
    assert await rows(bot, "SELECT id FROM agreements WHERE story_id = ?", (story_id,)) == []


async def test_edit_gives_a_prefilled_command_that_links_the_story(bot: BotHarness) -> None:
    story_id = await make_story(bot)
    [card] = (await cards(bot, story_id, [ADMIN_ID])).values()
    [hint] = await bot.press(ADMIN_ID, card, buttons(card)["✏️ Edit"])
    assert "/addagreement KEPCO signs nuclear MoU" in hint.text and LINK in hint.text
    command = hint.text.splitlines()[-1].replace("KEPCO signs", "KEPCO and EÜAŞ sign")
    [saved] = await bot.ask(ADMIN_ID, command)
    assert "saved as Confirmed" in saved.text and f"#{story_id}" in saved.text
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE story_id = ?", (story_id,))
    assert entry["title"].startswith("KEPCO and EÜAŞ sign") and entry["origin"] == "admin"
    [story] = await rows(bot, "SELECT review FROM stories WHERE id = ?", (story_id,))
    assert story["review"] == "confirmed"
    [empty] = await bot.ask(ADMIN_ID, "/review")
    assert "Nothing waits" in empty.text


async def test_addagreement_links_a_story_with_the_same_source(bot: BotHarness) -> None:
    story_id = await make_story(bot, title="Türkiye ve Kore nükleer anlaşma imzaladı")
    [saved] = await bot.ask(
        ADMIN_ID, f"/addagreement Nuclear power plant MoU | energy | | | {LINK}"
    )
    assert "Linked to reported story" in saved.text
    [entry] = await rows(bot, "SELECT story_id FROM agreements WHERE origin = 'admin'")
    assert entry["story_id"] == story_id


async def test_story_that_is_not_pending_is_not_sent(bot: BotHarness) -> None:
    story_id = await make_story(bot)
    await bot.services.db.execute("UPDATE stories SET review = 'none' WHERE id = ?", (story_id,))
    before = len(bot.standin.messages_to(ADMIN_ID))
    await notify_admins_of_story(bot.app.bot, bot.services, story_id)  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    assert len(bot.standin.messages_to(ADMIN_ID)) == before


async def test_concurrent_decisions_in_storage_create_one_entry(bot: BotHarness) -> None:
    """Below PTB's update queue too: simultaneous transactions still create one entry."""
    story_id = await make_story(bot)
    svc = bot.services
    decisions: list[tuple[int, Literal["confirmed", "dismissed"]]] = [
        (ADMIN_ID, "confirmed"),
        (SECOND_ADMIN, "confirmed"),
        (SECOND_ADMIN, "dismissed"),
    ]
    results = await asyncio.gather(
        *(
            decide_story(svc.db, Actor(user, svc.visit_id, svc.now()), svc.visit, story_id, choice)
            for user, choice in decisions
        )
    )
    assert sum(isinstance(r, Saved) for r in results) == 1
    assert results.count(False) == 2
    assert len(await rows(bot, "SELECT id FROM agreements WHERE story_id = ?", (story_id,))) == 1

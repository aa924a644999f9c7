"""Several visits side by side, end to end: the real bot with both bundled visits (a tour's two
stops: Egypt 19–21 and Türkiye 24–25 November 2025), a local feed server, the stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import load_settings
from storage.visit import bundled_visits_dir
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, Clock, buttons, running_bot
from tests.feedserver import FeedServer, Reply
from tests.test_polling import rss

EGYPT = "lee-jae-myung-egypt-2025"
TURKIYE = "lee-jae-myung-turkiye-2025"
DURING_EGYPT = dt.datetime(2025, 11, 20, 8, 0, tzinfo=dt.UTC)  # Egypt live, Türkiye next
EGYPT_READER = 3101
TURKIYE_READER = 3102
BOTH_READER = 3103


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/news.xml", Reply(body=rss()))
        yield server


@pytest.fixture
async def bot(tmp_path: Path, feed: FeedServer) -> AsyncIterator[BotHarness]:
    """Both bundled visits (VISITS_DIR), one feed serving both (FEED_URLS is every visit's)."""
    settings = load_settings(
        environ={
            "DATABASE_PATH": str(tmp_path / "visitbot.db"),
            "ADMIN_IDS": str(ADMIN_ID),
            "FEED_URLS": feed.url("/news.xml"),
            "VISITS_DIR": str(bundled_visits_dir()),
        },
        dotenv=None,
    )
    async with running_bot(settings, Clock(DURING_EGYPT)) as harness:
        for reader in (EGYPT_READER, TURKIYE_READER, BOTH_READER):
            harness.standin.add_user(reader, first_name=f"Reader{reader}")
        yield harness


def visit_id(bot: BotHarness, slug: str) -> int:
    found = bot.services.visits.by_slug(slug)
    assert found is not None
    return found.id


async def follow(bot: BotHarness, user: int, *slugs: str) -> None:
    for slug in slugs:
        [switched] = await bot.ask(user, f"/visit {slug}")
        assert "Now reading about" in switched.text
        [done] = await bot.ask(user, "/subscribe")
        assert "Subscribed" in done.text


async def poll_until_idle(bot: BotHarness) -> None:
    poller = bot.services.poller
    assert poller is not None
    for _ in range(100):  # the job's own first tick may be polling already
        if not poller.in_flight:
            break
        await asyncio.sleep(0.05)
    await poller.poll_due()


async def test_visits_lists_live_then_upcoming_and_switching_changes_what_is_answered(
    bot: BotHarness,
) -> None:
    [listing] = await bot.ask(USER_ID, "/visits")
    egypt_at = listing.text.index("Egypt")
    turkiye_at = listing.text.index("Türkiye")
    assert egypt_at < turkiye_at  # live first, then upcoming
    assert "▶" in listing.text.splitlines()[2]  # the default current visit is the live one
    [status] = await bot.ask(USER_ID, "/status")
    assert "Egypt" in status.text
    picks = buttons(listing)
    turkiye_button = next(data for label, data in picks.items() if "Türkiye" in label)
    [switched] = await bot.press(USER_ID, listing, turkiye_button)
    assert "Now reading about" in switched.text and "Türkiye" in switched.text
    [status] = await bot.ask(USER_ID, "/status")
    assert "Türkiye" in status.text.splitlines()[0]
    [agenda] = await bot.ask(USER_ID, "/agenda")
    assert agenda.text.startswith("🗺") and "Türkiye" in agenda.text.splitlines()[0]
    assert "Anıtkabir" in agenda.text or "Atatürk" in agenda.text
    [unknown] = await bot.ask(USER_ID, "/visit atlantis-2031")
    assert "no visit" in unknown.text and EGYPT in unknown.text
    [trip] = await bot.ask(USER_ID, "/agenda trip")
    assert trip.text.index("Egypt") < trip.text.index("Türkiye")  # the tour in order


async def test_deep_link_opens_a_visit(bot: BotHarness) -> None:
    [opened] = await bot.ask(BOTH_READER, f"/start {TURKIYE}")
    assert "Now reading about" in opened.text and "Türkiye" in opened.text
    current = await bot.services.current_visit(BOTH_READER)
    assert current.slug == TURKIYE


async def test_one_chat_follows_two_visits_and_each_alert_says_which(bot: BotHarness) -> None:
    await follow(bot, BOTH_READER, EGYPT, TURKIYE)
    await follow(bot, TURKIYE_READER, TURKIYE)
    for slug, title in ((EGYPT, "Culture MoU signed in Cairo"), (TURKIYE, "Nuclear MoU")):
        [_] = await bot.ask(ADMIN_ID, f"/visit {slug}")
        [saved] = await bot.ask(
            ADMIN_ID,
            f"/addagreement {title} | | 2025-11-20 | both governments | https://a.example/x",
        )
        assert "Saved" in saved.text or "saved" in saved.text
    assert bot.services.delivery is not None
    await bot.services.delivery.wait_idle()
    both = [m.text for m in bot.standin.messages_to(BOTH_READER) if "MoU" in m.text]
    assert len(both) == 2
    assert any("Egypt" in text and "Culture MoU" in text for text in both)
    assert any("Türkiye" in text and "Nuclear MoU" in text for text in both)
    # A chat following one visit gets its alerts without the label.
    [only] = [m.text for m in bot.standin.messages_to(TURKIYE_READER) if "MoU" in m.text]
    assert "Nuclear MoU" in only and "🗺" not in only


async def test_a_feed_item_alerts_the_subscribers_of_its_visit_only(
    bot: BotHarness, feed: FeedServer
) -> None:
    await follow(bot, EGYPT_READER, EGYPT)
    await follow(bot, TURKIYE_READER, TURKIYE)
    await poll_until_idle(bot)  # the first poll of a feed records and alerts nothing
    feed.route(
        "/news.xml",
        Reply(
            body=rss(
                (
                    "eg-mou",
                    "Korea, Egypt sign two MoUs on culture and education in Cairo",
                    "Thu, 20 Nov 2025 14:00:00 +0200",
                ),
                (
                    "tr-arrive",
                    "After Egypt and G20, Lee arrives in Ankara for state visit",
                    "Mon, 24 Nov 2025 09:00:00 +0300",
                ),
            )
        ),
    )
    db = bot.services.db
    await db.execute("UPDATE feeds SET next_poll_at = NULL")
    await poll_until_idle(bot)
    assert bot.services.delivery is not None
    await bot.services.delivery.wait_idle()
    egypt_texts = [m.text for m in bot.standin.messages_to(EGYPT_READER)]
    turkiye_texts = [m.text for m in bot.standin.messages_to(TURKIYE_READER)]
    assert any("culture and education" in text for text in egypt_texts)
    assert not any("culture and education" in text for text in turkiye_texts)
    # Each item is credited to the stop it is about, not to the other stop of the tour.
    credited = {
        row["entry_id"]: row["visit_id"]
        for row in await db.fetchall("SELECT entry_id, visit_id FROM news_items")
    }
    assert credited["eg-mou"] == visit_id(bot, EGYPT)
    assert credited["tr-arrive"] == visit_id(bot, TURKIYE)


async def test_admin_edits_land_in_the_admins_current_visit(bot: BotHarness) -> None:
    [switched] = await bot.ask(ADMIN_ID, f"/visit {TURKIYE}")
    assert "admin commands now act on this visit" in switched.text
    [added] = await bot.ask(ADMIN_ID, "/addagenda 2025-11-25 10:00 | Breakfast with press | Ankara")
    assert "Türkiye" in added.text  # the confirmation names the visit when there are several
    db = bot.services.db
    row = await db.fetchone("SELECT visit_id FROM agenda_items WHERE title LIKE '%Breakfast%'")
    assert row is not None and row["visit_id"] == visit_id(bot, TURKIYE)
    audit = await db.fetchone("SELECT visit_id FROM audit_log WHERE action = 'agenda.add'")
    assert audit is not None and audit["visit_id"] == visit_id(bot, TURKIYE)
    # Readers of the other visit do not see it.
    [egypt_agenda] = await bot.ask(USER_ID, "/agenda")
    assert "Breakfast with press" not in egypt_agenda.text


async def test_following_every_visit(bot: BotHarness) -> None:
    [done] = await bot.ask(EGYPT_READER, "/subscribe allvisits agreements")
    assert "every visit" in done.text
    [_] = await bot.ask(ADMIN_ID, f"/visit {TURKIYE}")
    await bot.ask(
        ADMIN_ID, "/addagreement Rail MoU | | 2025-11-24 | ministries | https://a.example/r"
    )
    assert bot.services.delivery is not None
    await bot.services.delivery.wait_idle()
    assert any("Rail MoU" in m.text for m in bot.standin.messages_to(EGYPT_READER))
    [settings] = await bot.ask(EGYPT_READER, "/settings")
    assert "Every visit" in settings.text
    [stopped] = await bot.ask(EGYPT_READER, "/unsubscribe allvisits")
    assert "every visit" in stopped.text


async def test_a_reader_without_a_catalogue_reads_the_visits_own_texts_in_their_language(
    bot: BotHarness,
) -> None:
    """Arabic has no interface catalogue: English around the Egypt visit's Arabic texts, and
    English texts for the Türkiye visit, which has none in Arabic."""
    arabic = 3104
    bot.standin.add_user(arabic, first_name="Reader", language_code="ar")
    [agenda] = await bot.ask(arabic, "/agenda")
    assert "الوصول من الإمارات" in agenda.text  # the programme in Arabic
    assert "means the hour was not made public" in agenda.text or "—" in agenda.text
    [visit_facts] = await bot.ask(arabic, "/facts visit")
    assert any("\u0600" <= ch <= "\u06ff" for ch in visit_facts.text)
    [_] = await bot.ask(arabic, f"/visit {TURKIYE}")
    [turkish_agenda] = await bot.ask(arabic, "/agenda")
    assert "Summit talks" in turkish_agenda.text  # English: the Türkiye file has no Arabic


async def test_feeds_are_polled_only_inside_a_visits_tracking_window(
    bot: BotHarness, feed: FeedServer
) -> None:
    await poll_until_idle(bot)
    polled = len(feed.requests_to("/news.xml"))
    assert polled >= 1  # inside both windows: polled
    bot.clock.now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)  # both visits concluded long ago
    await bot.services.db.execute("UPDATE feeds SET next_poll_at = NULL")
    assert bot.services.poller is not None
    report = await bot.services.poller.poll_due()
    assert report.outcomes == {}
    assert len(feed.requests_to("/news.xml")) == polled
    [status] = await bot.ask(USER_ID, "/status")  # concluded visits stay readable
    assert "ended" in status.text

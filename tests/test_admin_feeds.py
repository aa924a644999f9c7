"""Feed administration end to end: /feeds, /addfeed (preview, address checks), pause, resume."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import Settings
from tests.conftest import ADMIN_ID, BotHarness, Clock, buttons, running_bot, with_settings
from tests.feedserver import FeedServer, Reply
from tests.test_admin_e2e import assert_no_rejections, rows, snapshot

FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Ankara Daily &amp; Co</title>'
    "<item><title>Lee, Erdoğan sign nuclear energy MoU in Ankara</title>"
    "<link>https://news.example/1</link><guid>1</guid>"
    "<pubDate>Mon, 24 Nov 2025 12:00:00 GMT</pubDate></item>"
    "<item><title>Lee arrives in Ankara for talks with Erdoğan</title>"
    "<link>https://news.example/2</link><guid>2</guid>"
    "<pubDate>Mon, 24 Nov 2025 08:00:00 GMT</pubDate></item>"
    "<item><title>Local football results</title><link>https://news.example/3</link>"
    "<guid>3</guid></item>"
    "</channel></rss>"
).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.route("/rss", Reply(body=FEED, headers={"Content-Type": "application/rss+xml"}))
        running.route("/missing", Reply(status=404, body=b"not here"))
        running.route("/html", Reply(body=b"<html><body>hello</body></html>"))
        yield running


@pytest.fixture
async def open_bot(settings: Settings, clock: Clock) -> AsyncIterator[BotHarness]:
    """A bot whose deployment allows private feed addresses (the test server is 127.0.0.1)."""
    async with running_bot(with_settings(settings, allow_private_feeds=True), clock) as harness:
        yield harness


async def admin_feeds(bot: BotHarness) -> list[dict[str, object]]:
    return await rows(
        bot,
        "SELECT f.* FROM feeds f JOIN feed_visits l ON l.feed_id = f.id"
        " WHERE l.origin = 'admin' AND l.removed_at IS NULL ORDER BY f.id",
    )


async def test_addfeed_previews_then_adds(open_bot: BotHarness, server: FeedServer) -> None:
    bot = open_bot
    url = server.url("/rss")
    [preview] = await bot.ask(ADMIN_ID, f"/addfeed {url}")
    assert "Ankara Daily & Co" in preview.text  # the feed's own title
    assert "3 entries, 2 about the visit" in preview.text
    assert "[agreement] Lee, Erdoğan sign nuclear energy MoU" in preview.text
    assert "football" not in preview.text
    assert await admin_feeds(bot) == []  # nothing saved before the admin says so
    await bot.press(ADMIN_ID, preview, buttons(preview)["✅ Add feed"], replies=2)
    assert "added" in bot.standin.messages_to(ADMIN_ID)[-1].text
    [feed] = await admin_feeds(bot)
    assert feed["url"] == url and feed["title"] == "Ankara Daily & Co" and feed["paused"] == 0
    [again] = await bot.ask(ADMIN_ID, f"/addfeed {url}")
    assert "watched already" in again.text
    [listing] = await bot.ask(ADMIN_ID, "/feeds")
    assert f"#{feed['id']}" in listing.text and "active" in listing.text
    assert "last success" in listing.text and "next poll" in listing.text
    assert_no_rejections(bot)


async def test_addfeed_cancel_saves_nothing(open_bot: BotHarness, server: FeedServer) -> None:
    [preview] = await open_bot.ask(ADMIN_ID, f"/addfeed {server.url('/rss')}")
    await open_bot.press(ADMIN_ID, preview, buttons(preview)["✖ Cancel"], replies=2)
    assert "not added" in open_bot.standin.messages_to(ADMIN_ID)[-1].text
    assert await admin_feeds(open_bot) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/missing", "HTTP 404"), ("/html", "Could not read")],
)
async def test_addfeed_reports_unreadable_feeds(
    open_bot: BotHarness, server: FeedServer, path: str, expected: str
) -> None:
    before = await snapshot(open_bot)
    [answer] = await open_bot.ask(ADMIN_ID, f"/addfeed {server.url(path)}")
    assert expected in answer.text and "Nothing was added" in answer.text
    assert await snapshot(open_bot) == before


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed",
        "http://localhost/feed",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/rss",
        "http://[::1]/rss",
    ],
)
async def test_private_addresses_are_refused_by_default(bot: BotHarness, url: str) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/addfeed {url}")
    assert "private, loopback or link-local" in answer.text
    assert await snapshot(bot) == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", "Usage"),
        ("ftp://example.com/feed.xml", "not a web address"),
        ("file:///etc/passwd", "not a web address"),
        ("example.com/rss", "not a web address"),
        ("http://[::1", "not a web address"),  # urlsplit raises: not the generic error
        ("http://example.com:99999/rss", "not a web address"),
    ],
)
async def test_addfeed_validation(bot: BotHarness, arguments: str, expected: str) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/addfeed {arguments}")
    assert expected in answer.text
    assert await snapshot(bot) == before


async def test_pause_resume_and_delete(bot: BotHarness) -> None:
    [feed] = await rows(bot, "SELECT * FROM feeds ORDER BY id LIMIT 1")
    await bot.services.db.execute(
        "UPDATE feeds SET consecutive_failures = 7, last_error = 'server returned HTTP 500',"
        " last_error_at = '2025-11-20T08:00:00+00:00' WHERE id = ?",
        (feed["id"],),
    )
    [listing] = await bot.ask(ADMIN_ID, "/feeds")
    assert "failures 7" in listing.text and "HTTP 500" in listing.text

    [paused] = await bot.ask(ADMIN_ID, f"/pausefeed {feed['id']}")
    assert "paused" in paused.text
    [row] = await rows(bot, "SELECT paused FROM feeds WHERE id = ?", (feed["id"],))
    assert row["paused"] == 1
    [listing] = await bot.ask(ADMIN_ID, "/feeds")
    assert "paused (admin)" in listing.text

    [resumed] = await bot.ask(ADMIN_ID, f"/resumefeed {feed['url']}")
    assert "resumed" in resumed.text
    [row] = await rows(
        bot, "SELECT paused, consecutive_failures FROM feeds WHERE id = ?", (feed["id"],)
    )
    assert row == {"paused": 0, "consecutive_failures": 0}

    [deleted] = await bot.ask(ADMIN_ID, f"/delfeed {feed['id']}")
    assert "removed" in deleted.text
    # Marked removed for the visit, not deleted, so its entries stay as sources of stories.
    [removed] = await rows(
        bot, "SELECT removed_at, removed_by FROM feed_visits WHERE feed_id = ?", (feed["id"],)
    )
    assert removed["removed_at"] is not None and removed["removed_by"] == "admin"
    [gone] = await bot.ask(ADMIN_ID, "/feeds")
    assert feed["url"] not in gone.text
    [again] = await bot.ask(ADMIN_ID, f"/delfeed {feed['id']}")
    assert "No feed matches" in again.text
    actions = [r["action"] for r in await rows(bot, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["feed.pause", "feed.resume", "feed.delete"]
    for command in ("/pausefeed 999", "/resumefeed 999", "/delfeed https://nope.example/x"):
        [missing] = await bot.ask(ADMIN_ID, command)
        assert "No feed matches" in missing.text
    for command in ("/pausefeed", "/resumefeed", "/delfeed"):
        [usage] = await bot.ask(ADMIN_ID, command)
        assert "Usage" in usage.text
    assert_no_rejections(bot)

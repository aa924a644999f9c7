"""The news moves the programme, end to end: the running bot on the stand-in, its own JobQueue
polling real HTTP feed servers on loopback addresses, a settable clock during the Türkiye visit.

Three subscribers: one follows the agenda, one turned feed-driven agenda alerts off in
/settings (and keeps admin-confirmed ones), one follows agreements only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from bot.config import load_settings
from bot.standin import SentMessage
from storage import subscriptions as subscription_store
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, Clock, buttons, running_bot
from tests.feedserver import FeedServer, Reply

AGENDA = 8101
OPTED_OUT = 8102
AGREEMENTS_ONLY = 8103
INTERVAL = 10  # seconds: the job looks for due feeds every second
# 22:00 in Ankara on the first day: the day's items (arrival at 09:00, talks at 16:57) are over.
EVENING = dt.datetime(2025, 11, 24, 19, 0, tzinfo=dt.UTC)
OLD = ("old", "Korea, Türkiye eye closer defence industry cooperation")


def rss(*items: tuple[str, str], published: dt.datetime) -> bytes:
    """(guid, title) items published at `published`, as an RSS document."""
    date = format_datetime(published)
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title>"
        f"<link>https://news.example/{guid}</link><pubDate>{date}</pubDate></item>"
        for guid, title in items
    )
    head = "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
    return f"{head}{body}</channel></rss>".encode()


@dataclass
class Newsroom:
    """The bot and the outlets whose feeds it polls, one server (host) each."""

    bot: BotHarness
    outlets: list[FeedServer]

    @property
    def clock(self) -> Clock:
        return self.bot.clock

    def publish(self, outlet: int, *items: tuple[str, str]) -> None:
        body = rss(OLD, *items, published=self.clock.now - dt.timedelta(minutes=5))
        self.outlets[outlet].route("/feed", Reply(body=body))

    async def polled(self) -> None:
        """Move the clock past every feed's next poll and wait until each was polled again."""
        db = self.bot.services.db
        before = [len(o.requests_to("/feed")) for o in self.outlets]
        self.clock.now += dt.timedelta(minutes=1)
        for _ in range(200):
            done = all(
                len(o.requests_to("/feed")) > n for o, n in zip(self.outlets, before, strict=True)
            )
            busy = self.bot.services.poller and self.bot.services.poller.in_flight
            if done and not busy:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the feeds were not polled again")
        assert await db.fetchval("SELECT COUNT(*) FROM feeds WHERE consecutive_failures > 0") == 0

    async def settle(self) -> None:
        """Let the delivery worker send everything due now."""
        delivery = self.bot.services.delivery
        assert delivery is not None
        await delivery.wait_idle(timeout=10)
        await asyncio.sleep(0.2)


@asynccontextmanager
async def newsroom(tmp_path: Path, outlets: int, now: dt.datetime) -> AsyncIterator[Newsroom]:
    async with AsyncExitStack() as stack:
        servers = [
            stack.enter_context(FeedServer(host=f"127.0.0.{index + 1}")) for index in range(outlets)
        ]
        for server in servers:
            server.route("/feed", Reply(body=rss(OLD, published=now - dt.timedelta(hours=3))))
        settings = load_settings(
            environ={
                "DATABASE_PATH": str(tmp_path / "bot.db"),
                "ADMIN_IDS": str(ADMIN_ID),
                "FEED_URLS": ",".join(s.url("/feed") for s in servers),
                "POLL_INTERVAL_SECONDS": str(INTERVAL),
            },
            dotenv=None,
        )
        bot = await stack.enter_async_context(running_bot(settings, Clock(now)))
        room = Newsroom(bot, servers)
        await _subscribers(bot)
        await room.polled()  # every feed's first poll: recorded, silent
        yield room


async def _subscribers(bot: BotHarness) -> None:
    for chat_id in (AGENDA, OPTED_OUT, AGREEMENTS_ONLY):
        bot.standin.add_user(chat_id, first_name=f"Reader{chat_id}")
    await bot.ask(AGENDA, "/subscribe agenda")
    await bot.ask(OPTED_OUT, "/subscribe agenda")
    await bot.ask(AGREEMENTS_ONLY, "/subscribe agreements")
    # The reader turns feed-driven agenda alerts off with the /settings button.
    [view] = await bot.ask(OPTED_OUT, "/settings")
    assert "Programme news from the feeds: on" in view.text
    [edited] = await bot.press(
        OPTED_OUT, view, buttons(view)["📰 Turn off programme news from the feeds"]
    )
    assert "Programme news from the feeds: off" in edited.text
    assert not await subscription_store.feed_agenda(bot.services.db, OPTED_OUT)


def alerts_to(bot: BotHarness, chat_id: int, after: int = 0) -> list[SentMessage]:
    """What the bot sent to the chat after its first `after` messages, edits left out."""
    return [m for m in bot.standin.messages_to(chat_id)[after:] if not m.edited]


def texts(messages: Sequence[SentMessage]) -> str:
    return "\n---\n".join(m.text for m in messages)


async def test_an_arrival_reported_by_three_outlets_in_two_languages_alerts_once(
    tmp_path: Path,
) -> None:
    arrived = dt.datetime(2025, 11, 24, 6, 40, tzinfo=dt.UTC)  # 09:40 in Ankara
    async with newsroom(tmp_path, 3, arrived) as room:
        bot = room.bot
        seen = {c: len(bot.standin.messages_to(c)) for c in (AGENDA, OPTED_OUT, AGREEMENTS_ONLY)}
        room.publish(0, ("a-en", "President Lee Jae Myung arrives in Ankara for state visit"))
        room.publish(1, ("a-ko", "이재명 대통령, 튀르키예 앙카라 도착…국빈 방문 시작"))
        room.publish(
            2, ("a-en2", "South Korea's Lee lands in Ankara, greeted by Turkish officials")
        )
        await room.polled()
        await room.settle()
        [alert] = alerts_to(bot, AGENDA, seen[AGENDA])
        assert "Reported done" in alert.text and "Arrival in Ankara" in alert.text
        assert "Reported, not yet confirmed" in alert.text
        assert alerts_to(bot, OPTED_OUT, seen[OPTED_OUT]) == []
        assert alerts_to(bot, AGREEMENTS_ONLY, seen[AGREEMENTS_ONLY]) == []

        # One story, three sources; the first item is marked done as reported, with them.
        db = bot.services.db
        rows = await db.fetchall("SELECT story_id, item_id, effect FROM programme_news")
        [story] = [r for r in rows if r["effect"] == "done"]
        assert (
            await db.fetchval(
                "SELECT COUNT(*) FROM news_items WHERE story_id = ?", (story["story_id"],)
            )
            == 3
        )
        # The programme's first item: the arrival (the date-only items of the day sort first).
        first = await db.fetchone(
            "SELECT id, status, status_origin FROM agenda_items WHERE key = 'arrival'"
            " AND visit_id = ?",
            (bot.services.default_visit.id,),
        )
        assert first is not None and first["id"] == story["item_id"]
        assert (first["status"], first["status_origin"]) == ("done", "feeds")
        [agenda] = await bot.ask(USER_ID, "/agenda")
        assert "done (reported)" in agenda.text
        assert 'href="https://news.example/a-en"' in (agenda.html or "")

        # The same arrival in a later report changes nothing and alerts nobody again.
        room.publish(
            0,
            ("a-en", "President Lee Jae Myung arrives in Ankara for state visit"),
            ("a-en3", "Lee arrives in Türkiye's capital Ankara"),
        )
        await room.polled()
        await room.settle()
        assert len(alerts_to(bot, AGENDA, seen[AGENDA])) == 1


FORUM_EN = ("f-en", "Lee, Erdoğan to attend Korea-Türkiye business forum in Ankara on Tuesday")
FORUM_TR = ("f-tr", "Lee ve Erdoğan salı günü Ankara'da Türkiye-Kore iş forumuna katılacak")


async def test_an_announcement_becomes_a_review_card_and_confirmed_an_item_with_its_alert(
    tmp_path: Path,
) -> None:
    async with newsroom(tmp_path, 2, EVENING) as room:
        bot = room.bot
        seen = {c: len(bot.standin.messages_to(c)) for c in (AGENDA, OPTED_OUT, ADMIN_ID)}
        room.publish(0, FORUM_EN)
        room.publish(1, FORUM_TR)
        await room.polled()
        await room.settle()
        # Subscribers hear it once, marked Reported; the opted-out reader does not.
        [reported] = alerts_to(bot, AGENDA, seen[AGENDA])
        assert "Reported new on the programme" in reported.text
        # (titled by whichever outlet was polled first)
        assert "forum" in reported.text and "Reported, not yet confirmed" in reported.text
        assert alerts_to(bot, OPTED_OUT, seen[OPTED_OUT]) == []
        # Admins get one card: the reports in two languages are one story, both its sources.
        [card] = alerts_to(bot, ADMIN_ID, seen[ADMIN_ID])
        assert "Not on the programme yet" in card.text and "2025-11-25" in card.text
        [story] = await bot.services.db.fetchall("SELECT story_id FROM programme_news")
        assert (
            await bot.services.db.fetchval(
                "SELECT COUNT(*) FROM news_items WHERE story_id = ?", (story["story_id"],)
            )
            == 2
        )
        # A proposal that does not exist, or one that is not new, cannot be added by hand.
        [gone] = await bot.ask(ADMIN_ID, "/addagenda #999 2025-11-25 | Forum | Ankara")
        assert "no longer waiting" in gone.text
        [refused] = await bot.ask(USER_ID, f"/addagenda #{story['story_id']} 2025-11-25 | X | Y")
        assert "admin" in refused.text.lower()
        choices = buttons(card)
        assert set(choices) == {"➕ Add to agenda", "✖ Dismiss", "✏️ Edit"}
        # /review shows it next to the signing cards.
        review = await bot.ask(ADMIN_ID, "/review", replies=2)
        assert "programme proposals wait" in review[0].text and "forum" in review[1].text

        # Rights are checked when the button is pressed: a reader cannot add it.
        [refused] = await bot.press(USER_ID, card, choices["➕ Add to agenda"])
        assert "admin" in refused.text.lower()
        # Edit gives the prefilled command; the admin presses Add as it is.
        [hint] = await bot.press(ADMIN_ID, card, choices["✏️ Edit"])
        assert "/addagenda #" in hint.text and "2025-11-25 |" in hint.text
        done = await bot.press(ADMIN_ID, card, choices["➕ Add to agenda"], replies=2)
        assert any("added to the programme as item" in m.text for m in done)
        await room.settle()

        db = bot.services.db
        item = await db.fetchone("SELECT id, title FROM agenda_items WHERE title LIKE '%forum%'")
        assert item is not None
        [agenda] = await bot.ask(USER_ID, "/agenda")
        assert "forum" in agenda.text
        # The confirmation does not alert those already told, and reaches the opted-out reader.
        assert len(alerts_to(bot, AGENDA, seen[AGENDA])) == 1
        [confirmed] = alerts_to(bot, OPTED_OUT, seen[OPTED_OUT])
        assert "New on the agenda" in confirmed.text and "forum" in confirmed.text
        # The card lost its buttons; nothing waits for review any more.
        versions = [m for m in bot.standin.messages_to(ADMIN_ID) if m.message_id == card.message_id]
        assert versions[-1].edited and buttons(versions[-1]) == {}
        [empty] = await bot.ask(ADMIN_ID, "/review")
        assert "Nothing waits for review" in empty.text


BURST = [
    ("b1", "Lee, Erdoğan hold summit talks in Ankara, agree to deepen defence ties"),
    (
        "b2",
        "Turkish President Erdoğan officially welcomes Lee with ceremony at presidential complex",
    ),
    ("b3", "Lee lays wreath at Anıtkabir, writes in Atatürk mausoleum's special book"),
    ("b4", "Erdoğan hosts state dinner for Lee with Turkish Korean War veterans"),
    ("b5", "President Lee arrives in Ankara on state visit"),
]


async def test_a_burst_beyond_the_hourly_cap_is_folded_into_one_message(tmp_path: Path) -> None:
    async with newsroom(tmp_path, 1, EVENING) as room:
        bot = room.bot
        start = len(bot.standin.messages_to(AGENDA))
        opted_out = len(bot.standin.messages_to(OPTED_OUT))
        for count in range(1, len(BURST) + 1):
            room.publish(0, *BURST[:count])
            await room.polled()
            await room.settle()
        sent = alerts_to(bot, AGENDA, start)
        db = bot.services.db
        stories = await db.fetchval(
            "SELECT COUNT(*) FROM programme_news WHERE effect = 'done' AND alert_id IS NOT NULL"
        )
        assert stories == len(BURST)  # five items reported done, five alerts raised
        assert len(sent) == 3  # the cap: three messages in the hour
        assert alerts_to(bot, OPTED_OUT, opted_out) == []
        # An hour after the first, the two held back go out as one message.
        bot.clock.now = EVENING + dt.timedelta(minutes=62)
        delivery = bot.services.delivery
        assert delivery is not None
        delivery.wake()
        await bot.standin.wait_for_messages(AGENDA, start + 4, timeout=10)
        await room.settle()
        sent = alerts_to(bot, AGENDA, start)
        assert len(sent) == 4
        folded = sent[-1].text
        assert "2 alerts" in folded or folded.count("Reported done") == 2
        assert folded.count("Reported done") == 2
        # An admin undoes a wrong report: /agenda follows the admin, and the feeds leave it.
        arrival = await db.fetchval(
            "SELECT id FROM agenda_items WHERE key = 'arrival' AND visit_id = ?",
            (bot.services.default_visit.id,),
        )
        [undone] = await bot.ask(ADMIN_ID, f"/editagenda {arrival} status=scheduled")
        assert "now shown as scheduled" in undone.text
        [bad] = await bot.ask(ADMIN_ID, f"/editagenda {arrival} status=maybe")
        assert "status=done|underway|scheduled" in bad.text
        row = await db.fetchone(
            "SELECT status, status_origin FROM agenda_items WHERE id = ?", (arrival,)
        )
        assert row is not None and (row["status"], row["status_origin"]) == ("scheduled", "admin")
        [agenda] = await bot.ask(USER_ID, "/agenda")
        assert agenda.text.count("done (reported)") == len(BURST) - 1

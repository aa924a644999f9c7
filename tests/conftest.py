"""Shared fixtures: settings on a temporary database, and a real Application on the stand-in."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_application, running, services_of
from bot.config import Settings, load_settings
from bot.services import Services
from bot.standin import BotApiStandin, SentMessage
from jobs.ratelimit import Pacer
from storage.visit import BUNDLED_VISIT, bundled_visits_dir

TURKIYE_FILE = bundled_visits_dir() / BUNDLED_VISIT
ADMIN_ID = 42
CLOSED_FEED_URL = "http://127.0.0.1:9/closed.xml"
USER_ID = 1001


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        environ={
            "DATABASE_PATH": str(tmp_path / "visitbot.db"),
            "ADMIN_IDS": str(ADMIN_ID),
            # Tests never reach the internet: the feed job polls a closed local port.
            "FEED_URLS": CLOSED_FEED_URL,
            # One visit, as before there were several; tests of several visits set VISITS_DIR.
            "VISIT_FILE": str(TURKIYE_FILE),
        },
        dotenv=None,
    )


class Clock:
    """A settable clock for handlers and jobs."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class BotHarness:
    """A running Application on the stand-in, with helpers to talk to it like a user."""

    def __init__(self, standin: BotApiStandin, app: object, clock: Clock) -> None:
        self.standin = standin
        self.app = app
        self.clock = clock

    @property
    def services(self) -> Services:
        return services_of(self.app)  # type: ignore[arg-type]

    async def ask(
        self, user_id: int, text: str, *, replies: int = 1, chat_id: int | None = None
    ) -> list[SentMessage]:
        """Send `text` and return the next `replies` messages the bot sends to that chat."""
        target = chat_id if chat_id is not None else user_id
        before = len(self.standin.messages_to(target))
        self.standin.send_text(user_id, text, chat_id=chat_id)
        await self.standin.wait_for_messages(target, before + replies)
        await asyncio.sleep(0.05)  # let a handler that sends more than expected be noticed
        return self.standin.messages_to(target)[before:]

    async def press(
        self, user_id: int, message: SentMessage, data: str, *, replies: int = 1
    ) -> list[SentMessage]:
        before = len(self.standin.messages_to(message.chat_id))
        self.standin.press_button(user_id, message.message_id, data, chat_id=message.chat_id)
        await self.standin.wait_for_messages(message.chat_id, before + replies)
        return self.standin.messages_to(message.chat_id)[before:]


def buttons(message: SentMessage) -> dict[str, str]:
    """Button text -> callback data of a message's inline keyboard."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row if "callback_data" in b}


DEFAULT_NOW = dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(DEFAULT_NOW)


@pytest.fixture
async def bot(settings: Settings, clock: Clock) -> AsyncIterator[BotHarness]:
    async with running_bot(settings, clock) as harness:
        yield harness


class running_bot:  # noqa: N801 - reads like a context manager function
    """`async with running_bot(settings, clock) as harness:` starts and stops the whole bot."""

    def __init__(self, settings: Settings, clock: Clock, *, rate_limits: bool = False) -> None:
        """`rate_limits`: the stand-in enforces Telegram's limits (strictly) and the bot paces
        itself fully. Without, the bot's pacer keeps every limit except one message a second
        per private chat, which would only slow down tests of features that talk to one
        person quickly."""
        self.settings = settings
        self.clock = clock
        self.rate_limits = rate_limits
        self.standin = BotApiStandin(rate_limits=rate_limits)
        for user_id, code in ((ADMIN_ID, "en"), (USER_ID, "en")):
            self.standin.add_user(user_id, first_name=f"User{user_id}", language_code=code)

    async def __aenter__(self) -> BotHarness:
        self.app = build_application(
            self.settings,
            request=self.standin.request(),
            get_updates_request=self.standin.request(),
            clock=self.clock,
            token=self.standin.token,
            rate_limiter=Pacer() if self.rate_limits else Pacer(private_per_second=None),
        )
        self._running = running(self.app)
        await self._running.__aenter__()
        return BotHarness(self.standin, self.app, self.clock)

    async def __aexit__(self, *exc: object) -> None:
        await self._running.__aexit__(None, None, None)


def with_settings(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]

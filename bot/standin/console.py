"""`visitbot console`: the real Application with the terminal as a Telegram chat.

The bot talks to the in-process Bot API stand-in (the rest of `bot.standin`) instead of
Telegram, so every handler, job and alert runs exactly as in production. Typed lines become
updates from a local user; replies print as plain text; inline buttons print numbered and are
pressed by typing the number.

Unlike the server modules beside it, this module knows the bot (`bot.app`, `bot.config`,
`bot.services`); the package's `__init__` does not import it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from typing import TextIO

from bot.app import build_application, running
from bot.config import Settings
from bot.services import Clock, system_clock
from bot.standin import BotApiStandin, SentMessage

CONSOLE_USER_ID = 1
QUIET_AFTER_REPLY = 0.4  # seconds without new bot messages before the next prompt


class ConsoleView:
    """Prints what the bot sends and remembers the buttons of the last keyboard."""

    def __init__(self, user_id: int, out: TextIO) -> None:
        self.user_id = user_id
        self.out = out
        self.buttons: list[tuple[int, int, str]] = []  # (chat_id, message_id, callback_data)
        self.last_output = 0.0

    def show(self, message: SentMessage) -> None:
        self.last_output = asyncio.get_running_loop().time()
        who = "bot" if message.chat_id == self.user_id else f"bot → chat {message.chat_id}"
        verb = " (edited)" if message.edited else ""
        self.out.write(f"\n{who}{verb}:\n{message.text}\n")
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        buttons = [b for row in rows for b in row if "callback_data" in b]
        links = [b for row in rows for b in row if "url" in b]
        if buttons:
            self.buttons = [
                (message.chat_id, message.message_id, b["callback_data"]) for b in buttons
            ]
            labels = "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(buttons, 1))
            self.out.write(f"{labels}\n")
        for button in links:
            self.out.write(f"🔗 {button['text']}: {button['url']}\n")
        self.out.flush()


async def run_console(
    settings: Settings,
    *,
    user_id: int | None = None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    clock: Clock = system_clock,
    language_code: str = "en",
) -> None:
    """Chat with the bot until end of input or /quit."""
    if user_id is None:
        user_id = CONSOLE_USER_ID
        settings = dataclasses.replace(settings, admin_ids=settings.admin_ids | {user_id})
    standin = BotApiStandin(rate_limits=False)
    standin.add_user(user_id, first_name="Console", language_code=language_code)
    view = ConsoleView(user_id, out)
    standin.subscribe(view.show)
    app = build_application(
        settings,
        request=standin.request(),
        get_updates_request=standin.request(),
        clock=clock,
        token=standin.token,
    )
    interactive = stdin.isatty()
    async with running(app):
        out.write(
            f"visitbot console: you are user {user_id}"
            f"{' (admin)' if user_id in settings.admin_ids else ''}. "
            "Type /start or /help; a number presses a button; /quit or Ctrl-D leaves.\n"
        )
        out.flush()
        while True:
            if interactive:
                out.write("you> ")
                out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if text.strip() in ("/quit", "/exit"):
                break
            _act(standin, view, user_id, text)
            await _wait_for_quiet(view)


def _act(standin: BotApiStandin, view: ConsoleView, user_id: int, text: str) -> None:
    choice = text.strip()
    if choice.isdecimal() and 1 <= int(choice) <= len(view.buttons):
        chat_id, message_id, data = view.buttons[int(choice) - 1]
        standin.press_button(user_id, message_id, data, chat_id=chat_id)
    else:
        standin.send_text(user_id, text)


async def _wait_for_quiet(view: ConsoleView, timeout: float = 10.0) -> None:
    """Give the bot time to answer so replies print before the next prompt."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(0.05)
    while loop.time() - started < timeout:
        since = loop.time() - max(view.last_output, started)
        if since >= QUIET_AFTER_REPLY:
            return
        await asyncio.sleep(0.05)

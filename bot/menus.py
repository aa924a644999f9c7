"""The command menus Telegram shows next to the text field, per language and per chat.

Telegram picks the default menu by the app's language_code (English when it has none of ours).
Admins' private chats list the admin commands too, in the admin's language; users who chose a
language other than their app's get a chat menu of their own in it. A chat-scoped menu overrides
the per-language default ones, which is why those chats need one written in their language.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.commands import Command, admin_commands, public_commands
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_for, t
from bot.services import AnyApp, Services
from storage.users import user_language, users_with_choice

log = logging.getLogger(__name__)


def _menu(commands: list[Command], lang: str) -> list[BotCommand]:
    return [BotCommand(c.name, t(lang, f"command.{c.name}")) for c in commands]


async def publish_commands(app: AnyApp, svc: Services) -> None:
    """Public commands for everyone, one menu per language; then the per-chat menus.

    Telegram picks the default menu by the app's language_code (English when it has none of
    ours). Admins' chats list the admin commands in the admin's language, and users who chose
    a language other than their app's get a menu of their own in it (`publish_user_menu`).
    """
    try:
        for lang in LANGUAGES:
            code = None if lang == DEFAULT_LANGUAGE else lang
            await app.bot.set_my_commands(
                _menu(public_commands(), lang), scope=BotCommandScopeDefault(), language_code=code
            )
    except TelegramError as exc:
        log.warning("could not publish the public command menu: %s", exc)
    admins = await svc.admin_ids()
    for admin_id in sorted(admins):
        await publish_admin_menu(app, svc, admin_id)
    for user_id, stored in await users_with_choice(svc.db, limit=USER_MENUS_AT_STARTUP):
        if user_id not in admins and stored.chosen != language_for(stored.language_code):
            await _set_chat_menu(
                app, user_id, _menu(public_commands(), await svc.language_of(user_id))
            )


# Chosen-language menus republished at start-up (most recently seen first); others are set
# again when their user next uses /language.
USER_MENUS_AT_STARTUP = 100


async def publish_admin_menu(app: AnyApp, svc: Services, admin_id: int) -> None:
    """The menu of one admin's private chat: public commands plus those the admin may use.

    Written in the admin's language (their /language choice, else their app's language as
    last seen), because a chat-scoped menu overrides the per-language default menus.
    """
    owner = svc.is_owner(admin_id)
    extra = [c for c in admin_commands() if c.audience == "admin" or owner]
    lang = await svc.language_of(admin_id)
    try:
        await app.bot.set_my_commands(
            _menu(public_commands() + extra, lang), scope=BotCommandScopeChat(admin_id)
        )
    except TelegramError as exc:
        # An admin who never started the bot has no chat yet; the menu is a convenience.
        log.warning("could not publish the admin menu for %s: %s", admin_id, exc)


async def publish_user_menu(app: AnyApp, svc: Services, user_id: int) -> None:
    """After a /language change: the menu of the user's private chat in the language now used.

    Admins get their admin menu again. Others get a chat menu only when their choice differs
    from their app's language; otherwise it is deleted, and the default menu for their app's
    language (which already matches) shows again.
    """
    if await svc.is_admin(user_id):
        await publish_admin_menu(app, svc, user_id)
        return
    stored = await user_language(svc.db, user_id)
    if stored.chosen is not None and stored.chosen != language_for(stored.language_code):
        await _set_chat_menu(app, user_id, _menu(public_commands(), stored.chosen))
        return
    try:
        await app.bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        log.warning("could not reset the command menu of %s: %s", user_id, exc)


# A burst of /language changes (someone trying every button) publishes the menu twice at most:
# the first change at once, the rest merged into one publish when the burst is over.
MENU_DEBOUNCE_SECONDS = 2.0
_LAST_PUBLISHED = "menus.last_published"


async def refresh_user_menu(app: AnyApp, svc: Services, user_id: int) -> None:
    """After a /language change: `publish_user_menu` now, or once at the end of a burst.

    Each publish costs Bot API calls (setMyCommands or deleteMyCommands, which Telegram limits
    too); the trailing one reads the choice as it is by then, so the last change wins.
    """
    last: dict[int, float] = app.bot_data.setdefault(_LAST_PUBLISHED, {})
    now = time.monotonic()
    name = f"menu:{user_id}"
    job_queue = app.job_queue
    previous = last.get(user_id)
    if previous is None or now - previous >= MENU_DEBOUNCE_SECONDS or job_queue is None:
        if len(last) > 10_000:
            for uid in [u for u, at in last.items() if now - at >= MENU_DEBOUNCE_SECONDS]:
                del last[uid]
        last[user_id] = now
        await publish_user_menu(app, svc, user_id)
        return
    if job_queue.get_jobs_by_name(name):
        return  # a publish is already due at the end of this burst

    async def trailing(context: Any) -> None:
        last[user_id] = time.monotonic()
        await publish_user_menu(app, svc, user_id)

    job_queue.run_once(trailing, max(0.0, previous + MENU_DEBOUNCE_SECONDS - now), name=name)


async def _set_chat_menu(app: AnyApp, chat_id: int, menu: list[BotCommand]) -> None:
    try:
        await app.bot.set_my_commands(menu, scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:  # e.g. the user blocked the bot since
        log.warning("could not publish the command menu of %s: %s", chat_id, exc)

"""Telling every admin something: error notices, paused feeds, new stories to review."""

from __future__ import annotations

import logging
from collections.abc import Callable

import telegram
from telegram import InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from bot.i18n import t
from bot.render import split_message
from bot.services import Services
from storage.subscriptions import LostChat

log = logging.getLogger(__name__)


async def notify_admins(
    bot: telegram.Bot,
    svc: Services,
    text: Callable[[str], str],
    *,
    what: str,
    keyboard: Callable[[str], InlineKeyboardMarkup] | None = None,
) -> int:
    """Send every admin `text(their language)`; returns how many were reached.

    An admin who never started the bot (or blocked it) cannot be written to; that must not
    keep the others from being told, nor stop the feature that had something to say.
    """
    reached = 0
    for admin_id in sorted(await svc.admin_ids()):
        lang = await svc.language_of(admin_id)
        parts = split_message(text(lang))  # whole, like a reply; the keyboard goes last
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await bot.send_message(
                    admin_id,
                    part,
                    reply_markup=keyboard(lang) if keyboard is not None and last else None,
                    disable_web_page_preview=True,
                )
            reached += 1
        except Forbidden:
            log.info("admin %s has not started the bot; %s not sent", admin_id, what)
        except TelegramError as exc:
            log.warning("could not send %s to admin %s: %s", what, admin_id, exc)
    return reached


async def tell_chat_lost(bot: telegram.Bot, svc: Services, lost: LostChat) -> bool:
    """Tell whoever subscribed a group or channel that the bot can no longer post there.

    In their private chat and their language; "where possible": nobody may be known, or they
    may never have started the bot. Returns whether the notice went out.
    """
    if lost.set_by is None or lost.chat_id > 0:
        return False
    lang = await svc.language_of(lost.set_by)
    title = lost.title or str(lost.chat_id)
    try:
        key = "alerts.channel_lost" if lost.channel else "alerts.chat_lost"
        await bot.send_message(lost.set_by, t(lang, key, title=title))
    except TelegramError as exc:
        log.info("could not tell %s that chat %s was lost: %s", lost.set_by, lost.chat_id, exc)
        return False
    return True

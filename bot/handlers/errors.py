"""Fallbacks and the error handler: nothing a user sends may crash the bot or go unanswered."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.handlers.common import reply
from bot.i18n import t
from bot.notify import notify_admins
from bot.render import truncate
from bot.services import SERVICES_KEY, services

log = logging.getLogger(__name__)


async def ignore_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Edited messages end here: commands run once, for the message as first sent."""
    raise ApplicationHandlerStop


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    word = message.text.split(maxsplit=1)[0]
    command, _, target = word.partition("@")
    if target and target.lower() != (context.bot.username or "").lower():
        return  # addressed to another bot in a group
    lang = await services(context).language(update)
    await reply(update, context, t(lang, "errors.unknown_command", command=truncate(command, 40)))


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lang = await services(context).language(update)
    await reply(update, context, t(lang, "errors.not_text"))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log, apologise to the user, and tell the admins — at most once a minute."""
    log.error("error while handling an update", exc_info=context.error)
    svc = services(context) if SERVICES_KEY in context.bot_data else None
    if isinstance(update, Update) and update.effective_chat and svc is not None:
        try:
            await reply(update, context, t(await svc.language(update), "errors.internal"))
        except TelegramError:
            log.warning("could not apologise to chat %s", update.effective_chat.id)
    if svc is None or not svc.admin_notice_due():
        return
    error = context.error
    summary = truncate(f"{type(error).__name__}: {error}", 500)
    await notify_admins(
        context.bot,
        svc,
        lambda lang: t(lang, "errors.admin_notice", error=summary),
        what="the error notice",
    )

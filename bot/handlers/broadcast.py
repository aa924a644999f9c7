"""/broadcast: an admin message to every subscriber, through the alert outbox.

Going through the outbox (not a loop of send_message here) means the message respects each
chat's quiet hours and rate limits, survives a restart half-way, and is recorded like any alert.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    admin_only,
    args_text,
    context_lang,
    reply,
    show_error,
    wake_delivery,
)
from bot.i18n import t
from bot.validation import ValidationError, parse_broadcast
from storage.alerts import queue_broadcast


@admin_only
async def broadcast(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/broadcast text`: queued for all subscribed chats; the text is shown as typed."""
    svc, lang = await context_lang(update, context)
    try:
        text = parse_broadcast(args_text(update))
    except ValidationError as error:
        await show_error(update, context, error)
        return
    _alert_id, count = await queue_broadcast(svc.db, await acting(update, svc), text)
    wake_delivery()
    await reply(update, context, t(lang, "broadcast.queued", count=count))

"""Handler wiring: every handler the bot has, registered in one readable place."""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.handlers import errors, facts, start, status, visitinfo
from bot.handlers.common import AnyApp


def register(app: AnyApp) -> None:
    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("facts", facts.facts))
    app.add_handler(CallbackQueryHandler(facts.topic_button, pattern=facts.BUTTON_PATTERN))
    app.add_handler(CommandHandler("status", status.status))
    app.add_handler(CommandHandler("agenda", visitinfo.agenda))
    app.add_handler(CommandHandler("agreements", visitinfo.agreements))

    # Fallbacks come last in the same group: PTB runs only the first matching handler of a
    # group, so they answer exactly the updates no feature handler above took.
    app.add_handler(MessageHandler(filters.COMMAND, errors.unknown_command))
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, facts.free_text)
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL, errors.not_text
        )
    )
    app.add_error_handler(errors.on_error)

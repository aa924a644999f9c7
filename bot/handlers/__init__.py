"""Handler wiring: every handler the bot has, registered in one readable place."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.handlers import (
    admin,
    agenda_admin,
    agreements_admin,
    broadcast,
    channels,
    errors,
    facts,
    facts_admin,
    feeds_admin,
    inline,
    language,
    programme_review,
    review,
    start,
    stats,
    status,
    subscriptions,
    visitinfo,
    visits,
)
from bot.services import AnyApp

EDITS_GROUP = -50  # after the metrics counter (-100), before tracking (-1) and the features


def register(app: AnyApp) -> None:
    # An edited message is not a new request: re-running "/broadcast …" after a typo fix would
    # send it twice. Edits stop here, before any feature group sees them.
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED, errors.ignore_edit), group=EDITS_GROUP
    )
    app.add_handler(CommandHandler("start", start.start))
    app.add_handler(CommandHandler("help", start.help_command))
    app.add_handler(CommandHandler("facts", facts.facts))
    app.add_handler(CallbackQueryHandler(facts.topic_button, pattern=facts.BUTTON_PATTERN))
    app.add_handler(CommandHandler("status", status.status))
    app.add_handler(CommandHandler("agenda", visitinfo.agenda))
    app.add_handler(CommandHandler("agreements", visitinfo.agreements))
    app.add_handler(CommandHandler("visits", visits.visits))
    app.add_handler(CommandHandler("visit", visits.visit))
    app.add_handler(CallbackQueryHandler(visits.button, pattern=visits.BUTTON_PATTERN))

    # --- admin curation
    app.add_handler(agreements_admin.conversation())
    app.add_handler(
        CallbackQueryHandler(
            agreements_admin.stale_guided_button, pattern=agreements_admin.STALE_GUIDED_PATTERN
        )
    )
    app.add_handler(
        CallbackQueryHandler(agreements_admin.button, pattern=r"^agr:(save|drop|corr|nocorr):")
    )
    app.add_handler(
        CallbackQueryHandler(visitinfo.agreements_button, pattern=visitinfo.PAGE_PATTERN)
    )
    app.add_handler(CommandHandler("editagreement", agreements_admin.editagreement))
    app.add_handler(CommandHandler("delagreement", agreements_admin.delagreement))
    app.add_handler(CommandHandler("addagenda", agenda_admin.addagenda))
    app.add_handler(CommandHandler("editagenda", agenda_admin.editagenda))
    app.add_handler(CommandHandler("delagenda", agenda_admin.delagenda))
    app.add_handler(CommandHandler("review", review.review))
    app.add_handler(CallbackQueryHandler(review.button, pattern=review.BUTTON_PATTERN))
    app.add_handler(
        CallbackQueryHandler(programme_review.button, pattern=programme_review.BUTTON_PATTERN)
    )
    app.add_handler(CommandHandler("feeds", feeds_admin.feeds))
    app.add_handler(CommandHandler("addfeed", feeds_admin.addfeed))
    app.add_handler(CallbackQueryHandler(feeds_admin.button, pattern=feeds_admin.BUTTON_PATTERN))
    app.add_handler(CommandHandler("delfeed", feeds_admin.delfeed))
    app.add_handler(CommandHandler("pausefeed", feeds_admin.pausefeed))
    app.add_handler(CommandHandler("resumefeed", feeds_admin.resumefeed))
    app.add_handler(CommandHandler("addfact", facts_admin.addfact))
    app.add_handler(CommandHandler("delfact", facts_admin.delfact))
    app.add_handler(CommandHandler("broadcast", broadcast.broadcast))
    app.add_handler(CommandHandler("audit", admin.audit))
    app.add_handler(CommandHandler("admins", admin.admins))
    app.add_handler(CommandHandler("addadmin", admin.addadmin))
    app.add_handler(CommandHandler("deladmin", admin.deladmin))

    # --- subscriptions and alerts (tracking runs first, in its own group, for every update)
    app.add_handler(TypeHandler(Update, subscriptions.track), group=-1)
    app.add_handler(CommandHandler("subscribe", subscriptions.subscribe))
    app.add_handler(CommandHandler("unsubscribe", subscriptions.unsubscribe))
    app.add_handler(CommandHandler("settings", subscriptions.settings))
    app.add_handler(
        CallbackQueryHandler(subscriptions.settings_button, pattern=subscriptions.BUTTON_PATTERN)
    )
    app.add_handler(CommandHandler("timezone", subscriptions.timezone))
    app.add_handler(CommandHandler("quiet", subscriptions.quiet))
    app.add_handler(CommandHandler("digest", subscriptions.digest))
    app.add_handler(CommandHandler("stats", stats.stats))

    # --- channels: commands posted there (channel_post updates), /addchannel and /channels for
    # admins, and the bot's own membership (which tracking leaves to channels.my_chat_member)
    posted = filters.UpdateType.CHANNEL_POST
    app.add_handler(CommandHandler("subscribe", channels.post_subscribe, filters=posted))
    app.add_handler(CommandHandler("unsubscribe", channels.post_unsubscribe, filters=posted))
    app.add_handler(CommandHandler("language", channels.post_language, filters=posted))
    app.add_handler(CommandHandler("timezone", channels.post_timezone, filters=posted))
    app.add_handler(CommandHandler("addchannel", channels.addchannel))
    app.add_handler(CommandHandler("channels", channels.channels))
    app.add_handler(CallbackQueryHandler(channels.button, pattern=channels.BUTTON_PATTERN))
    app.add_handler(ChatMemberHandler(channels.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))

    # --- languages: /language with buttons, and inline mode (@bot query shares facts)
    app.add_handler(CommandHandler("language", language.language))
    app.add_handler(CallbackQueryHandler(language.button, pattern=language.BUTTON_PATTERN))
    app.add_handler(InlineQueryHandler(inline.inline_query))

    # Fallbacks come last in the same group: PTB runs only the first matching handler of a
    # group, so they answer exactly the updates no feature handler above took.
    # Other channel posts are not answered: a channel's readers see every post the bot makes.
    app.add_handler(
        MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, errors.unknown_command)
    )
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, facts.free_text)
    )
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL, errors.not_text
        )
    )
    app.add_error_handler(errors.on_error)

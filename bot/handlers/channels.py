"""Channels: subscribing one (in the channel, or /addchannel), its language and time zone,
/channels for admins, and what Telegram says about the bot's place in it.

How a channel subscribes
------------------------
Its administrators make the bot an administrator with the right to post messages. Then either
someone posts `/subscribe` (or `/subscribe agreements`, `/subscribe agenda`, `/subscribe
allvisits`) in the channel, or a bot admin links it with `/addchannel @name` (or its numeric
id, for a private channel) in their private chat. Either way the bot first asks Telegram
(`getChatMember` for itself) whether it may post there, and says what is missing when not: to
the bot admin of /addchannel; for a post in the channel, where it may not answer, in private to
whoever made it an administrator there (Telegram names them in the my_chat_member update), as
the channel post itself names nobody.

Who may change a channel
------------------------
Whoever can post in it: a `channel_post` only comes from the channel's administrators with the
right to post, so `/subscribe`, `/unsubscribe`, `/language xx` and `/timezone Zone` posted there
are obeyed without further checks, and answered there (one short post; the administrators may
delete it). Buttons are never offered in a channel, since every reader could press them. Bot
admins can see every linked channel, change its language and unlink it with /channels.

Who is told
-----------
Every channel remembers who linked it (`storage.channels`): the bot admin of /addchannel, or for
a `/subscribe` posted there, whoever made the bot an administrator. When the bot loses the
channel (removed, or its right to post taken away, whether Telegram tells us or a post fails),
the channel is deactivated, its queue dropped, and that person told once in private; alerts
resume by themselves once the right to post comes back.
"""

from __future__ import annotations

import logging
import re
from typing import Literal
from zoneinfo import ZoneInfo

from telegram import (
    Bot,
    Chat,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    admin_only,
    admin_step,
    admin_visit,
    args_text,
    context_lang,
    reply,
    visit_of,
)
from bot.handlers.language import AUTO, parse_choice
from bot.handlers.subscriptions import EVERY_VISIT, TOPICS, chat_title, parse_scope, parse_zone
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Html, t
from bot.notify import tell_chat_lost
from bot.render import format_clock, format_time
from bot.services import Services, services
from storage import channels as channel_store
from storage import subscriptions as subscription_store
from storage.channels import Channel, LinkRequest
from storage.db import from_db_time
from storage.visit import LoadedVisit

log = logging.getLogger(__name__)

Rights = Literal["ok", "not_admin", "no_post", "not_found"]
BUTTON_PATTERN = r"^chl:(list|open|unlink|unlinkyes|lang):(-?\d+)(:(en|ko|tr|auto))?$"
_USERNAME = re.compile(r"^(?:https?://)?(?:t\.me/|@)?([A-Za-z][A-Za-z0-9_]{3,31})$")


# --- rights --------------------------------------------------------------------------------


async def bot_rights(bot: Bot, chat_id: int | str) -> Rights:
    """Whether the bot may post in the channel, asked of Telegram (`getChatMember`)."""
    try:
        member = await bot.get_chat_member(chat_id, bot.id)
    except TelegramError as exc:
        log.info("getChatMember(%s, bot) failed: %s", chat_id, exc)
        return "not_found"
    if isinstance(member, ChatMemberOwner):
        return "ok"
    if isinstance(member, ChatMemberAdministrator):
        return "ok" if member.can_post_messages else "no_post"
    return "not_admin"


def refusal(lang: str, rights: Rights, title: str) -> Html:
    """What is missing, in words an administrator can act on."""
    return t(lang, f"channel.refused.{rights}", title=title)


async def channel_language(svc: Services, found: Channel | None) -> str:
    """The language of a channel's posts: its own choice, else its linker's, else English."""
    if found is not None and found.language in LANGUAGES:
        return str(found.language)
    if found is not None and found.linker is not None:
        return await svc.language_of(found.linker)
    return DEFAULT_LANGUAGE


async def _tell(bot: Bot, user_id: int | None, text: Html, what: str) -> bool:
    """A private message to one person about a channel; they may not have started the bot."""
    if user_id is None:
        log.info("%s: nobody known to tell", what)
        return False
    try:
        await bot.send_message(user_id, text, disable_web_page_preview=True)
    except TelegramError as exc:
        log.info("could not send %s to %s: %s", what, user_id, exc)
        return False
    return True


async def _post(update: Update, context: ContextTypes.DEFAULT_TYPE, text: Html) -> None:
    """Answer in the channel; losing the right to post meanwhile only costs the answer."""
    try:
        await reply(update, context, text)
    except TelegramError as exc:
        chat = update.effective_chat
        log.info("could not answer in channel %s: %s", chat.id if chat else None, exc)


def _kinds(lang: str, agreements: bool, agenda: bool) -> Html:
    if agreements and agenda:
        return t(lang, "sub.topics.all")
    if agreements:
        return t(lang, "sub.topics.agreements")
    return t(lang, "sub.topics.agenda" if agenda else "sub.topics.none")


def _topics(lang: str, topics: subscription_store.Topics) -> Html:
    return _kinds(lang, topics in ("all", "agreements"), topics in ("all", "agenda"))


# --- posted in the channel -----------------------------------------------------------------


async def post_subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/subscribe [kind]` or `/subscribe allvisits [kind]` posted in a channel."""
    svc, loaded = await visit_of(update, context)
    chat = update.effective_chat
    assert chat is not None
    found = await channel_store.channel(svc.db, chat.id)
    lang = await channel_language(svc, found)
    scope = parse_scope(args_text(update))
    rights = await bot_rights(context.bot, chat.id)
    if rights != "ok":
        # It cannot answer in the channel: the one person it knows there hears why.
        linker = found.linker if found is not None else None
        text = refusal(lang, rights, chat_title(chat))
        await _tell(context.bot, linker, text, f"the refusal for channel {chat.id}")
        return
    if scope is None:
        await _post(update, context, t(lang, "sub.bad_topic"))
        return
    every, topics = scope
    request = LinkRequest(
        chat.id, chat_title(chat), chat.username, None if every else loaded.id, topics
    )
    result = await channel_store.link(svc.db, request, svc.now())
    lang = await channel_language(svc, await channel_store.channel(svc.db, chat.id))
    await _post(update, context, _linked_text(lang, result, loaded, every, topics))


def _linked_text(
    lang: str,
    result: subscription_store.SubscribeResult,
    loaded: LoadedVisit,
    every: bool,
    topics: subscription_store.Topics,
) -> Html:
    what = _topics(lang, topics)
    if result == "unchanged":
        return t(lang, "channel.unchanged", topics=what)
    if result == "updated":
        return t(lang, "channel.updated", topics=what)
    language = t(lang, "language.name")
    if every:
        return t(lang, "channel.subscribed_every", topics=what, language=language)
    visit = loaded.visit.name.get(lang)
    return t(lang, "channel.subscribed", topics=what, visit=visit, language=language)


async def post_unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/unsubscribe [allvisits]` posted in a channel; nothing left followed: unlinked."""
    svc, loaded = await visit_of(update, context)
    chat = update.effective_chat
    assert chat is not None
    found = await channel_store.channel(svc.db, chat.id)
    lang = await channel_language(svc, found)
    every = args_text(update).lower().split()[:1] == [EVERY_VISIT]
    removed = await subscription_store.unsubscribe(svc.db, None if every else loaded.id, chat.id)
    after = await channel_store.channel(svc.db, chat.id)
    if after is not None and after.linked_at is not None and not after.follows:
        await channel_store.unlink(svc.db, chat.id, svc.now())
    key = "channel.unsub.done_every" if every else "channel.unsub.done"
    await _post(update, context, t(lang, key if removed else "channel.unsub.none"))


async def post_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/language ko` (en, tr, auto) posted in a channel: the language of its posts."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    found = await channel_store.channel(svc.db, chat.id)
    lang = await channel_language(svc, found)
    value = args_text(update)
    choice = parse_choice(value) if value else None
    if choice is None:
        key = "channel.language.unknown" if value else "channel.language.usage"
        await _post(
            update, context, t(lang, key, value=value[:40], language=t(lang, "language.name"))
        )
        return
    if found is None:  # a channel that never linked: remember it first
        await channel_store.record_channel(
            svc.db,
            chat.id,
            title=chat_title(chat),
            username=chat.username,
            added_by=None,
            now=svc.now(),
        )
    await channel_store.set_language(svc.db, chat.id, None if choice == AUTO else choice, svc.now())
    lang = await channel_language(svc, await channel_store.channel(svc.db, chat.id))
    key = "channel.language.auto" if choice == AUTO else "channel.language.set"
    await _post(update, context, t(lang, key, language=t(lang, "language.name")))


async def post_timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/timezone Asia/Seoul` posted in a channel: the zone of the times in its posts."""
    svc, loaded = await visit_of(update, context)
    chat = update.effective_chat
    assert chat is not None
    lang = await channel_language(svc, await channel_store.channel(svc.db, chat.id))
    value = args_text(update)
    if not value:
        prefs = await subscription_store.chat_prefs(svc.db, chat.id)
        current = prefs.timezone or loaded.visit.timezone.key
        await _post(update, context, t(lang, "tz.usage", tz=current))
        return
    name = parse_zone(value)
    if name is None:
        await _post(update, context, t(lang, "tz.unknown", name=value[:64]))
        return
    async with svc.db.transaction() as tx:
        await subscription_store.upsert_chat(tx, chat.id, Chat.CHANNEL, chat_title(chat), svc.now())
    await subscription_store.set_preferences(
        svc.db, chat.id, now=svc.now(), default_tz=loaded.visit.timezone, timezone=name
    )
    local = format_clock(svc.now(), ZoneInfo(name), lang)
    await _post(update, context, t(lang, "tz.set", tz=name, time=local))


# --- what Telegram says about the bot there ------------------------------------------------


async def my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was made an administrator of a channel, had its rights changed, or was removed.

    Made an administrator: remembered, with who did it, and they are told how to subscribe (or
    what is missing). The right to post taken away, or removed: deactivated, and whoever linked
    it told once. The right to post given back: active again.
    """
    member = update.my_chat_member
    if member is None or member.chat.type != Chat.CHANNEL:
        return
    svc = services(context)
    chat, now = member.chat, svc.now()
    new, old = member.new_chat_member, member.old_chat_member
    actor = member.from_user
    person = actor.id if actor is not None and not actor.is_bot else None
    if new.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        lost = await subscription_store.deactivate(svc.db, chat.id, f"bot {new.status}", now)
        if lost is not None:
            await tell_chat_lost(context.bot, svc, lost)
        return
    if new.status != ChatMemberStatus.ADMINISTRATOR:
        return
    became = old.status != ChatMemberStatus.ADMINISTRATOR
    can_post = bool(getattr(new, "can_post_messages", False))
    await channel_store.record_channel(
        svc.db,
        chat.id,
        title=chat_title(chat),
        username=chat.username,
        added_by=person if became else None,
        now=now,
    )
    if can_post:
        await subscription_store.reactivate(svc.db, chat.id, now)
    else:
        lost = await subscription_store.deactivate(svc.db, chat.id, "no right to post", now)
        if lost is not None and lost.set_by is not None:
            await tell_chat_lost(context.bot, svc, lost)
            return
    if became and person is not None:
        lang = await svc.language_of(person)
        key = "channel.added" if can_post else "channel.added_no_post"
        await _tell(context.bot, person, t(lang, key, title=chat_title(chat)), "the welcome")


# --- /addchannel ---------------------------------------------------------------------------


def channel_ref(text: str) -> int | str | None:
    """'@name', 'name', 't.me/name' -> '@name'; '-100123' -> -100123; None if neither."""
    value = text.strip()
    if re.fullmatch(r"-100\d{5,16}", value):
        return int(value)
    match = _USERNAME.match(value)
    return f"@{match.group(1)}" if match else None


async def addchannel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _addchannel(update, context)


@admin_only
async def _addchannel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/addchannel @name|-100id [visit|allvisits] [agreements|agenda]`."""
    svc, lang = await context_lang(update, context)
    words = args_text(update).split()
    ref = channel_ref(words[0]) if words else None
    if ref is None:
        await reply(update, context, t(lang, "addchannel.usage"))
        return
    rest = [w.lower() for w in words[1:]]
    loaded, every = await admin_visit(update, svc), False
    if rest and rest[0] == EVERY_VISIT:
        every, rest = True, rest[1:]
    elif rest and rest[0] not in TOPICS:
        picked = svc.visits.by_slug(rest[0])
        if picked is None:
            await reply(update, context, t(lang, "addchannel.unknown_visit", slug=rest[0][:40]))
            return
        loaded, rest = picked, rest[1:]
    topics = TOPICS.get(" ".join(rest))
    if topics is None:
        await reply(update, context, t(lang, "addchannel.usage"))
        return
    try:
        chat = await context.bot.get_chat(ref)
    except TelegramError as exc:
        log.info("getChat(%s) failed: %s", ref, exc)
        await reply(update, context, t(lang, "channel.refused.not_found", title=str(ref)))
        return
    title = chat.title or chat.username or str(chat.id)
    if chat.type != Chat.CHANNEL:
        await reply(update, context, t(lang, "addchannel.not_channel", title=title))
        return
    rights = await bot_rights(context.bot, chat.id)
    if rights != "ok":
        await reply(update, context, refusal(lang, rights, title))
        return
    request = LinkRequest(chat.id, title, chat.username, None if every else loaded.id, topics)
    await channel_store.link_by_admin(svc.db, await acting(update, svc), request)
    found = await channel_store.channel(svc.db, chat.id)
    post_lang = await channel_language(svc, found)
    what = _topics(lang, topics)
    language = t(post_lang, "language.name")
    if every:
        text = t(lang, "addchannel.done_every", title=title, topics=what, language=language)
    else:
        visit = loaded.visit.name.get(lang)
        text = t(
            lang,
            "addchannel.done",
            title=title,
            topics=what,
            visit=visit,
            language=language,
        )
    await reply(update, context, text)


# --- /channels -----------------------------------------------------------------------------


async def channels(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _channels(update, context)


@admin_only
async def _channels(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc, lang = await context_lang(update, context)
    loaded = await admin_visit(update, svc)
    text, keyboard = await _list_view(svc, loaded, lang)
    await reply(update, context, text, keyboard=keyboard)


async def _describe(svc: Services, loaded: LoadedVisit, lang: str, ch: Channel, n: int) -> Html:
    """One channel: name, state, what it follows, language, zone, last post, who linked it."""
    name = f" (@{ch.username})" if ch.username else ""
    state = (
        t(lang, "channels.state.active")
        if ch.active
        else t(lang, "channels.state.inactive", reason=(ch.inactive_reason or "")[:120])
    )
    follows = []
    for follow in ch.follows:
        kinds = _kinds(lang, follow.agreements, follow.agenda)
        visit = svc.visits.get(follow.visit_id)
        if follow.visit_id is None:
            follows.append(t(lang, "channels.follows.every", topics=kinds))
        elif visit is not None:
            follows.append(
                t(lang, "channels.follows.visit", visit=visit.visit.name.get(lang), topics=kinds)
            )
    if ch.language in LANGUAGES:
        language = t(str(ch.language), "language.name")
    else:
        auto = await channel_language(svc, ch)
        language = t(lang, "channels.language.auto", language=t(auto, "language.name"))
    tz = ch.timezone or loaded.visit.timezone.key
    last = (
        format_time(from_db_time(ch.last_post_at), loaded.visit.timezone, lang)
        if ch.last_post_at
        else t(lang, "stats.never")
    )
    return t(
        lang,
        "channels.item",
        n=n,
        title=ch.title or str(ch.chat_id),
        username=name,
        state=state,
        follows=Html("; ".join(follows)) if follows else t(lang, "sub.topics.none"),
        language=language,
        tz=tz,
        last=last,
        who=ch.linked_by if ch.linked_by is not None else "—",
        via=t(lang, f"channels.via.{ch.linked_via or 'post'}"),
    )


async def _list_view(
    svc: Services, loaded: LoadedVisit, lang: str
) -> tuple[Html, InlineKeyboardMarkup | None]:
    linked = await channel_store.linked_channels(svc.db)
    if not linked:
        return t(lang, "channels.none"), None
    lines = [t(lang, "channels.title", count=len(linked)), ""]
    buttons = []
    for n, ch in enumerate(linked, 1):
        lines += [await _describe(svc, loaded, lang, ch, n), ""]
        label = t(lang, "channels.button.open", n=n, title=(ch.title or str(ch.chat_id))[:40])
        buttons.append([InlineKeyboardButton(label, callback_data=f"chl:open:{ch.chat_id}")])
    lines.append(t(lang, "channels.hint"))
    return Html("\n".join(lines)), InlineKeyboardMarkup(buttons)


async def _channel_view(
    svc: Services, loaded: LoadedVisit, lang: str, ch: Channel
) -> tuple[Html, InlineKeyboardMarkup]:
    text = Html(await _describe(svc, loaded, lang, ch, 1) + "\n\n" + t(lang, "channels.choose"))
    languages = [
        InlineKeyboardButton(
            ("✓ " if ch.language == code else "") + t(code, "language.name"),
            callback_data=f"chl:lang:{ch.chat_id}:{code}",
        )
        for code in LANGUAGES
    ]
    auto = ("✓ " if ch.language not in LANGUAGES else "") + t(lang, "language.button.auto")
    keyboard = InlineKeyboardMarkup(
        [
            languages,
            [InlineKeyboardButton(auto, callback_data=f"chl:lang:{ch.chat_id}:auto")],
            [
                InlineKeyboardButton(
                    t(lang, "channels.button.unlink"), callback_data=f"chl:unlink:{ch.chat_id}"
                ),
                InlineKeyboardButton(
                    t(lang, "channels.button.back"), callback_data=f"chl:list:{ch.chat_id}"
                ),
            ],
        ]
    )
    return text, keyboard


@admin_step
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The buttons of /channels: open a channel, its language, unlink (confirmed), back."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = re.match(BUTTON_PATTERN, query.data)
    assert match is not None
    action, chat_id, code = match.group(1), int(match.group(2)), match.group(4)
    svc, lang = await context_lang(update, context)
    loaded = await admin_visit(update, svc)
    found = await channel_store.channel(svc.db, chat_id)
    note: Html | None = None
    if action != "list" and (found is None or found.linked_at is None):
        await query.answer(t(lang, "channels.gone"), show_alert=True)
        action = "list"
    elif action == "lang" and found is not None:
        chosen = None if code == AUTO else code
        await channel_store.set_language_by_admin(
            svc.db, await acting(update, svc), chat_id, chosen
        )
        await query.answer(t(lang, "language.saved"))
    elif action == "unlinkyes" and found is not None:
        await channel_store.unlink_by_admin(svc.db, await acting(update, svc), chat_id)
        await query.answer(t(lang, "channels.unlinked.short"))
        note = t(lang, "channels.unlinked", title=found.title or str(chat_id))
        action = "list"
    else:
        await query.answer()
    if action == "list":
        text, keyboard = await _list_view(svc, loaded, lang)
        if note is not None:
            text = Html(f"{note}\n\n{text}")
    elif action == "unlink" and found is not None:
        text = t(lang, "channels.unlink.confirm", title=found.title or str(chat_id))
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "channels.button.unlink_yes"),
                        callback_data=f"chl:unlinkyes:{chat_id}",
                    ),
                    InlineKeyboardButton(
                        t(lang, "channels.button.cancel"), callback_data=f"chl:open:{chat_id}"
                    ),
                ]
            ]
        )
    else:
        fresh = await channel_store.channel(svc.db, chat_id)
        assert fresh is not None
        text, keyboard = await _channel_view(svc, loaded, lang, fresh)
    try:
        await query.edit_message_text(text, reply_markup=keyboard, disable_web_page_preview=True)
    except TelegramError as exc:  # "message is not modified" on a double tap
        log.debug("channels message not edited: %s", exc)

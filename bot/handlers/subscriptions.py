"""/subscribe, /unsubscribe, /settings (buttons), /timezone, /quiet, /digest, and chat tracking.

In groups only the group's administrators may change anything (Telegram's getChatMember is
asked each time, so promotions and demotions count at once); everyone may look at /settings.
A group's alerts are written in the language of whoever set its subscription.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.common import args_text, reply, visit_header, visit_of
from bot.i18n import Html, t
from bot.notify import tell_chat_lost
from bot.render import format_clock
from bot.services import Services, services
from storage import subscriptions as subscription_store
from storage.alerts import ChatPrefs
from storage.visit import LoadedVisit

log = logging.getLogger(__name__)

BUTTON_PREFIX = "sub:"
BUTTON_PATTERN = r"^sub:(all|agreements|agenda|off|every_on|every_off|feeds_on|feeds_off)$"
EVERY_VISIT = "allvisits"  # `/subscribe allvisits [kind]`: every visit, future ones included
TOPICS: dict[str, subscription_store.Topics] = {
    "": "all",
    "all": "all",
    "everything": "all",
    "agreements": "agreements",
    "agreement": "agreements",
    "agenda": "agenda",
}
_QUIET = re.compile(r"^(\d{1,2})[:.](\d{2})\s*[-–]\s*(\d{1,2})[:.](\d{2})$")
_ADMIN_STATUSES = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


# --- permissions --------------------------------------------------------------------------


async def may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Private chats: the user. Groups: only the group's administrators (asked live)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.type == Chat.PRIVATE:
        return True
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous admin posts as the group
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("getChatMember(%s, %s) failed: %s", chat.id, user.id, exc)
        return False
    return member.status in _ADMIN_STATUSES


async def _refuse_if_not_admin(
    update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str
) -> bool:
    if await may_change(update, context):
        return False
    await reply(update, context, t(lang, "sub.group_admins_only"))
    return True


def _topics_text(lang: str, sub: subscription_store.Subscription | None) -> Html:
    if sub is None:
        return t(lang, "sub.topics.none")
    if sub.wants_agreements and sub.wants_agenda:
        return t(lang, "sub.topics.all")
    return t(lang, "sub.topics.agreements" if sub.wants_agreements else "sub.topics.agenda")


def chat_title(chat: Chat) -> str:
    return chat.title or chat.full_name or chat.username or ""


# --- commands -----------------------------------------------------------------------------


def parse_scope(text: str) -> tuple[bool, subscription_store.Topics] | None:
    """'/subscribe' arguments: (every visit?, topics); None when they are not understood."""
    words = text.lower().split()
    every = bool(words) and words[0] == EVERY_VISIT
    rest = " ".join(words[1:] if every else words)
    topics = TOPICS.get(rest)
    return None if topics is None else (every, topics)


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/subscribe [agreements|agenda] follows the chat's current visit; `/subscribe allvisits
    [kind]` every visit, future ones included. Twice is harmless and says so."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    scope = parse_scope(args_text(update))
    if scope is None:
        await reply(update, context, t(lang, "sub.bad_topic"))
        return
    if await _refuse_if_not_admin(update, context, lang):
        return
    every, topics = scope
    target = None if every else loaded
    await _apply_topics(update, context, svc, lang, topics, target, via_button=False)


async def _apply_topics(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    svc: Services,
    lang: str,
    topics: subscription_store.Topics,
    loaded: LoadedVisit | None,
    *,
    via_button: bool,
) -> Html:
    """Subscribe the chat to `loaded` (None: every visit) and say what it follows there."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    visit_id = loaded.id if loaded else None
    result = await subscription_store.subscribe(
        svc.db,
        visit_id=visit_id,
        chat_id=chat.id,
        chat_type=chat.type,
        title=chat_title(chat),
        set_by=user.id if user else None,
        topics=topics,
        now=svc.now(),
    )
    sub = await subscription_store.subscription(svc.db, visit_id, chat.id)
    what = _topics_text(lang, sub)
    if result == "unchanged":
        text = t(lang, "sub.unchanged", topics=what)
    elif result == "created":
        text = (
            t(lang, "sub.created_every", topics=what)
            if loaded is None
            else t(lang, "sub.created", topics=what, visit=loaded.visit.name.get(lang))
        )
    else:
        text = t(lang, "sub.updated", topics=what)
    if not via_button:
        await reply(update, context, text)
    return text


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unsubscribe stops the current visit's alerts; `/unsubscribe allvisits` the every-visit
    subscription (other visits followed one by one stay)."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    chat = update.effective_chat
    if chat is None or await _refuse_if_not_admin(update, context, lang):
        return
    every = args_text(update).lower().split()[:1] == [EVERY_VISIT]
    removed = await subscription_store.unsubscribe(svc.db, None if every else loaded.id, chat.id)
    key = ("unsub.done_every" if every else "unsub.done") if removed else "unsub.none"
    await reply(update, context, t(lang, key))


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Everything about this chat's alerts, with the topic choices as buttons."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    chat = update.effective_chat
    if chat is None:
        return
    text, keyboard = await _settings_view(svc, loaded, lang, chat.id)
    await reply(update, context, text, keyboard=keyboard)


async def _settings_view(
    svc: Services, loaded: LoadedVisit, lang: str, chat_id: int
) -> tuple[Html, InlineKeyboardMarkup]:
    sub = await subscription_store.subscription(svc.db, loaded.id, chat_id)
    every = await subscription_store.subscription(svc.db, None, chat_id)
    prefs = await subscription_store.chat_prefs(svc.db, chat_id)
    lines = [visit_header(svc, loaded, lang) + t(lang, "settings.title"), ""]
    if sub is None:
        lines.append(t(lang, "settings.status.off"))
    else:
        lines.append(t(lang, "settings.status.on", topics=_topics_text(lang, sub)))
    if every is not None:
        lines.append(t(lang, "settings.every.on", topics=_topics_text(lang, every)))
    followed = await subscription_store.followed_visit_ids(svc.db, chat_id)
    others = [v.visit.name.get(lang) for v in svc.visits if v.id in followed and v.id != loaded.id]
    if others:
        lines.append(t(lang, "settings.others", visits=", ".join(others)))
    lines += _pref_lines(loaded, lang, prefs)
    wants_agenda = any(s is not None and s.wants_agenda for s in (sub, every))
    feeds_on = await subscription_store.feed_agenda(svc.db, chat_id)
    if wants_agenda:
        lines.append(t(lang, "settings.feed_agenda.on" if feeds_on else "settings.feed_agenda.off"))
    lines += ["", t(lang, "settings.hint")]
    current = "off"
    if sub is not None:
        current = (
            "all"
            if sub.wants_agreements and sub.wants_agenda
            else ("agreements" if sub.wants_agreements else "agenda")
        )
    buttons = []
    for key in ("all", "agreements", "agenda", "off"):
        label = t(lang, f"settings.button.{key}")
        if key == current:
            label = t(lang, "settings.button.current", label=label)
        buttons.append(InlineKeyboardButton(label, callback_data=BUTTON_PREFIX + key))
    rows = [buttons[:2], buttons[2:]]
    if len(svc.visits) > 1 or every is not None:
        key = "every_off" if every is not None else "every_on"
        label = t(lang, f"settings.button.{key}")
        rows.append([InlineKeyboardButton(label, callback_data=BUTTON_PREFIX + key)])
    if wants_agenda:
        key = "feeds_off" if feeds_on else "feeds_on"
        label = t(lang, f"settings.button.{key}")
        rows.append([InlineKeyboardButton(label, callback_data=BUTTON_PREFIX + key)])
    return Html("\n".join(lines)), InlineKeyboardMarkup(rows)


def _pref_lines(loaded: LoadedVisit, lang: str, prefs: ChatPrefs) -> list[Html]:
    tz_name = prefs.timezone or loaded.visit.timezone.key
    lines = [t(lang, "settings.timezone", tz=tz_name)]
    if prefs.quiet_start is not None and prefs.quiet_end is not None:
        lines.append(
            t(lang, "settings.quiet.on", start=hhmm(prefs.quiet_start), end=hhmm(prefs.quiet_end))
        )
    else:
        lines.append(t(lang, "settings.quiet.off"))
    if prefs.digest_hour is not None:
        lines.append(t(lang, "settings.digest.on", hour=f"{prefs.digest_hour:02d}"))
    else:
        lines.append(t(lang, "settings.digest.off"))
    return lines


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None or query.data is None or chat is None:
        return
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    if not await may_change(update, context):
        await query.answer(t(lang, "sub.group_admins_only.short"), show_alert=True)
        return
    choice = query.data.removeprefix(BUTTON_PREFIX)
    if choice in ("feeds_on", "feeds_off"):
        await subscription_store.set_feed_agenda(svc.db, chat.id, choice == "feeds_on", svc.now())
        note = t(lang, "settings.saved")
    elif choice in ("off", "every_off"):
        target = loaded.id if choice == "off" else None
        removed = await subscription_store.unsubscribe(svc.db, target, chat.id)
        note = t(lang, "unsub.done.short" if removed else "unsub.none.short")
    else:
        topics = TOPICS["all" if choice == "every_on" else choice]
        target_visit = None if choice == "every_on" else loaded
        await _apply_topics(update, context, svc, lang, topics, target_visit, via_button=True)
        note = t(lang, "settings.saved")
    await query.answer(note)
    text, keyboard = await _settings_view(svc, loaded, lang, chat.id)
    if query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=keyboard)
        except TelegramError as exc:  # e.g. "message is not modified" on a double tap
            log.debug("settings message not edited: %s", exc)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_quiet(value: str) -> tuple[int, int] | None:
    """'22:00-07:00' -> (1320, 420); None if it is not a valid range."""
    match = _QUIET.match(value.strip())
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        return None
    return h1 * 60 + m1, h2 * 60 + m2


def parse_zone(value: str) -> str | None:
    """The canonical IANA name for `value` (case-insensitive), or None."""
    name = value.strip()
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    return _zones_by_lower_name().get(name.lower())


@functools.cache
def _zones_by_lower_name() -> dict[str, str]:
    """Every IANA zone keyed by its lower-case name, built once.

    `available_timezones()` scans the zoneinfo directories on disk each call: a blocking walk
    over hundreds of files that must not run on the event loop for every /timezone.
    """
    return {zone.lower(): zone for zone in available_timezones()}


async def _ensure_chat(svc: Services, update: Update) -> int | None:
    chat = update.effective_chat
    if chat is None:
        return None
    async with svc.db.transaction() as tx:
        await subscription_store.upsert_chat(tx, chat.id, chat.type, chat_title(chat), svc.now())
    return chat.id


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timezone <IANA name>: every time in this chat's alerts is shown in that zone."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    value = args_text(update)
    chat = update.effective_chat
    if chat is None:
        return
    if not value:
        prefs = await subscription_store.chat_prefs(svc.db, chat.id)
        current = prefs.timezone or loaded.visit.timezone.key
        await reply(update, context, t(lang, "tz.usage", tz=current))
        return
    name = parse_zone(value)
    if name is None:
        await reply(update, context, t(lang, "tz.unknown", name=value[:64]))
        return
    if await _refuse_if_not_admin(update, context, lang):
        return
    chat_id = await _ensure_chat(svc, update)
    assert chat_id is not None
    await subscription_store.set_preferences(
        svc.db, chat_id, now=svc.now(), default_tz=loaded.visit.timezone, timezone=name
    )
    local = format_clock(svc.now(), ZoneInfo(name), lang)
    await reply(update, context, t(lang, "tz.set", tz=name, time=local))


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quiet HH:MM-HH:MM | off: alerts in that window wait and arrive together at its end."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    value = args_text(update)
    chat = update.effective_chat
    if chat is None:
        return
    prefs = await subscription_store.chat_prefs(svc.db, chat.id)
    if not value:
        state = (
            t(lang, "quiet.state", start=hhmm(prefs.quiet_start), end=hhmm(prefs.quiet_end))
            if prefs.quiet_start is not None and prefs.quiet_end is not None
            else t(lang, "state.off")
        )
        await reply(update, context, t(lang, "quiet.usage", state=state))
        return
    window: tuple[int, int] | None = None
    if value.lower() not in ("off", "none", "0"):
        window = parse_quiet(value)
        if window is None:
            await reply(update, context, t(lang, "quiet.bad", value=value[:40]))
            return
    if await _refuse_if_not_admin(update, context, lang):
        return
    chat_id = await _ensure_chat(svc, update)
    assert chat_id is not None
    new = await subscription_store.set_preferences(
        svc.db, chat_id, now=svc.now(), default_tz=loaded.visit.timezone, quiet=window
    )
    if window is None:
        await reply(update, context, t(lang, "quiet.off"))
        return
    tz_name = new.timezone or loaded.visit.timezone.key
    await reply(
        update,
        context,
        t(lang, "quiet.set", start=hhmm(window[0]), end=hhmm(window[1]), tz=tz_name),
    )


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest HH | off: one bundled message a day at that hour instead of instant alerts."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    value = args_text(update).strip().lower()
    chat = update.effective_chat
    if chat is None:
        return
    prefs = await subscription_store.chat_prefs(svc.db, chat.id)
    if not value:
        state = (
            t(lang, "digest.state", hour=f"{prefs.digest_hour:02d}")
            if prefs.digest_hour is not None
            else t(lang, "state.off")
        )
        await reply(update, context, t(lang, "digest.usage", state=state))
        return
    hour: int | None = None
    if value not in ("off", "none"):
        cleaned = value.removesuffix(":00")
        if not cleaned.isdecimal() or not 0 <= int(cleaned) <= 23:
            await reply(update, context, t(lang, "digest.bad"))
            return
        hour = int(cleaned)
    if await _refuse_if_not_admin(update, context, lang):
        return
    chat_id = await _ensure_chat(svc, update)
    assert chat_id is not None
    new = await subscription_store.set_preferences(
        svc.db, chat_id, now=svc.now(), default_tz=loaded.visit.timezone, digest_hour=hour
    )
    if hour is None:
        await reply(update, context, t(lang, "digest.off"))
        return
    tz_name = new.timezone or loaded.visit.timezone.key
    await reply(update, context, t(lang, "digest.set", hour=f"{hour:02d}", tz=tz_name))


# --- tracking chats and users (handler group -1, runs for every update) --------------------


async def track(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remember users' languages, follow group migrations, and notice (un)blocking.

    A chat that writes to us again is reachable again, so an unblocked user's /start (or any
    message) reactivates their subscription; my_chat_member updates tell us about kicks.
    """
    svc = services(context)
    now = svc.now()
    user = update.effective_user
    if user is not None and not user.is_bot:
        await _remember_user(svc, user.id, user.language_code, now)
    message = update.message
    chat = update.effective_chat
    if message is not None and message.migrate_to_chat_id:
        await subscription_store.migrate_chat(
            svc.db, message.chat.id, message.migrate_to_chat_id, now
        )
        return
    member = update.my_chat_member
    if member is not None:
        if member.chat.type == Chat.CHANNEL:
            return  # rights matter there, not membership: bot.handlers.channels.my_chat_member
        status = member.new_chat_member.status
        if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            lost = await subscription_store.deactivate(svc.db, member.chat.id, f"bot {status}", now)
            if lost is not None:
                await tell_chat_lost(context.bot, svc, lost)
        elif status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
            await subscription_store.reactivate(svc.db, member.chat.id, now)
        return
    if message is not None and chat is not None:
        await subscription_store.reactivate(svc.db, chat.id, now)


async def _remember_user(
    svc: Services, user_id: int, language_code: str | None, now: dt.datetime
) -> None:
    if svc.recent_users.needs_recording(user_id, language_code):
        await subscription_store.record_user(svc.db, user_id, language_code, now)

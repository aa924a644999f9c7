"""/language: choose English, Korean or Turkish with one tap, or go back to automatic.

Without a choice the bot follows the user's Telegram app (`language_code`), which is right for
most people; the choice exists for those whose app language is not the one they read best. It
is stored per user, so it applies in every chat, and a group's alerts follow the language of
whoever set the group's subscription. The command menu follows the choice too, debounced (see
`bot.menus.refresh_user_menu`).
"""

from __future__ import annotations

import logging

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.common import args_text, reply
from bot.i18n import LANGUAGES, Html, language_for, t
from bot.menus import refresh_user_menu
from bot.services import Services, services
from storage.users import set_language, user_language

log = logging.getLogger(__name__)

BUTTON_PREFIX = "lang:"
AUTO = "auto"
BUTTON_PATTERN = r"^lang:(en|ko|tr|auto)$"

# What people type after /language, folded to lower case: codes, English names, endonyms.
ALIASES: dict[str, str] = {
    "en": "en",
    "english": "en",
    "영어": "en",
    "ingilizce": "en",
    "i̇ngilizce": "en",
    "ko": "ko",
    "kr": "ko",
    "korean": "ko",
    "한국어": "ko",
    "korece": "ko",
    "tr": "tr",
    "turkish": "tr",
    "türkçe": "tr",
    "turkce": "tr",
    "터키어": "tr",
    "튀르키예어": "tr",
    AUTO: AUTO,
    "automatic": AUTO,
    "자동": AUTO,
    "otomatik": AUTO,
}


def parse_choice(text: str) -> str | None:
    """'ko', 'Korean', '한국어', 'auto' … -> a catalogue language or 'auto'; None if unknown."""
    return ALIASES.get(text.strip().lower())


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language shows the choice as buttons; `/language ko` sets it without a second step."""
    svc = services(context)
    user = update.effective_user
    if user is None:
        return
    value = args_text(update)
    if value:
        choice = parse_choice(value)
        if choice is None:
            lang = await svc.language(update)
            text, keyboard = await _view(svc, user, update.effective_chat, lang)
            unknown = t(lang, "language.unknown", value=value[:40])
            await reply(update, context, Html(f"{unknown}\n\n{text}"), keyboard=keyboard)
            return
        lang = await _apply(svc, context, user, choice)
        await reply(update, context, _confirmation(choice, lang))
        return
    lang = await svc.language(update)
    text, keyboard = await _view(svc, user, update.effective_chat, lang)
    await reply(update, context, text, keyboard=keyboard)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A language button: store the choice, then redraw the message in the new language."""
    query = update.callback_query
    user = update.effective_user
    if query is None or query.data is None or user is None:
        return
    svc = services(context)
    choice = query.data.removeprefix(BUTTON_PREFIX)
    lang = await _apply(svc, context, user, choice)
    await query.answer(t(lang, "language.saved"))
    confirmation = _confirmation(choice, lang)
    text, keyboard = await _view(svc, user, update.effective_chat, lang)
    if query.message is None:
        return
    try:
        await query.edit_message_text(Html(f"{confirmation}\n\n{text}"), reply_markup=keyboard)
    except TelegramError as exc:  # "message is not modified" when the same button is pressed
        log.debug("language message not edited: %s", exc)


async def _apply(svc: Services, context: ContextTypes.DEFAULT_TYPE, user: User, choice: str) -> str:
    """Store `choice` ('auto' clears it), refresh the user's menu; returns the language now."""
    chosen = None if choice == AUTO else choice
    await set_language(svc.db, user.id, chosen, svc.now(), language_code=user.language_code)

    await refresh_user_menu(context.application, svc, user.id)
    return chosen or language_for(user.language_code)


def _confirmation(choice: str, lang: str) -> Html:
    if choice == AUTO:
        return t(lang, "language.set_auto", language=t(lang, "language.name"))
    return t(lang, "language.set")


async def _view(
    svc: Services, user: User, chat: Chat | None, lang: str
) -> tuple[Html, InlineKeyboardMarkup]:
    """The current setting and one button per language, the current one ticked.

    Language names are written in their own language (한국어, Türkçe) so that a reader who
    landed in the wrong language still recognises theirs.
    """
    stored = await user_language(svc.db, user.id)
    chosen = stored.chosen if stored.chosen in LANGUAGES else None
    current_lang = chosen or language_for(user.language_code or stored.language_code)
    key = "language.current.chosen" if chosen else "language.current.auto"
    current = t(lang, key, language=t(current_lang, "language.name"))
    lines = [t(lang, "language.title", current=current), "", t(lang, "language.hint")]
    if chat is not None and chat.type != Chat.PRIVATE:
        lines += ["", t(lang, "language.group_note")]
    buttons = []
    for code in LANGUAGES:
        label = str(t(code, "language.name"))
        if code == chosen:
            label = f"✓ {label}"
        buttons.append(InlineKeyboardButton(label, callback_data=BUTTON_PREFIX + code))
    auto_label = str(t(lang, "language.button.auto"))
    if chosen is None:
        auto_label = f"✓ {auto_label}"
    keyboard = InlineKeyboardMarkup(
        [buttons, [InlineKeyboardButton(auto_label, callback_data=BUTTON_PREFIX + AUTO)]]
    )
    return Html("\n".join(lines)), keyboard

"""Small helpers every handler uses: replying safely, guarding admin work, and what the
curation handlers share (who is acting, in which language, how a validation problem is shown).

Admin rights are checked when something is done, not only when it was started: a command, each
step of an admin conversation and each admin button goes through the same guard
(`admin_only`, `admin_step`), so an admin removed with /deladmin half-way through a form or with
a review card still open can finish nothing. Conversations also end after
`CONVERSATION_TIMEOUT_SECONDS` of silence.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes, ConversationHandler

from bot.i18n import Html, t
from bot.render import split_message
from bot.services import Services, services
from bot.validation import ValidationError, parse_id
from storage import alerts
from storage.audit import Actor
from storage.visit import LoadedVisit

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
R = TypeVar("R")
Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, R]]

# An admin conversation left silent this long ends (and says so): a form half filled in
# yesterday must not be saved by a stray message today. Read when a conversation is built.
CONVERSATION_TIMEOUT_SECONDS = 15 * 60
# user_data keys where handlers keep an admin's unfinished work (drafts behind buttons).
_ADMIN_DRAFT_KEYS: set[str] = set()

log = logging.getLogger(__name__)


async def reply(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    html: str,
    *,
    keyboard: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    """Send `html` to the update's chat, split at line boundaries under Telegram's limit.

    The keyboard goes with the last part, where the reader's eye ends up.
    """
    chat = update.effective_chat
    if chat is None:
        return []
    parts = split_message(html)
    sent = []
    for index, part in enumerate(parts):
        markup = keyboard if index == len(parts) - 1 else None
        sent.append(
            await context.bot.send_message(
                chat.id, part, reply_markup=markup, disable_web_page_preview=True
            )
        )
    return sent


def args_text(update: Update) -> str:
    """Everything after the command word, exactly as typed (context.args loses spacing)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def conversation_timeout() -> float:
    """Seconds of silence after which an admin conversation ends (tests shorten it)."""
    return float(CONVERSATION_TIMEOUT_SECONDS)


def admin_drafts(*keys: str) -> None:
    """Name the user_data keys where a module keeps an admin's unfinished work, so that a
    refusal by the guard forgets it: nothing half-done survives the loss of rights."""
    _ADMIN_DRAFT_KEYS.update(keys)


def _rights_guard(refusal: str) -> Callable[[Callback[R]], Callback[R | int]]:
    """A guard that runs the handler only if the user is an admin at this very moment.

    Otherwise it answers the button press (if any), forgets the user's admin drafts, says
    `refusal` and returns `ConversationHandler.END`, which ends a conversation when the
    handler is one of its steps (and is ignored by other handlers).
    """

    def decorate(handler: Callback[R]) -> Callback[R | int]:
        @functools.wraps(handler)
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> R | int:
            svc = services(context)
            user = update.effective_user
            if await svc.is_admin(user.id if user else None):
                return await handler(update, context)
            if update.callback_query is not None:
                await update.callback_query.answer()
            for key in _ADMIN_DRAFT_KEYS:
                (context.user_data or {}).pop(key, None)
            await reply(update, context, t(await svc.language(update), refusal))
            return ConversationHandler.END

        return guarded

    return decorate


# Commands: "that command is for the bot's admins".
admin_only = _rights_guard("errors.admin_only")
# Conversation steps and buttons, where the user may have been an admin when it started.
admin_step = _rights_guard("errors.admin_step")


def owner_only(handler: Handler) -> Handler:
    """Like `admin_only`, for what only the owners named in ADMIN_IDS may do."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        svc = services(context)
        user = update.effective_user
        if not svc.is_owner(user.id if user else None):
            await reply(update, context, t(await svc.language(update), "errors.owner_only"))
            return
        await handler(update, context)

    return guarded


def keyboard_rows(buttons: Sequence[Any], per_row: int = 2) -> list[list[Any]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def actor_id(update: Update) -> int:
    """The admin doing something; the guards have already checked there is one."""
    user = update.effective_user
    if user is None:
        raise RuntimeError("admin command without a user")
    return user.id


async def show_error(
    update: Update, context: ContextTypes.DEFAULT_TYPE, error: ValidationError
) -> None:
    """Explain a validation problem; the catalogue holds the wording for every key."""
    lang = await services(context).language(update)
    await reply(update, context, t(lang, error.key, **error.params))


async def id_argument(
    update: Update, context: ContextTypes.DEFAULT_TYPE, usage_key: str
) -> int | None:
    """The numeric ID after an admin command, or None once the admin was told what is wrong
    (the usage when it is missing, the validation message when it is not a number)."""
    text = args_text(update)
    if not text:
        await reply(update, context, t(await services(context).language(update), usage_key))
        return None
    try:
        return parse_id(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return None


async def acting(update: Update, svc: Services) -> Actor:
    """The admin behind `update`, acting on their current visit now: what storage audits.

    An admin's current visit is the one their private chat picked (`/visit <slug>`), wherever
    they give the command, so an admin in a group edits what they see in private.
    """
    user = actor_id(update)
    return Actor(user, (await svc.current_visit(user)).id, svc.now())


async def visit_of(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Services, LoadedVisit]:
    """The services and the visit this chat reads about (picked, else the default visit)."""
    svc = services(context)
    chat = update.effective_chat
    return svc, await svc.current_visit(chat.id if chat else None)


def visit_header(svc: Services, loaded: LoadedVisit, lang: str) -> Html:
    """A first line naming the visit, when the bot follows more than one (else nothing)."""
    if len(svc.visits) < 2:
        return Html("")
    return Html(t(lang, "visit.header", visit=loaded.visit.name.get(lang)) + "\n")


async def clear_buttons(query: CallbackQuery) -> None:
    """Take the buttons off a card that was decided; a card too old to edit keeps them (the
    reply says what happened, and pressing again is answered as already decided)."""
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError as exc:
        log.info("could not remove the buttons: %s", exc)


def typed_time(moment: dt.datetime, time_known: bool, tz: ZoneInfo) -> str:
    """The time the way admins type it, so the confirmation can be compared at a glance."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} ({tz.key})" if time_known else f"{local:%Y-%m-%d} ({tz.key})"


def admin_header(svc: Services, loaded: LoadedVisit, lang: str) -> Html:
    """A first line naming the visit an admin command acted on, when there are several."""
    if len(svc.visits) < 2:
        return Html("")
    return Html(t(lang, "visit.admin_header", visit=loaded.visit.name.get(lang)) + "\n")


async def admin_visit(update: Update, svc: Services) -> LoadedVisit:
    """The visit admin commands act on: the admin's own current visit (see `acting`)."""
    return await svc.current_visit(actor_id(update))


async def context_lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Services, str]:
    svc = services(context)
    return svc, await svc.language(update)


def wake_delivery() -> None:
    """Nudge the delivery worker once the transaction has committed.

    `create_alert` wakes it too; waking after the commit as well costs one query and means the
    worker never has to wait for its next tick to see rows it first looked for too early.
    """
    alerts.wake_delivery()

"""/visits and /visit: which visit this chat reads about.

Each chat has a current visit: the one it picked, else the live one, else the next, else the
latest. /facts, /agenda, /agreements and /status answer for it, /subscribe follows it, and an
admin's commands act on the current visit of their private chat. `/visits` lists live, then
upcoming, then concluded visits with a button each; `/visit <slug>` (or a deep link
`?start=<slug>`) switches. In groups, as for subscriptions, only the group's administrators may
switch what the group reads.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.common import args_text, keyboard_rows, reply
from bot.handlers.subscriptions import chat_title, may_change
from bot.i18n import Html, t
from bot.render import format_day
from bot.services import Services, services
from storage import subscriptions as subscription_store
from storage.visit import LoadedVisit

BUTTON_PREFIX = "vs:"
BUTTON_PATTERN = r"^vs:[a-z0-9][a-z0-9-]{0,31}$"


def _line(svc: Services, loaded: LoadedVisit, lang: str, current: bool) -> Html:
    visit = loaded.visit
    state = visit.state(svc.now())
    return t(
        lang,
        "visits.item_current" if current else "visits.item",
        visit=visit.name.get(lang),
        state=t(lang, f"visits.state.{state}"),
        start=format_day(visit.starts_on, lang),
        end=format_day(visit.ends_on, lang),
        slug=loaded.slug,
    )


def button_label(loaded: LoadedVisit, lang: str) -> str:
    """Short enough for a button, and telling visits apart: the host country and the start
    (visit names differ only at their end: "... Lee Jae Myung to Egypt")."""
    visit = loaded.visit
    return f"{visit.host.name.get(lang)} · {format_day(visit.starts_on, lang)}"


async def visits(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Live, then upcoming, then concluded visits; a button picks one."""
    svc = services(context)
    lang = await svc.language(update)
    chat = update.effective_chat
    current = await svc.current_visit(chat.id if chat else None)
    ordered = svc.visits.ordered(svc.now())
    lines = [t(lang, "visits.title"), ""]
    lines += [_line(svc, v, lang, v.id == current.id) for v in ordered]
    lines += ["", t(lang, "visits.hint")]
    buttons = [
        InlineKeyboardButton(button_label(v, lang), callback_data=BUTTON_PREFIX + v.slug)
        for v in ordered
    ]
    every = InlineKeyboardButton(t(lang, "visits.follow_every"), callback_data="sub:every_on")
    keyboard = InlineKeyboardMarkup([*keyboard_rows(buttons, 1), [every]])
    await reply(update, context, Html("\n".join(lines)), keyboard=keyboard)


async def visit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/visit <slug>` switches the chat's current visit; alone, says which it is."""
    svc = services(context)
    lang = await svc.language(update)
    slug = args_text(update)
    if not slug:
        chat = update.effective_chat
        current = await svc.current_visit(chat.id if chat else None)
        await reply(update, context, t(lang, "visit.current", visit=current.visit.name.get(lang)))
        return
    await open_visit(update, context, svc, lang, slug)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    svc = services(context)
    lang = await svc.language(update)
    if not await may_change(update, context):
        await query.answer(t(lang, "sub.group_admins_only.short"), show_alert=True)
        return
    await query.answer()
    await open_visit(update, context, svc, lang, query.data.removeprefix(BUTTON_PREFIX))


async def open_visit(
    update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, lang: str, slug: str
) -> bool:
    """Make `slug` the chat's current visit and say so (with what admins should know)."""
    chat, user = update.effective_chat, update.effective_user
    loaded = svc.visits.by_slug(slug)
    if loaded is None:
        known = ", ".join(v.slug for v in svc.visits)
        await reply(update, context, t(lang, "visit.unknown", slug=slug[:40], known=known))
        return False
    if chat is None:
        return False
    if not await may_change(update, context):
        await reply(update, context, t(lang, "sub.group_admins_only"))
        return False
    await subscription_store.set_current_visit(
        svc.db, chat.id, chat.type, chat_title(chat), loaded.id, svc.now()
    )
    lines = [t(lang, "visit.switched", visit=loaded.visit.name.get(lang))]
    if chat.type == chat.PRIVATE and await svc.is_admin(user.id if user else None):
        lines.append(t(lang, "visit.switched_admin"))
    sub = await subscription_store.subscription(svc.db, loaded.id, chat.id)
    if sub is None:
        lines.append(t(lang, "visit.subscribe_hint"))
    await reply(update, context, Html("\n".join(lines)))
    return True

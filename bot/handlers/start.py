"""/start (with its deep links) and /help.

Deep links make subscribing one tap: `https://t.me/<bot>?start=agreements` (or `=agenda`)
opens the chat and sends `/start agreements`, which subscribes at once. A link adds its topic
to what the chat already follows, so tapping the agenda link never silently drops agreements.
`?start=facts` (the inline mode button) opens the topic picker, and `?start=<visit slug>`
opens that visit (it becomes the chat's current visit). /start lists the links, so readers can
share them.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.commands import admin_commands, public_commands
from bot.handlers import facts, visits
from bot.handlers.common import reply, visit_of
from bot.handlers.subscriptions import may_change
from bot.i18n import Html, t
from bot.render import link
from bot.services import Services, services
from storage import subscriptions as subscription_store
from storage.visit import LoadedVisit

# /start payload -> the topics it subscribes to
SUBSCRIBE_LINKS: dict[str, subscription_store.Topics] = {
    "agreements": "agreements",
    "agenda": "agenda",
}
FACTS_LINK = "facts"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain the bot and its one-tap links, or act on the deep link that opened the chat."""
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    payload = context.args[0].lower() if context.args else ""
    if payload in SUBSCRIBE_LINKS:
        await subscribe_from_link(update, context, svc, loaded, lang, SUBSCRIBE_LINKS[payload])
        return
    if payload == FACTS_LINK:
        await facts.answer_query(update, context, "")
        return
    if svc.visits.by_slug(payload) is not None:
        await visits.open_visit(update, context, svc, lang, payload)
        return
    body = t(lang, "start.body", visit=loaded.visit.name.get(lang))
    if len(svc.visits) > 1:
        body = Html(f"{body}\n\n{t(lang, 'start.several', count=len(svc.visits))}")
    username = context.bot.username
    if username:
        links = t(
            lang,
            "start.links",
            agreements=deep_link(username, "agreements"),
            agenda=deep_link(username, "agenda"),
        )
        body = Html(f"{body}\n\n{links}")
    await reply(update, context, body)


def deep_link(username: str, payload: str) -> Html:
    """A t.me link that starts the bot with `payload`, labelled without the https:// noise."""
    url = f"https://t.me/{username}?start={payload}"
    return link(url, url.removeprefix("https://"))


async def subscribe_from_link(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    svc: Services,
    loaded: LoadedVisit,
    lang: str,
    topics: subscription_store.Topics,
) -> None:
    """Subscribe the chat to `topics` on top of what it follows; say what it follows now.

    The same rule as /subscribe applies in groups: only the group's administrators may change
    its alerts, and the group then speaks the language of whoever subscribed it.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return
    if not await may_change(update, context):
        await reply(update, context, t(lang, "sub.group_admins_only"))
        return
    current = await subscription_store.subscription(svc.db, loaded.id, chat.id)
    wants_agreements = topics == "agreements" or (current is not None and current.wants_agreements)
    wants_agenda = topics == "agenda" or (current is not None and current.wants_agenda)
    combined: subscription_store.Topics = (
        "all"
        if wants_agreements and wants_agenda
        else "agreements"
        if wants_agreements
        else "agenda"
    )
    result = await subscription_store.subscribe(
        svc.db,
        visit_id=loaded.id,
        chat_id=chat.id,
        chat_type=chat.type,
        title=chat.title or chat.full_name or chat.username or "",
        set_by=user.id if user else None,
        topics=combined,
        now=svc.now(),
    )
    what = t(lang, f"sub.topics.{combined}")
    if result == "created":
        text = t(lang, "sub.created", topics=what, visit=loaded.visit.name.get(lang))
    elif result == "updated":
        text = t(lang, "sub.updated", topics=what)
    else:
        text = t(lang, "sub.unchanged", topics=what)
    await reply(update, context, text)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Public commands for everyone; admins also see what they may use (owners see all)."""
    svc = services(context)
    lang = await svc.language(update)
    user = update.effective_user
    lines = [t(lang, "help.title"), ""]
    lines += [command_line(lang, c.name) for c in public_commands()]
    if await svc.is_admin(user.id if user else None):
        lines += ["", t(lang, "help.admin_title")]
        owner = svc.is_owner(user.id if user else None)
        lines += [
            command_line(lang, c.name) for c in admin_commands() if c.audience == "admin" or owner
        ]
    lines += ["", t(lang, "help.footer")]
    await reply(update, context, Html("\n".join(lines)))


def command_line(lang: str, name: str) -> Html:
    return t(lang, "help.command", command=f"/{name}", description=t(lang, f"command.{name}"))

"""/facts: topics as buttons, a topic's facts, or a folded full-text search."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.common import args_text, keyboard_rows, reply, visit_header, visit_of
from bot.i18n import Html, t
from bot.render import bullet_list, fact_lines, truncate
from bot.services import Services
from storage import facts as fact_store
from storage.visit import LoadedVisit

BUTTON_PREFIX = "facts:"
BUTTON_PATTERN = r"^facts:"
QUERY_ECHO_LIMIT = 80


async def facts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_query(update, context, args_text(update))


async def free_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat is a question: search the facts for it."""
    message = update.effective_message
    await answer_query(update, context, (message.text or "") if message else "")


async def answer_query(update: Update, context: ContextTypes.DEFAULT_TYPE, query: str) -> None:
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    data = await svc.reading(update, loaded)
    head = visit_header(svc, loaded, lang)
    query = query.strip()
    if not query:
        keyboard = await topic_keyboard(svc, loaded, data)
        await reply(update, context, head + t(lang, "facts.pick_topic"), keyboard=keyboard)
        return
    topic = await fact_store.find_topic(svc.db, loaded.id, query)
    if topic is not None:
        await send_topic(update, context, svc, loaded, topic.key, lang)
        return
    found = await fact_store.search_facts(svc.db, loaded.id, query, data)
    shown_query = truncate(query, QUERY_ECHO_LIMIT)
    if not found:
        await reply(
            update,
            context,
            head + t(lang, "facts.no_match", query=shown_query),
            keyboard=await topic_keyboard(svc, loaded, data),
        )
        return
    title = t(lang, "facts.search_title", query=shown_query, count=len(found))
    await reply(update, context, head + bullet_list(title, fact_lines(found, lang)))


async def topic_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    svc, loaded = await visit_of(update, context)
    lang = await svc.language(update)
    key = query.data.removeprefix(BUTTON_PREFIX)
    topics = {topic.key for topic in await fact_store.topics(svc.db, loaded.id)}
    if key not in topics:  # the chat switched to another visit since
        await query.answer(t(lang, "facts.topic_gone"))
        return
    await query.answer()
    await send_topic(update, context, svc, loaded, key, lang)


async def send_topic(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    svc: Services,
    loaded: LoadedVisit,
    key: str,
    lang: str,
) -> None:
    data = await svc.reading(update, loaded)
    topic = next(x for x in await fact_store.topics(svc.db, loaded.id) if x.key == key)
    found = await fact_store.facts_for_topic(svc.db, loaded.id, key, data)
    title = visit_header(svc, loaded, lang) + t(lang, "facts.topic_title", topic=topic.name(data))
    if not found:
        await reply(update, context, Html(f"{title}\n\n{t(lang, 'facts.topic_empty')}"))
        return
    await reply(update, context, bullet_list(Html(title), fact_lines(found, lang)))


async def topic_keyboard(svc: Services, loaded: LoadedVisit, lang: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(topic.name(lang), callback_data=f"{BUTTON_PREFIX}{topic.key}")
        for topic in await fact_store.topics(svc.db, loaded.id)
    ]
    return InlineKeyboardMarkup(keyboard_rows(buttons))

"""Inline mode: typing `@bot words` in any chat offers matching facts, with sources, to share.

The facts are the same as /facts finds (a topic name, else a folded full-text search across all
three languages) and are written in the language of the person typing, because they are the
one choosing what to send. Answers are personal and cached briefly: the language differs per
user, and admins may add facts at any time.

Telegram only sends inline queries once inline mode is switched on for the bot with
@BotFather (/setinline).
"""

from __future__ import annotations

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.i18n import Html, escape, t
from bot.render import link, truncate
from bot.services import Services, services
from storage import facts as fact_store
from storage.facts import FactView

MAX_RESULTS = 20  # Telegram allows 50; more than a screenful is not read
CACHE_SECONDS = 30
TITLE_LIMIT = 90
DESCRIPTION_LIMIT = 120
TEXT_LIMIT = 3000  # the shared message stays well under 4,096 with its source line
START_PARAMETER = "facts"  # the button above the results opens the bot at /facts


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer `@bot query` with matching facts; an empty query offers one fact per topic."""
    query = update.inline_query
    if query is None:
        return
    svc = services(context)
    lang = await svc.language(update)
    # Inline queries come from any chat: the user's own current visit is what they share from.
    visit_id = (await svc.current_visit(query.from_user.id)).id
    found = await matching_facts(svc, visit_id, query.query, lang)
    names = {topic.key: topic.name(lang) for topic in await fact_store.topics(svc.db, visit_id)}
    results = [article(fact, names.get(fact.topic, fact.topic), lang) for fact in found]
    await query.answer(
        results,
        cache_time=CACHE_SECONDS,
        is_personal=True,
        button=InlineQueryResultsButton(
            text=t(lang, "inline.button"), start_parameter=START_PARAMETER
        ),
    )


async def matching_facts(svc: Services, visit_id: int, text: str, lang: str) -> list[FactView]:
    """A topic's facts when `text` names one, else a search; one per topic when empty."""
    text = text.strip()
    if not text:
        first: dict[str, FactView] = {}
        for topic in await fact_store.topics(svc.db, visit_id):
            facts = await fact_store.facts_for_topic(svc.db, visit_id, topic.key, lang)
            if facts:
                first[topic.key] = facts[0]
        return list(first.values())[:MAX_RESULTS]
    named = await fact_store.find_topic(svc.db, visit_id, text)
    if named is not None:
        facts = await fact_store.facts_for_topic(svc.db, visit_id, named.key, lang)
        return facts[:MAX_RESULTS]
    return await fact_store.search_facts(svc.db, visit_id, text, lang, limit=MAX_RESULTS)


def article(fact: FactView, topic: str, lang: str) -> InlineQueryResultArticle:
    """One fact as a shareable result: the fact and its source link, as Telegram HTML."""
    return InlineQueryResultArticle(
        id=f"fact-{fact.id}",
        title=truncate(fact.text, TITLE_LIMIT),
        description=truncate(
            " · ".join(part for part in (topic, fact.source_title) if part), DESCRIPTION_LIMIT
        ),
        input_message_content=InputTextMessageContent(
            shared_text(fact, lang),
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )


def shared_text(fact: FactView, lang: str) -> Html:
    """The message the chat receives: the fact, then its source (a link when it has a URL)."""
    text = truncate(fact.text, TEXT_LIMIT)
    if not fact.source_title:
        return escape(text)
    return t(
        lang,
        "inline.fact",
        text=text,
        source=link(fact.source_url, truncate(fact.source_title, 200)),
    )

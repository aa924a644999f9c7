"""/addfact and /delfact: admins add sourced facts to a topic, and remove their own.

Facts from the visit file are not deleted here: the file is their source of truth and would bring
them back on the next change, so /delfact explains that instead of pretending.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    admin_only,
    admin_visit,
    args_text,
    context_lang,
    reply,
    show_error,
)
from bot.i18n import Html, t
from bot.render import truncate
from bot.validation import ValidationError, parse_fact_line, parse_id
from storage.facts import add_fact, admin_facts, delete_fact, topics


@admin_only
async def addfact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/addfact topic | text | source` where source is a title, a URL, or a title and a URL."""
    svc, lang = await context_lang(update, context)
    loaded = await admin_visit(update, svc)
    known = {tp.key: list(tp.names.values()) for tp in await topics(svc.db, loaded.id)}
    text = args_text(update)
    if not text:
        await reply(update, context, t(lang, "facts_admin.usage", topics=", ".join(known)))
        return
    try:
        draft = parse_fact_line(text, known)
    except ValidationError as error:
        await show_error(update, context, error)
        return
    fact_id = await add_fact(
        svc.db,
        await acting(update, svc),
        topic=draft.topic,
        text=draft.text,
        source_title=draft.source_title,
        source_url=draft.source_url,
    )
    await reply(
        update,
        context,
        t(lang, "facts_admin.added", id=fact_id, topic=draft.topic, text=draft.text),
    )


@admin_only
async def delfact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/delfact ID`; alone, lists the facts admins added with their IDs."""
    svc, lang = await context_lang(update, context)
    text = args_text(update)
    if not text:
        rows = await admin_facts(svc.db, (await admin_visit(update, svc)).id)
        if not rows:
            await reply(update, context, t(lang, "facts_admin.none"))
            return
        lines = [t(lang, "facts_admin.list_title")]
        lines += [
            t(
                lang,
                "facts_admin.list_item",
                id=r.id,
                topic=r.topic,
                text=truncate(r.text, 120),
            )
            for r in rows
        ]
        await reply(update, context, Html("\n".join(lines)))
        return
    try:
        fact_id = parse_id(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return
    result = await delete_fact(svc.db, await acting(update, svc), fact_id)
    if result is None:
        await reply(update, context, t(lang, "facts_admin.not_found", id=fact_id))
    elif result == "bundled":
        await reply(update, context, t(lang, "facts_admin.bundled", id=fact_id))
    else:
        await reply(
            update,
            context,
            t(lang, "facts_admin.deleted", id=fact_id, text=truncate(str(result["text"]), 120)),
        )

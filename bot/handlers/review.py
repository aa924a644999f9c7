"""The review queue: stories the feeds classify as signed agreements, for admins to decide
(and, after them, the programme proposals of `bot.handlers.programme_review`).

The polling job calls `notify_admins_of_story` for each new pending story; every admin gets a card
with Confirm, Dismiss and Edit. Decisions are race-safe in `storage.review.decide_story`: when
two admins press Confirm together, one entry is created and the other admin is told it was
already decided. `/review` shows the cards of everything still pending.
"""

from __future__ import annotations

from dataclasses import replace

import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers import programme_review
from bot.handlers.common import (
    acting,
    admin_header,
    admin_only,
    admin_step,
    admin_visit,
    clear_buttons,
    context_lang,
    reply,
    wake_delivery,
)
from bot.i18n import Html, t
from bot.notify import notify_admins
from bot.render import link
from bot.services import Services
from storage.agreements import Saved
from storage.review import (
    Decision,
    ReviewStory,
    decide_story,
    pending_story_ids,
    review_story,
    story_fields,
)

BUTTON_PATTERN = r"^rv:[cde]:\d+$"
REVIEW_LIMIT = 10


def story_card(lang: str, svc: Services, view: ReviewStory) -> Html:
    """Title, sectors, parties, day and sources of one story, every value escaped; named with
    its visit when the bot follows several."""
    loaded = svc.visits.get(view.visit_id) or svc.default_visit
    visit = loaded.visit
    sectors = [s.name.get(lang) for k in view.sectors if (s := visit.sector(k))]
    names = {a.key: a.name.get(lang) for a in (*visit.anchors, *visit.leaders)}
    lines = [
        admin_header(svc, loaded, lang).rstrip("\n"),
        t(lang, "review.card_title", id=view.id, title=view.title),
        t(
            lang,
            "review.card_details",
            sectors=", ".join(sectors) or "—",
            parties=", ".join(names.get(p, p) for p in view.parties) or "—",
            day=view.day or "—",
        ),
    ]
    for title, url in view.sources:
        lines.append(t(lang, "review.card_source", source=link(url, title or url)))
    return Html("\n".join(line for line in lines if line))


def review_keyboard(lang: str, story_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "review.confirm"), callback_data=f"rv:c:{story_id}"),
                InlineKeyboardButton(t(lang, "review.dismiss"), callback_data=f"rv:d:{story_id}"),
                InlineKeyboardButton(t(lang, "review.edit"), callback_data=f"rv:e:{story_id}"),
            ]
        ]
    )


async def notify_admins_of_story(bot: telegram.Bot, svc: Services, story_id: int) -> None:
    """Send a new pending agreement story to every admin with decision buttons.

    Called by the polling job after it stored the story. An admin who never started the bot
    cannot be written to; that must not stop the others from being told.
    """
    view = await review_story(svc.db, None, story_id)
    if view is None or view.review != "pending":
        return
    await notify_admins(
        bot,
        svc,
        lambda lang: Html(t(lang, "review.new") + "\n" + story_card(lang, svc, view)),
        keyboard=lambda lang: review_keyboard(lang, story_id),
        what="the review card",
    )


@admin_only
async def review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/review: a card with buttons for each pending story, oldest first."""
    svc, lang = await context_lang(update, context)
    loaded = await admin_visit(update, svc)
    ids = await pending_story_ids(svc.db, loaded.id)
    if ids:
        shown = min(len(ids), REVIEW_LIMIT)
        await reply(update, context, t(lang, "review.title", count=len(ids), shown=shown))
    for story_id in ids[:REVIEW_LIMIT]:
        view = await review_story(svc.db, loaded.id, story_id)
        if view is not None:
            await reply(
                update,
                context,
                story_card(lang, svc, view),
                keyboard=review_keyboard(lang, story_id),
            )
    proposals = await programme_review.send_pending(update, context, svc, lang, loaded.id)
    if not ids and not proposals:
        await reply(update, context, t(lang, "review.empty"))


@admin_step
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Confirm (create the entry), Dismiss (never show again) or Edit (a prefilled command)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc, lang = await context_lang(update, context)
    await query.answer()
    _prefix, action, raw_id = query.data.split(":")
    story_id = int(raw_id)
    if action == "e":
        await _edit(update, context, story_id)
        return
    decision: Decision = "confirmed" if action == "c" else "dismissed"
    # The card is about one story of one visit: the decision is made there, whichever visit
    # the admin is looking at now.
    story = await review_story(svc.db, None, story_id)
    loaded = svc.visits.get(story.visit_id) if story else None
    if story is None or loaded is None:
        await clear_buttons(query)
        await reply(update, context, t(lang, "review.gone", id=story_id))
        return
    actor = replace(await acting(update, svc), visit_id=loaded.id)
    result = await decide_story(svc.db, actor, loaded.visit, story_id, decision)
    if isinstance(result, Saved):
        wake_delivery()
        await clear_buttons(query)
        await reply(
            update, context, t(lang, "review.confirmed", id=story_id, agreement=result.agreement_id)
        )
    elif result is True:
        await clear_buttons(query)
        await reply(update, context, t(lang, "review.dismissed", id=story_id))
    else:
        await clear_buttons(query)
        view = await review_story(svc.db, loaded.id, story_id)
        if view is None:
            await reply(update, context, t(lang, "review.gone", id=story_id))
            return
        await reply(
            update,
            context,
            t(
                lang,
                "review.already",
                id=story_id,
                review=t(lang, f"review.state.{view.review}"),
                by=view.reviewed_by or "—",
            ),
        )


async def _edit(update: Update, context: ContextTypes.DEFAULT_TYPE, story_id: int) -> None:
    """A ready-to-send /addagreement with the story's details; saving it links the story."""
    svc, lang = await context_lang(update, context)
    view = await review_story(svc.db, None, story_id)
    loaded = svc.visits.get(view.visit_id) if view else None
    if view is None or loaded is None or view.review != "pending":
        await reply(update, context, t(lang, "review.gone", id=story_id))
        return
    fields = story_fields(view, loaded.visit)
    parts = [fields.title, fields.sector, fields.signed_on or "", fields.parties]
    parts = [p.replace("|", "/") for p in parts] + [fields.source_url or ""]
    command = "/addagreement " + " | ".join(parts)
    hint = t(lang, "review.edit_hint", id=story_id, command=command)
    if (await admin_visit(update, svc)).id != loaded.id:  # /addagreement saves to the current
        hint = Html(t(lang, "review.edit_switch", slug=loaded.slug) + "\n" + hint)
    await reply(update, context, hint)

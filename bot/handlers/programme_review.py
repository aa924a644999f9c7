"""Programme proposals: what the feeds say moved, was cancelled or is new, for admins to decide.

The polling job calls `notify_admins_of_proposal` for each new proposal; every admin gets a card
(next to the signing cards of `/review`) with the change and its sources:

* not on the programme yet: "Add to agenda" (the story's day, its time when it gives one, its
  headline as the title), "Edit" (a prefilled `/addagenda #story …` to correct first), Dismiss;
* moved: "Apply" (when the story gives the new day), Dismiss;
* cancelled: "Withdraw", Dismiss;
* reported done, about an item an admin added or edited (the feeds do not mark those):
  "Mark done", Dismiss.

Decisions are race-safe in `storage.programme.decide_proposal`, and rights are checked when a
button is pressed. The confirmation's agenda alert spares the chats the Reported alert reached.
"""

from __future__ import annotations

from dataclasses import replace

import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    actor_id,
    admin_header,
    admin_step,
    clear_buttons,
    context_lang,
    reply,
    show_error,
    typed_time,
    wake_delivery,
)
from bot.i18n import Html, t
from bot.notify import notify_admins
from bot.render import link
from bot.services import Services, services
from bot.validation import ValidationError, parse_agenda_line
from storage.programme import (
    Applied,
    Decision,
    NewItemFields,
    Proposal,
    decide_proposal,
    pending_proposals,
    proposal,
    proposed_start,
)
from storage.visit import LoadedVisit

BUTTON_PATTERN = r"^pg:[cde]:\d+$"
REVIEW_LIMIT = 10


def proposal_card(lang: str, svc: Services, view: Proposal) -> Html:
    """The change the story proposes, in the visit's time zone, with its sources."""
    loaded = svc.visits.get(view.visit_id) or svc.default_visit
    tz = loaded.visit.timezone
    lines = [admin_header(svc, loaded, lang).rstrip("\n")]
    item = view.item
    if view.effect != "new" and item is None:
        lines.append(t(lang, "programme.card.gone"))
    elif view.effect == "new" or item is None:
        starts_at, known = proposed_start(view, tz)
        when = typed_time(starts_at, known, tz)
        lines.append(t(lang, "programme.card.new", title=view.title, when=when))
    elif view.effect == "moved":
        old = typed_time(item.starts_at, item.time_known, tz)
        if view.proposed_day is None:
            lines.append(
                t(
                    lang,
                    "programme.card.moved_unknown",
                    item=item.id,
                    title=item.title(lang),
                    old=old,
                )
            )
        else:
            starts_at, known = proposed_start(view, tz)
            lines.append(
                t(
                    lang,
                    "programme.card.moved",
                    item=item.id,
                    title=item.title(lang),
                    old=old,
                    new=typed_time(starts_at, known, tz),
                )
            )
    else:
        when = typed_time(item.starts_at, item.time_known, tz)
        key = "programme.card.cancelled" if view.effect == "cancelled" else "programme.card.done"
        lines.append(t(lang, key, item=item.id, title=item.title(lang), when=when))
    lines.append(t(lang, "programme.card.story", id=view.story_id, headline=view.title))
    for title, url in view.sources:
        lines.append(t(lang, "review.card_source", source=link(url, title or url)))
    return Html("\n".join(line for line in lines if line))


def proposal_keyboard(lang: str, view: Proposal) -> InlineKeyboardMarkup:
    story_id = view.story_id
    dismiss = InlineKeyboardButton(t(lang, "review.dismiss"), callback_data=f"pg:d:{story_id}")
    confirm = f"pg:c:{story_id}"
    if view.effect == "new":
        row = [
            InlineKeyboardButton(t(lang, "programme.add"), callback_data=confirm),
            dismiss,
            InlineKeyboardButton(t(lang, "review.edit"), callback_data=f"pg:e:{story_id}"),
        ]
    elif view.effect == "moved" and view.proposed_day is not None:
        row = [InlineKeyboardButton(t(lang, "programme.apply"), callback_data=confirm), dismiss]
    elif view.item is None:
        row = [dismiss]  # its item was withdrawn meanwhile
    elif view.effect == "cancelled":
        row = [InlineKeyboardButton(t(lang, "programme.withdraw"), callback_data=confirm), dismiss]
    elif view.effect in ("done", "underway"):
        row = [InlineKeyboardButton(t(lang, "programme.mark_done"), callback_data=confirm), dismiss]
    else:
        row = [dismiss]
    return InlineKeyboardMarkup([row])


async def notify_admins_of_proposal(bot: telegram.Bot, svc: Services, story_id: int) -> None:
    """Send a new programme proposal to every admin with decision buttons."""
    view = await proposal(svc.db, None, story_id)
    if view is None or view.review != "pending":
        return
    await notify_admins(
        bot,
        svc,
        lambda lang: Html(t(lang, "programme.new") + "\n" + proposal_card(lang, svc, view)),
        keyboard=lambda lang: proposal_keyboard(lang, view),
        what="the programme proposal",
    )


async def send_pending(
    update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, lang: str, visit_id: int
) -> int:
    """The pending proposals' cards, oldest first (for /review); how many are pending."""
    ids = await pending_proposals(svc.db, visit_id)
    if not ids:
        return 0
    shown = min(len(ids), REVIEW_LIMIT)
    await reply(update, context, t(lang, "programme.review_title", count=len(ids), shown=shown))
    for story_id in ids[:REVIEW_LIMIT]:
        view = await proposal(svc.db, visit_id, story_id)
        if view is not None:
            await reply(
                update,
                context,
                proposal_card(lang, svc, view),
                keyboard=proposal_keyboard(lang, view),
            )
    return len(ids)


@admin_step
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Confirm (add, apply, withdraw), Dismiss, or Edit (a prefilled /addagenda)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc, lang = await context_lang(update, context)
    await query.answer()
    _prefix, action, raw_id = query.data.split(":")
    story_id = int(raw_id)
    view, loaded = await _pending(svc, story_id)
    if view is None or loaded is None or view.review != "pending":
        await clear_buttons(query)
        await _already(update, context, lang, view, story_id)
        return
    if action == "e":
        await reply(update, context, edit_hint(lang, svc, view))
        return
    await clear_buttons(query)
    await _decide(
        update, context, lang, view, loaded, "confirmed" if action == "c" else "dismissed"
    )


def applied_text(lang: str, story_id: int, result: Applied) -> Html:
    if result.effect == "new":
        return t(lang, "programme.added", id=story_id, item=result.item_id)
    if result.effect == "moved":
        return t(lang, "programme.applied", id=story_id, item=result.item_id)
    if result.effect in ("done", "underway"):
        return t(lang, "programme.marked", id=story_id, item=result.item_id)
    return t(lang, "programme.withdrawn", id=story_id)


def edit_hint(lang: str, svc: Services, view: Proposal) -> Html:
    """A ready-to-send `/addagenda #story when | title | place`; saving it confirms."""
    loaded = svc.visits.get(view.visit_id) or svc.default_visit
    tz = loaded.visit.timezone
    starts_at, known = proposed_start(view, tz)
    local = starts_at.astimezone(tz)
    when = f"{local:%Y-%m-%d %H:%M}" if known else f"{local:%Y-%m-%d}"
    title = view.title.replace("|", "/")
    command = f"/addagenda #{view.story_id} {when} | {title} | "
    return t(lang, "programme.edit_hint", id=view.story_id, command=command)


async def add_from_story(
    update: Update, context: ContextTypes.DEFAULT_TYPE, story_id: int, line: str
) -> None:
    """`/addagenda #story when | title | place`: add the proposed item as the admin corrected
    it, the time read in the proposal's visit's zone."""
    svc, lang = await context_lang(update, context)
    view, loaded = await _pending(svc, story_id)
    tz = (loaded or await svc.current_visit(actor_id(update))).visit.timezone
    try:
        draft = parse_agenda_line(line, tz)
    except ValidationError as error:
        await show_error(update, context, error)
        return
    if view is None or loaded is None or view.review != "pending":
        await _already(update, context, lang, view, story_id)
        return
    if view.effect != "new":
        await reply(update, context, t(lang, "programme.not_new", id=story_id))
        return
    fields = NewItemFields(draft.starts_at, draft.time_known, draft.title, draft.place)
    await _decide(update, context, lang, view, loaded, "confirmed", fields)


async def _pending(svc: Services, story_id: int) -> tuple[Proposal | None, LoadedVisit | None]:
    """The proposal, of whichever visit, and that visit."""
    view = await proposal(svc.db, None, story_id)
    return view, svc.visits.get(view.visit_id) if view else None


async def _decide(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    lang: str,
    view: Proposal,
    loaded: LoadedVisit,
    decision: Decision,
    fields: NewItemFields | None = None,
) -> None:
    """Decide in the proposal's own visit, whatever the admin looks at now, and say so."""
    svc = services(context)
    actor = replace(await acting(update, svc), visit_id=loaded.id)
    story_id = view.story_id
    result = await decide_proposal(svc.db, actor, story_id, decision, loaded.visit.timezone, fields)
    if isinstance(result, Applied):
        wake_delivery()
        await reply(update, context, applied_text(lang, story_id, result))
    elif result is True:
        await reply(update, context, t(lang, "review.dismissed", id=story_id))
    else:
        await _already(update, context, lang, await proposal(svc.db, None, story_id), story_id)


async def _already(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    lang: str,
    view: Proposal | None,
    story_id: int,
) -> None:
    if view is None or view.review in ("pending", "none"):
        await reply(update, context, t(lang, "review.gone", id=story_id))
        return
    state = t(lang, f"review.state.{view.review}")
    by = view.reviewed_by or "—"
    await reply(update, context, t(lang, "review.already", id=story_id, review=state, by=by))

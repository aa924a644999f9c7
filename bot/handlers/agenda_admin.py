"""/addagenda, /editagenda and /delagenda: admins keep the programme current.

Times are typed in the visit's time zone (that is how programmes are published) and stored in
UTC. Each change raises an agenda alert in the same transaction (see `storage.agenda`).
"""

from __future__ import annotations

import json
import re

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers import programme_review
from bot.handlers.common import (
    acting,
    admin_header,
    admin_only,
    args_text,
    context_lang,
    id_argument,
    reply,
    show_error,
    typed_time,
    wake_delivery,
)
from bot.i18n import t
from bot.validation import (
    ValidationError,
    parse_agenda_line,
    parse_id,
    parse_local_time,
    parse_place,
    parse_title,
)
from storage.agenda import add_agenda_item, delete_agenda_item, edit_agenda_item
from storage.db import from_db_time
from storage.programme import set_status


@admin_only
async def addagenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/addagenda YYYY-MM-DD HH:MM | title | place` (a date alone: the hour is not public)."""
    svc, lang = await context_lang(update, context)
    actor = await acting(update, svc)
    loaded = svc.visits.get(actor.visit_id) or svc.default_visit
    tz = loaded.visit.timezone
    text = args_text(update)
    if not text:
        await reply(update, context, t(lang, "agenda_admin.usage", tz=str(tz)))
        return
    story, text = _story_reference(text)
    if story is not None:  # "/addagenda #12 …": the corrected item a programme proposal adds
        await programme_review.add_from_story(update, context, story, text)
        return
    try:
        draft = parse_agenda_line(text, tz)
    except ValidationError as error:
        await show_error(update, context, error)
        return
    item_id = await add_agenda_item(
        svc.db,
        actor,
        starts_at=draft.starts_at,
        time_known=draft.time_known,
        title=draft.title,
        place=draft.place,
    )
    wake_delivery()
    await reply(
        update,
        context,
        admin_header(svc, loaded, lang)
        + t(
            lang,
            "agenda_admin.added",
            id=item_id,
            title=draft.title,
            place=draft.place or "—",
            when=typed_time(draft.starts_at, draft.time_known, tz),
        ),
    )


_STORY = re.compile(r"^#(\d{1,12})\s+")


def _story_reference(text: str) -> tuple[int | None, str]:
    """A leading `#story` (from a proposal's Edit) and the rest of the line."""
    found = _STORY.match(text)
    return (int(found.group(1)), text[found.end() :]) if found else (None, text)


@admin_only
async def editagenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/editagenda ID time=YYYY-MM-DD HH:MM`, `title=…` or `place=…`; subscribers are told."""
    svc, lang = await context_lang(update, context)
    actor = await acting(update, svc)
    loaded = svc.visits.get(actor.visit_id) or svc.default_visit
    tz = loaded.visit.timezone
    head, _, rest = args_text(update).partition(" ")
    name, _, value = rest.partition("=")
    name, value = name.strip().lower(), value.strip()
    try:
        if not head or name not in ("time", "title", "place", "status"):
            raise ValidationError("agenda_admin.edit_usage")
        item_id = parse_id(head)
        if name == "status":
            await _set_status(update, context, item_id, value)
            return
        if name == "time":
            starts_at, known = parse_local_time(value, tz)
            changed = await edit_agenda_item(
                svc.db,
                actor,
                item_id,
                starts_at=starts_at,
                time_known=known,
            )
        elif name == "title":
            changed = await edit_agenda_item(
                svc.db,
                actor,
                item_id,
                title=parse_title(value),
            )
        else:
            changed = await edit_agenda_item(
                svc.db,
                actor,
                item_id,
                place=parse_place(value),
            )
    except ValidationError as error:
        await show_error(update, context, error)
        return
    if changed is None:
        await reply(update, context, t(lang, "agenda_admin.not_found", id=item_id))
        return
    wake_delivery()
    when = typed_time(from_db_time(changed["starts_at"]), bool(changed["time_known"]), tz)
    text = admin_header(svc, loaded, lang) + t(lang, "agenda_admin.edited", id=item_id, when=when)
    await reply(update, context, text)


STATUSES = ("scheduled", "underway", "done")


async def _set_status(
    update: Update, context: ContextTypes.DEFAULT_TYPE, item_id: int, value: str
) -> None:
    """`status=done|underway|scheduled`: confirm or undo what the news reported; the feeds
    leave the item alone afterwards. /agenda shows it; nobody is alerted."""
    svc, lang = await context_lang(update, context)
    actor = await acting(update, svc)
    status = value.strip().lower()
    if status not in STATUSES:
        raise ValidationError("agenda_admin.edit_usage")
    if not await set_status(svc.db, actor, item_id, status):  # type: ignore[arg-type]
        await reply(update, context, t(lang, "agenda_admin.not_found", id=item_id))
        return
    loaded = svc.visits.get(actor.visit_id) or svc.default_visit
    text = admin_header(svc, loaded, lang) + t(
        lang, "agenda_admin.status_set", id=item_id, status=t(lang, f"agenda_admin.status.{status}")
    )
    await reply(update, context, text)


@admin_only
async def delagenda(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/delagenda ID`: the item disappears from /agenda and subscribers hear it was dropped."""
    svc, lang = await context_lang(update, context)
    item_id = await id_argument(update, context, "agenda_admin.del_usage")
    if item_id is None:
        return
    before = await delete_agenda_item(svc.db, await acting(update, svc), item_id)
    if before is None:
        await reply(update, context, t(lang, "agenda_admin.not_found", id=item_id))
        return
    wake_delivery()
    title = json.loads(before["title"]).get("en", "")
    await reply(update, context, t(lang, "agenda_admin.deleted", id=item_id, title=title))

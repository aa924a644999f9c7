"""/admins, /addadmin, /deladmin (owners) and /audit (admins)."""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.common import (
    acting,
    admin_only,
    admin_visit,
    args_text,
    context_lang,
    id_argument,
    owner_only,
    reply,
    show_error,
)
from bot.i18n import Html, t
from bot.menus import publish_admin_menu
from bot.render import format_time, truncate
from bot.validation import ValidationError, parse_id
from storage.admins import add_admin, list_admins, remove_admin
from storage.audit import latest_audit

log = logging.getLogger(__name__)

AUDIT_DEFAULT = 15
AUDIT_MAX = 50
AUDIT_VALUE_CHARS = 160


# --- admins ----------------------------------------------------------------------------------


@owner_only
async def admins(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Owners see who can curate: owners come from ADMIN_IDS, admins from the database."""
    svc, lang = await context_lang(update, context)
    tz = (await admin_visit(update, svc)).visit.timezone
    lines = [t(lang, "admin.list_title")]
    for owner in sorted(svc.settings.admin_ids):
        lines.append(t(lang, "admin.list_owner", user_id=owner))
    rows = await list_admins(svc.db)
    for row in rows:
        lines.append(
            t(
                lang,
                "admin.list_admin",
                user_id=row.user_id,
                added_by=row.added_by or "—",
                at=format_time(row.added_at, tz, lang),
            )
        )
    if not rows:
        lines.append(t(lang, "admin.list_none"))
    await reply(update, context, Html("\n".join(lines)))


@owner_only
async def addadmin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Add an admin by numeric Telegram id and give them the admin command menu at once."""
    svc, lang = await context_lang(update, context)
    user_id = await id_argument(update, context, "admin.add_usage")
    if user_id is None:
        return
    if svc.is_owner(user_id):
        await reply(update, context, t(lang, "admin.already_owner", user_id=user_id))
        return
    added = await add_admin(svc.db, await acting(update, svc), user_id)
    if not added:
        await reply(update, context, t(lang, "admin.already_admin", user_id=user_id))
        return
    await publish_admin_menu(context.application, svc, user_id)
    await reply(update, context, t(lang, "admin.added", user_id=user_id))


@owner_only
async def deladmin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Remove an admin and take the admin commands out of their menu."""
    svc, lang = await context_lang(update, context)
    user_id = await id_argument(update, context, "admin.del_usage")
    if user_id is None:
        return
    if svc.is_owner(user_id):
        await reply(update, context, t(lang, "admin.cannot_remove_owner", user_id=user_id))
        return
    removed = await remove_admin(svc.db, await acting(update, svc), user_id)
    if not removed:
        await reply(update, context, t(lang, "admin.not_admin", user_id=user_id))
        return
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        log.warning("could not reset the command menu of %s: %s", user_id, exc)
    await reply(update, context, t(lang, "admin.removed", user_id=user_id))


# --- audit -----------------------------------------------------------------------------------


def _short_json(value: Any) -> str:
    if value is None:
        return "—"
    return truncate(json.dumps(value, ensure_ascii=False, sort_keys=True), AUDIT_VALUE_CHARS)


@admin_only
async def audit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The latest admin actions, newest first: `/audit` or `/audit 40`."""
    svc, lang = await context_lang(update, context)
    text = args_text(update)
    limit = AUDIT_DEFAULT
    if text:
        try:
            limit = min(parse_id(text), AUDIT_MAX)
        except ValidationError as error:
            await show_error(update, context, error)
            return
    tz = (await admin_visit(update, svc)).visit.timezone
    entries = await latest_audit(svc.db, limit)
    if not entries:
        await reply(update, context, t(lang, "audit.empty"))
        return
    lines = [t(lang, "audit.title", count=len(entries))]
    for entry in entries:
        lines.append(
            t(
                lang,
                "audit.item",
                id=entry.id,
                at=format_time(entry.at, tz, lang),
                actor=entry.actor_id if entry.actor_id is not None else "—",
                action=entry.action,
                target=entry.target or "—",
            )
        )
        if entry.before is not None or entry.after is not None:
            lines.append(
                t(
                    lang,
                    "audit.change",
                    before=_short_json(entry.before),
                    after=_short_json(entry.after),
                )
            )
    await reply(update, context, Html("\n".join(lines)))

"""/addagreement (one line, or a guided conversation), /editagreement and /delagreement.

Both forms of /addagreement end in the same `save_draft`, so validation, the similar-title check,
linking to a reported story, the audit record and the alert behave identically. Drafts waiting
for a "save anyway" or a correction decision live in `user_data` under a short token: the button
carries the token, never the text, because callback data is limited to 64 bytes.

Every step and every button re-checks admin rights when pressed (`admin_step`): a Save pressed
after /deladmin writes nothing and alerts nobody. The guided form ends after
`conversation_timeout()` seconds of silence and tells the admin.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.alert_render import field_name
from bot.handlers.common import (
    acting,
    admin_drafts,
    admin_header,
    admin_only,
    admin_step,
    admin_visit,
    args_text,
    context_lang,
    conversation_timeout,
    id_argument,
    keyboard_rows,
    reply,
    show_error,
    wake_delivery,
)
from bot.i18n import Html, t
from bot.render import link
from bot.services import Services, services
from bot.validation import (
    SIMILAR_THRESHOLD,
    AgreementDraft,
    ValidationError,
    parse_agreement_edit,
    parse_agreement_line,
    parse_optional_date,
    parse_optional_url,
    parse_parties,
    parse_sector,
    parse_title,
    similar_titles,
    similarity,
)
from storage.agreements import (
    AgreementFields,
    delete_agreement,
    edit_agreement,
    list_agreements,
    save_agreement,
    send_correction,
    source_label,
)
from storage.review import open_agreement_stories
from storage.visit import Visit

DRAFTS = "agreement_drafts"
GUIDED = "agreement_guided"
CORRECTIONS = "agreement_corrections"
BUTTON_PATTERN = r"^agr:"
STALE_GUIDED_PATTERN = r"^agrg:"  # a guided form's button pressed after the form ended
TITLE, SECTOR, DATE, PARTIES, SOURCE, CONFIRM = range(6)
admin_drafts(DRAFTS, GUIDED, CORRECTIONS)


def sector_names(visit: Visit) -> dict[str, list[str]]:
    return {s.key: list(s.name.values.values()) for s in visit.sectors}


def draft_lines(lang: str, visit: Visit, draft: AgreementDraft) -> list[Html]:
    sector = visit.sector(draft.sector)
    return [
        t(lang, "agreement_admin.field.title", value=draft.title),
        t(lang, "agreement_admin.field.sector", value=sector.name.get(lang) if sector else "—"),
        t(lang, "agreement_admin.field.date", value=draft.signed_on or "—"),
        t(lang, "agreement_admin.field.parties", value=draft.parties or "—"),
        t(
            lang,
            "agreement_admin.field.source",
            value=link(draft.source_url, draft.source_url) if draft.source_url else "—",
        ),
    ]


async def similar_to(svc: Services, visit_id: int, title: str) -> list[tuple[int, str]]:
    entries = await list_agreements(svc.db, visit_id)
    return similar_titles(title, [(e.id, e.title) for e in entries])[:3]


def similar_lines(lang: str, similar: list[tuple[int, str]]) -> list[Html]:
    lines = [t(lang, "agreement_admin.similar")]
    lines += [t(lang, "agreement_admin.similar_item", id=i, title=title) for i, title in similar]
    return lines


async def save_draft(
    update: Update, context: ContextTypes.DEFAULT_TYPE, draft: AgreementDraft
) -> None:
    """Save as Confirmed, linked to a matching undecided story, and announce it."""
    svc, lang = await context_lang(update, context)
    actor = await acting(update, svc)
    loaded = svc.visits.get(actor.visit_id) or svc.default_visit
    story_id = None
    for candidate in await open_agreement_stories(svc.db, actor.visit_id):
        if (draft.source_url and draft.source_url in candidate.links) or similarity(
            draft.title, candidate.title
        ) >= SIMILAR_THRESHOLD:
            story_id = candidate.id
            break
    fields = AgreementFields(
        title=draft.title,
        sector=draft.sector,
        signed_on=draft.signed_on.isoformat() if draft.signed_on else None,
        parties=draft.parties,
        source_title=source_label(draft.source_url),
        source_url=draft.source_url,
    )
    saved = await save_agreement(svc.db, actor, fields, story_id=story_id)
    wake_delivery()
    lines = [t(lang, "agreement_admin.saved", id=saved.agreement_id)]
    if saved.story_id is not None:
        lines.append(t(lang, "agreement_admin.linked", story_id=saved.story_id))
    lines += draft_lines(lang, loaded.visit, draft)
    await reply(update, context, Html(admin_header(svc, loaded, lang) + "\n".join(lines)))


def _stash(context: ContextTypes.DEFAULT_TYPE, key: str, value: Any) -> str:
    store: dict[str, Any] = context.user_data.setdefault(key, {})  # type: ignore[union-attr]
    if len(store) > 20:
        store.pop(next(iter(store)))
    token = secrets.token_hex(4)
    store[token] = value
    return token


def _unstash(context: ContextTypes.DEFAULT_TYPE, key: str, token: str) -> Any:
    store = (context.user_data or {}).get(key, {})
    return store.pop(token, None)


# --- one line --------------------------------------------------------------------------------


@admin_only
async def addagreement(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Entry point: with arguments, the one-line form; alone, the guided conversation."""
    svc, lang = await context_lang(update, context)
    text = args_text(update)
    if not text:
        context.user_data[GUIDED] = {}  # type: ignore[index]
        await reply(update, context, t(lang, "agreement_admin.ask_title"))
        return TITLE
    loaded = await admin_visit(update, svc)
    try:
        draft = parse_agreement_line(text, sector_names(loaded.visit))
    except ValidationError as error:
        await show_error(update, context, error)
        return ConversationHandler.END
    similar = await similar_to(svc, loaded.id, draft.title)
    if similar:
        token = _stash(context, DRAFTS, draft)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t(lang, "agreement_admin.save_anyway"), callback_data=f"agr:save:{token}"
                    ),
                    InlineKeyboardButton(
                        t(lang, "agreement_admin.cancel_button"), callback_data=f"agr:drop:{token}"
                    ),
                ]
            ]
        )
        lines = similar_lines(lang, similar) + draft_lines(lang, loaded.visit, draft)
        await reply(update, context, Html("\n".join(lines)), keyboard=keyboard)
        return ConversationHandler.END
    await save_draft(update, context, draft)
    return ConversationHandler.END


# --- guided ----------------------------------------------------------------------------------


def _guided(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    data: dict[str, Any] = context.user_data.setdefault(GUIDED, {})  # type: ignore[union-attr]
    return data


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


def _sector_keyboard(lang: str, visit: Visit) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(s.name.get(lang), callback_data=f"agrg:sec:{s.key}")
        for s in visit.sectors
    ]
    rows = keyboard_rows(buttons, 2)
    rows.append(
        [InlineKeyboardButton(t(lang, "agreement_admin.no_sector"), callback_data="agrg:sec:")]
    )
    return InlineKeyboardMarkup(rows)


@admin_step
async def guided_title(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    svc, lang = await context_lang(update, context)
    try:
        _guided(context)["title"] = parse_title(_text(update))
    except ValidationError as error:
        await show_error(update, context, error)
        return TITLE
    visit = (await admin_visit(update, svc)).visit
    await reply(
        update,
        context,
        t(lang, "agreement_admin.ask_sector"),
        keyboard=_sector_keyboard(lang, visit),
    )
    return SECTOR


async def _after_sector(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str) -> int:
    svc, lang = await context_lang(update, context)
    _guided(context)["sector"] = key
    sector = (await admin_visit(update, svc)).visit.sector(key)
    await reply(
        update,
        context,
        t(lang, "agreement_admin.ask_date", sector=sector.name.get(lang) if sector else "—"),
    )
    return DATE


@admin_step
async def guided_sector_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    svc = services(context)
    key = query.data.removeprefix("agrg:sec:")
    if key and (await admin_visit(update, svc)).visit.sector(key) is None:
        return SECTOR
    return await _after_sector(update, context, key)


@admin_step
async def guided_sector_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    svc = services(context)
    try:
        key = parse_sector(_text(update), sector_names((await admin_visit(update, svc)).visit))
    except ValidationError as error:
        await show_error(update, context, error)
        return SECTOR
    return await _after_sector(update, context, key)


@admin_step
async def guided_date(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _svc, lang = await context_lang(update, context)
    text = "" if _is_skip(update) else _text(update)
    try:
        day = parse_optional_date(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return DATE
    _guided(context)["signed_on"] = day
    await reply(update, context, t(lang, "agreement_admin.ask_parties"))
    return PARTIES


@admin_step
async def guided_parties(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _svc, lang = await context_lang(update, context)
    text = "" if _is_skip(update) else _text(update)
    try:
        _guided(context)["parties"] = parse_parties(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return PARTIES
    await reply(update, context, t(lang, "agreement_admin.ask_source"))
    return SOURCE


@admin_step
async def guided_source(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    svc, lang = await context_lang(update, context)
    text = "" if _is_skip(update) else _text(update)
    try:
        url = parse_optional_url(text)
    except ValidationError as error:
        await show_error(update, context, error)
        return SOURCE
    data = _guided(context)
    data["source_url"] = url
    draft = AgreementDraft(
        title=data["title"],
        sector=data.get("sector", ""),
        signed_on=data.get("signed_on"),
        parties=data.get("parties", ""),
        source_url=url,
    )
    data["draft"] = draft
    loaded = await admin_visit(update, svc)
    lines = [admin_header(svc, loaded, lang) + t(lang, "agreement_admin.confirm_title")]
    similar = await similar_to(svc, loaded.id, draft.title)
    if similar:
        lines += similar_lines(lang, similar)
    lines += draft_lines(lang, loaded.visit, draft)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "agreement_admin.save_button"), callback_data="agrg:save"
                ),
                InlineKeyboardButton(
                    t(lang, "agreement_admin.cancel_button"), callback_data="agrg:cancel"
                ),
            ]
        ]
    )
    await reply(update, context, Html("\n".join(lines)), keyboard=keyboard)
    return CONFIRM


@admin_step
async def guided_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_reply_markup(None)
    data = (context.user_data or {}).pop(GUIDED, {})
    draft = data.get("draft")
    if query.data == "agrg:save" and isinstance(draft, AgreementDraft):
        await save_draft(update, context, draft)
    else:
        _svc, lang = await context_lang(update, context)
        await reply(update, context, t(lang, "agreement_admin.cancelled"))
    return ConversationHandler.END


@admin_step
async def guided_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/cancel at any step: forget the draft, save nothing."""
    _svc, lang = await context_lang(update, context)
    (context.user_data or {}).pop(GUIDED, None)
    await reply(update, context, t(lang, "agreement_admin.cancelled"))
    return ConversationHandler.END


@admin_step
async def guided_confirm_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    _svc, lang = await context_lang(update, context)
    await reply(update, context, t(lang, "agreement_admin.press_button"))
    return CONFIRM


async def guided_timed_out(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The form was left silent too long: forget the draft and say so (called by PTB's
    ConversationHandler with the last update of the conversation)."""
    _svc, lang = await context_lang(update, context)
    (context.user_data or {}).pop(GUIDED, None)
    minutes = max(1, round(conversation_timeout() / 60))
    await reply(update, context, t(lang, "agreement_admin.timed_out", minutes=minutes))


async def stale_guided_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Save or a sector pressed on a form that already ended (timed out, cancelled, refused)."""
    query = update.callback_query
    assert query is not None
    _svc, lang = await context_lang(update, context)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply(update, context, t(lang, "agreement_admin.expired"))


def _is_skip(update: Update) -> bool:
    return _text(update).strip().split("@")[0] == "/skip"


def conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """The guided /addagreement. Keyed per chat and user; /cancel works at every step, and
    `conversation_timeout()` seconds of silence end it (PTB's JobQueue runs the TIMEOUT state)."""
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # per_message=False is intended: the conversation is driven by messages, and its two
        # keyboards belong to the conversation, not to individual messages.
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("addagreement", addagreement)],
            states={
                TITLE: [MessageHandler(text, guided_title)],
                SECTOR: [
                    CallbackQueryHandler(guided_sector_button, pattern=r"^agrg:sec:"),
                    MessageHandler(text, guided_sector_text),
                ],
                DATE: [
                    CommandHandler("skip", guided_date),
                    MessageHandler(text, guided_date),
                ],
                PARTIES: [
                    CommandHandler("skip", guided_parties),
                    MessageHandler(text, guided_parties),
                ],
                SOURCE: [
                    CommandHandler("skip", guided_source),
                    MessageHandler(text, guided_source),
                ],
                CONFIRM: [
                    CallbackQueryHandler(guided_confirm, pattern=r"^agrg:(save|cancel)$"),
                    MessageHandler(text, guided_confirm_text),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, guided_timed_out)],
            },
            fallbacks=[CommandHandler("cancel", guided_cancel)],
            name="addagreement",
            allow_reentry=True,
            conversation_timeout=conversation_timeout(),
        )


# --- buttons: save anyway, correction --------------------------------------------------------


@admin_step
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Save anyway / Cancel after a similar-title warning; correction or not after an edit."""
    query = update.callback_query
    assert query is not None and query.data is not None
    svc, lang = await context_lang(update, context)
    await query.answer()
    _prefix, action, token = query.data.split(":", 2)
    await query.edit_message_reply_markup(None)
    if action in ("save", "drop"):
        draft = _unstash(context, DRAFTS, token)
        if not isinstance(draft, AgreementDraft):
            await reply(update, context, t(lang, "agreement_admin.expired"))
        elif action == "save":
            await save_draft(update, context, draft)
        else:
            await reply(update, context, t(lang, "agreement_admin.cancelled"))
        return
    pending = _unstash(context, CORRECTIONS, token)
    if not isinstance(pending, tuple):
        await reply(update, context, t(lang, "agreement_admin.expired"))
        return
    agreement_id, field, old, new = pending
    if action != "corr":
        await reply(update, context, t(lang, "agreement_admin.no_correction"))
        return
    alert_id = await send_correction(
        svc.db, await acting(update, svc), agreement_id, field, old, new
    )
    wake_delivery()
    key = "agreement_admin.correction_sent" if alert_id else "agreement_admin.not_found"
    await reply(update, context, t(lang, key, id=agreement_id))


# --- edit and delete -------------------------------------------------------------------------


@admin_only
async def editagreement(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/editagreement ID field=value`; a confirmed entry offers a correction alert."""
    svc, lang = await context_lang(update, context)
    try:
        edit = parse_agreement_edit(
            args_text(update), sector_names((await admin_visit(update, svc)).visit)
        )
    except ValidationError as error:
        await show_error(update, context, error)
        return
    result = await edit_agreement(
        svc.db, await acting(update, svc), edit.agreement_id, edit.field, edit.value
    )
    if result is None:
        await reply(update, context, t(lang, "agreement_admin.not_found", id=edit.agreement_id))
        return
    before, after = result
    old, new = before[edit.field], after[edit.field]
    text = t(
        lang,
        "agreement_admin.edited",
        id=edit.agreement_id,
        field=field_name(lang, edit.field),
        old=old if old not in (None, "") else "—",
        new=new if new not in (None, "") else "—",
    )
    if after["status"] != "confirmed" or old == new:
        await reply(update, context, text)
        return
    # The raw change, not a sentence: subscribers read the note in their own language.
    token = _stash(context, CORRECTIONS, (edit.agreement_id, edit.field, old, new))
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "agreement_admin.send_correction"), callback_data=f"agr:corr:{token}"
                ),
                InlineKeyboardButton(
                    t(lang, "agreement_admin.skip_correction"), callback_data=f"agr:nocorr:{token}"
                ),
            ]
        ]
    )
    await reply(
        update,
        context,
        Html(text + "\n" + t(lang, "agreement_admin.ask_correction")),
        keyboard=keyboard,
    )


@admin_only
async def delagreement(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/delagreement ID`; the audit log keeps the whole entry, so a mistake can be undone."""
    svc, lang = await context_lang(update, context)
    agreement_id = await id_argument(update, context, "agreement_admin.del_usage")
    if agreement_id is None:
        return
    before = await delete_agreement(svc.db, await acting(update, svc), agreement_id)
    if before is None:
        await reply(update, context, t(lang, "agreement_admin.not_found", id=agreement_id))
        return
    await reply(
        update, context, t(lang, "agreement_admin.deleted", id=agreement_id, title=before["title"])
    )

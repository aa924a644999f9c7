"""What the news did to the programme: items marked as reported, and proposals for admins.

The polling job writes here, in the transaction that stores the story (`record`): a report
marks its item under way or done "as reported" (never over what an admin set, never touching
time, title or place), and a story saying an item moved, was cancelled, or is not on the
programme yet becomes a *proposal* waiting in the review queue. Its alert (kind 'programme',
marked Reported) goes out at once; an admin's decision (`decide_proposal`) applies the change,
and its agenda alert spares the chats the Reported one reached, so nobody hears it twice, while
chats that turned feed-driven alerts off hear the confirmed change.

Race-safe like signings: only the transaction that moves a proposal out of 'pending' applies it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from storage.agenda import AgendaItem, agenda_item, insert_item, update_item, withdraw_item
from storage.alerts import create_alert
from storage.audit import Actor, AuditedTx, audited
from storage.db import Database, Reader, Tx, to_db_time
from storage.news import story_sources

Effect = Literal["announced", "underway", "done", "moved", "cancelled", "new"]
# Effects an admin decides; the others only mark, or record a source.
PROPOSED: frozenset[str] = frozenset({"moved", "cancelled", "new"})
_RANK = {"scheduled": 0, "underway": 1, "done": 2}
MAX_SOURCES = 5


@dataclass(frozen=True)
class ProgrammeEffect:
    """What one story does to the programme, as the polling job decided it."""

    effect: Effect
    item_id: int | None
    events: tuple[str, ...] = ()
    proposed_day: dt.date | None = None
    proposed_time: dt.time | None = None
    day_said: bool = False


async def story_for_item(
    tx: Tx, effect: ProgrammeEffect, visit_id: int, around: dt.date, days: int = 2
) -> int | None:
    """An earlier story saying the same of the same item, to merge a report into: the press
    reports an arrival in several outlets and languages, the programme hears it once.

    A move merges only with a move to the same day and time ("moved to the 26th" is other news
    than "moved to the 27th"); a proposal never merges into old news that a feed's first poll
    recorded without proposing it, so that the first fresh report still proposes.
    """
    assert effect.item_id is not None
    row = await tx.fetchone(
        "SELECT p.story_id FROM programme_news p JOIN stories s ON s.id = p.story_id"
        " WHERE p.visit_id = ? AND p.item_id = ? AND p.effect = ? AND s.day BETWEEN ? AND ?"
        " AND (p.effect NOT IN ('moved', 'cancelled') OR p.review != 'none')"
        " AND (p.effect != 'moved' OR (p.proposed_day IS ? AND p.proposed_time IS ?))"
        " ORDER BY p.story_id LIMIT 1",
        (
            visit_id,
            effect.item_id,
            effect.effect,
            (around - dt.timedelta(days=days)).isoformat(),
            (around + dt.timedelta(days=days)).isoformat(),
            _day(effect),
            _time(effect),
        ),
    )
    return None if row is None else int(row["story_id"])


def _day(effect: ProgrammeEffect) -> str | None:
    return effect.proposed_day.isoformat() if effect.proposed_day else None


def _time(effect: ProgrammeEffect) -> str | None:
    return effect.proposed_time.strftime("%H:%M") if effect.proposed_time else None


async def story_for_new(
    tx: Tx, effect: ProgrammeEffect, visit_id: int, lang: str, terms: frozenset[str]
) -> int | None:
    """An earlier proposal of an item not on the programme that this report repeats: of the
    same kinds on the same day, still pending, and either sharing a title word (the same
    language: "meets Kurtulmuş" is not "meets Özel") or in another language, whose words
    cannot be compared ("business forum on Tuesday", "salı günü iş forumu"). The admin's card
    lists every source, so a wrong merge in another language still shows both headlines."""
    if not effect.events or effect.proposed_day is None:
        return None
    rows = await tx.fetchall(
        "SELECT p.story_id, p.lang, s.title_terms FROM programme_news p"
        " JOIN stories s ON s.id = p.story_id WHERE p.visit_id = ? AND p.effect = 'new'"
        " AND p.review = 'pending' AND p.events = ? AND p.proposed_day = ?"
        " ORDER BY p.story_id",
        (visit_id, json.dumps(list(effect.events)), _day(effect)),
    )
    for row in rows:
        if row["lang"] != lang or terms & frozenset(json.loads(row["title_terms"])):
            return int(row["story_id"])
    return None


async def record(
    tx: Tx,
    visit_id: int,
    story_id: int,
    effect: ProgrammeEffect,
    now: dt.datetime,
    *,
    lang: str = "",
    review: bool = True,
) -> None:
    """Remember what the story does; proposals wait for review (unless `review` is False: old
    news of a feed's first poll is kept, never proposed)."""
    await tx.execute(
        "INSERT OR IGNORE INTO programme_news (story_id, visit_id, item_id, effect, events,"
        " proposed_day, proposed_time, day_said, review, lang, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            story_id,
            visit_id,
            effect.item_id,
            effect.effect,
            json.dumps(list(effect.events)),
            _day(effect),
            _time(effect),
            int(effect.day_said),
            "pending" if review and effect.effect in PROPOSED else "none",
            lang,
            to_db_time(now),
        ),
    )


Marked = Literal["marked", "curated", "unchanged"]


async def mark_item(
    tx: Tx, item_id: int, status: Literal["underway", "done"], story_id: int, now: dt.datetime
) -> Marked:
    """Mark an item as the story reports it, only forward (scheduled, under way, done).

    "marked": it changed; "unchanged": it was there already (or the item is gone);
    "curated": an admin added or edited the item, or set its status, so the feeds do not
    change it: the report is for an admin to confirm (`propose`)."""
    row = await tx.fetchone(
        "SELECT status, status_origin, origin, curated_at FROM agenda_items"
        " WHERE id = ? AND deleted_at IS NULL",
        (item_id,),
    )
    if row is None or _RANK[row["status"]] >= _RANK[status]:
        return "unchanged"
    if row["status_origin"] == "admin" or row["origin"] == "admin" or row["curated_at"]:
        return "curated"
    await tx.execute(
        "UPDATE agenda_items SET status = ?, status_origin = 'feeds', status_story_id = ?,"
        " status_at = ? WHERE id = ?",
        (status, story_id, to_db_time(now), item_id),
    )
    return "marked"


async def propose(tx: Tx, story_id: int) -> None:
    """A report about a curated item waits for an admin (see `mark_item`)."""
    await tx.execute(
        "UPDATE programme_news SET review = 'pending' WHERE story_id = ? AND review = 'none'",
        (story_id,),
    )


async def set_status(
    db: Database, actor: Actor, item_id: int, status: Literal["scheduled", "underway", "done"]
) -> bool:
    """An admin sets what /agenda says of an item (confirming or undoing a report); the feeds
    never change it afterwards. False when the item is not the actor's visit's."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT status, status_origin FROM agenda_items WHERE id = ? AND visit_id = ?"
            " AND deleted_at IS NULL",
            (item_id, actor.visit_id),
        )
        if row is None:
            return False
        await _set_status(tx, item_id, status, None, actor.now)
        await tx.log(
            "agenda.status",
            f"agenda:{item_id}",
            before={"status": row["status"], "status_origin": row["status_origin"]},
            after={"status": status, "status_origin": "admin"},
        )
        return True


async def _set_status(
    tx: Tx, item_id: int, status: str, story_id: int | None, now: dt.datetime
) -> None:
    await tx.execute(
        "UPDATE agenda_items SET status = ?, status_origin = 'admin',"
        " status_story_id = COALESCE(?, status_story_id), status_at = ? WHERE id = ?",
        (status, story_id, to_db_time(now), item_id),
    )


async def add_source(tx: Tx, story_id: int, link: str | None) -> None:
    """Another outlet reports the story: its Reported alert, where still to be sent, lists it
    too (up to `MAX_SOURCES`; a chat that got the alert already is not told again)."""
    if not link:
        return
    source = json.dumps({"title": urlsplit(link).hostname or "", "url": link})
    await tx.execute(
        "UPDATE alerts SET payload = json_insert(payload, '$.sources[#]', json(?))"
        " WHERE id = (SELECT alert_id FROM programme_news WHERE story_id = ?)"
        " AND json_array_length(payload, '$.sources') < ?"
        " AND NOT EXISTS (SELECT 1 FROM json_each(payload, '$.sources') WHERE"
        " json_extract(value, '$.url') = ?)",
        (source, story_id, MAX_SOURCES, link),
    )


async def set_alert(tx: Tx, story_id: int, alert_id: int | None) -> None:
    await tx.execute(
        "UPDATE programme_news SET alert_id = ? WHERE story_id = ?", (alert_id, story_id)
    )


# --- the review queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A programme proposal as its review card shows it."""

    story_id: int
    visit_id: int
    effect: str
    title: str  # the story's headline
    item: AgendaItem | None
    events: tuple[str, ...]
    proposed_day: dt.date | None
    proposed_time: dt.time | None
    day_said: bool
    review: str
    reviewed_by: int | None
    sources: tuple[tuple[str, str], ...]
    alert_id: int | None
    day: dt.date  # the story's day


async def proposal(db: Reader, visit_id: int | None, story_id: int) -> Proposal | None:
    """One proposal; of one visit, or (None) of whichever visit it belongs to."""
    row = await db.fetchone(
        "SELECT p.*, s.title AS story_title, s.day AS story_day FROM programme_news p"
        " JOIN stories s ON s.id = p.story_id"
        " WHERE p.story_id = ? AND (? IS NULL OR p.visit_id = ?)",
        (story_id, visit_id, visit_id),
    )
    if row is None:
        return None
    item = await agenda_item(db, int(row["item_id"])) if row["item_id"] is not None else None
    sources = await story_sources(db, [story_id], limit=MAX_SOURCES)
    return Proposal(
        story_id=story_id,
        visit_id=int(row["visit_id"]),
        effect=row["effect"],
        title=row["story_title"],
        item=item,
        events=tuple(json.loads(row["events"])),
        proposed_day=dt.date.fromisoformat(row["proposed_day"]) if row["proposed_day"] else None,
        proposed_time=dt.time.fromisoformat(row["proposed_time"]) if row["proposed_time"] else None,
        day_said=bool(row["day_said"]),
        review=row["review"],
        reviewed_by=row["reviewed_by"],
        sources=tuple(sources.get(story_id, [])),
        alert_id=row["alert_id"],
        day=dt.date.fromisoformat(row["story_day"]),
    )


async def pending_proposals(db: Reader, visit_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT story_id FROM programme_news WHERE visit_id = ? AND review = 'pending'"
        " ORDER BY created_at, story_id",
        (visit_id,),
    )
    return [int(r["story_id"]) for r in rows]


async def reported_sources(
    db: Reader, item_ids: Sequence[int], limit: int = 3
) -> dict[int, list[tuple[str, str]]]:
    """(title, link) of the stories that marked each item, for /agenda."""
    if not item_ids:
        return {}
    rows = await db.fetchall(
        "SELECT id, status_story_id FROM agenda_items WHERE id IN (SELECT value FROM json_each(?))"
        " AND status_story_id IS NOT NULL",
        (json.dumps(list(item_ids)),),
    )
    by_story = {int(r["status_story_id"]): int(r["id"]) for r in rows}
    sources = await story_sources(db, list(by_story), limit=limit)
    return {by_story[s]: links for s, links in sources.items()}


Decision = Literal["confirmed", "dismissed"]


@dataclass(frozen=True)
class Applied:
    """A confirmed proposal: the item it made or changed (None: withdrawn)."""

    item_id: int | None
    effect: str


@dataclass(frozen=True)
class NewItemFields:
    """What "Add to agenda" creates; prefilled from the story, editable before confirming."""

    starts_at: dt.datetime
    time_known: bool
    title: str
    place: str


def proposed_start(p: Proposal, tz: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """When the proposal says the item is: its day (the story's when it gives none) and time."""
    day = p.proposed_day or p.day
    if p.proposed_time is not None:
        return dt.datetime.combine(day, p.proposed_time, tz), True
    if p.item is not None and p.item.time_known and p.effect == "moved" and p.proposed_day:
        clock = p.item.starts_at.astimezone(tz).timetz().replace(tzinfo=None)
        return dt.datetime.combine(day, clock, tz), False
    return dt.datetime.combine(day, dt.time(), tz), False


async def decide_proposal(
    db: Database,
    actor: Actor,
    story_id: int,
    decision: Decision,
    tz: dt.tzinfo,
    fields: NewItemFields | None = None,
) -> Applied | bool:
    """Confirm (apply the change) or dismiss a pending proposal.

    Returns `Applied` for a confirmation, True for a dismissal, and False when it was already
    decided (by another admin), is not pending, or its item was withdrawn meanwhile (then
    nothing is kept). The confirmation's agenda alert spares the chats the Reported alert
    reached, and that alert, where still waiting, now shows the change as confirmed.
    """
    current = await proposal(db, actor.visit_id, story_id)
    if current is None or current.review != "pending":
        return False
    try:
        async with audited(db, actor) as tx:
            return await _decide(tx, current, decision, tz, fields)
    except _Gone:
        # The item was withdrawn meanwhile: nothing to apply, and nothing left to decide.
        await _dismiss_gone(db, actor, story_id)
        return False


async def _dismiss_gone(db: Database, actor: Actor, story_id: int) -> None:
    current = await proposal(db, actor.visit_id, story_id)
    if current is not None and current.review == "pending":
        async with audited(db, actor) as tx:
            await _decide(tx, current, "dismissed", dt.UTC, None)


async def _drop_waiting(tx: Tx, alert_id: int | None) -> None:
    """Drop the deliveries of a Reported alert that are still waiting (quiet hours, digest,
    the hourly cap): what it says was dismissed or corrected."""
    if alert_id is not None:
        await tx.execute(
            "UPDATE deliveries SET status = 'dropped', last_error = 'superseded by a decision'"
            " WHERE alert_id = ? AND status = 'pending'",
            (alert_id,),
        )


async def _decide(
    tx: AuditedTx,
    current: Proposal,
    decision: Decision,
    tz: dt.tzinfo,
    fields: NewItemFields | None,
) -> Applied | bool:
    actor = tx.actor
    claimed = await tx.execute_rowcount(
        "UPDATE programme_news SET review = ?, reviewed_by = ?, reviewed_at = ?"
        " WHERE story_id = ? AND visit_id = ? AND review = 'pending'",
        (decision, actor.user_id, to_db_time(actor.now), current.story_id, actor.visit_id),
    )
    if claimed != 1:
        return False
    await tx.log(
        f"programme.{'confirm' if decision == 'confirmed' else 'dismiss'}",
        f"story:{current.story_id}",
        before={"review": "pending", "effect": current.effect},
        after={"review": decision},
    )
    if decision == "dismissed":
        await _drop_waiting(tx, current.alert_id)  # the news was wrong: not sent any more
        return True
    told = current.alert_id
    item_id: int | None
    proposed = _new_fields(current, tz)
    if fields is not None and fields != proposed:
        # The admin corrected what the news said: those told hear the corrected item, and
        # the Reported alert still waiting somewhere is not sent.
        await _drop_waiting(tx, told)
        told = None
    if current.effect == "new":
        new = fields or proposed
        item_id = await insert_item(
            tx,
            starts_at=new.starts_at,
            time_known=new.time_known,
            title=new.title,
            place=new.place,
            told=told,
        )
    elif current.item is None:
        raise _Gone()
    elif current.effect in ("done", "underway"):
        # A report about a curated item, confirmed: marked as the admin's, no second alert.
        await _set_status(tx, current.item.id, current.effect, current.story_id, actor.now)
        item_id = current.item.id
    elif current.effect == "moved":
        if fields is not None:
            starts_at, known = fields.starts_at, fields.time_known
        elif current.proposed_day is None:
            raise _Gone()  # "postponed", no new day: nothing to apply (the card offers none)
        else:
            starts_at, known = proposed_start(current, tz)
        changed = await update_item(
            tx, current.item.id, starts_at=starts_at, time_known=known, told=told
        )
        if changed is None:
            raise _Gone()
        item_id = current.item.id
    else:
        if await withdraw_item(tx, current.item.id, told=told) is None:
            raise _Gone()
        item_id = None
    if told is not None:
        await tx.execute(
            "UPDATE alerts SET payload = json_set(payload, '$.status', 'confirmed') WHERE id = ?",
            (told,),
        )
    return Applied(item_id, current.effect)


class _Gone(Exception):
    """The proposal's item was withdrawn meanwhile: nothing to apply (rolls the claim back)."""


def _new_fields(p: Proposal, tz: dt.tzinfo) -> NewItemFields:
    starts_at, known = proposed_start(p, tz)
    return NewItemFields(starts_at, known, p.title, "")


def reported_status(item: AgendaItem) -> str | None:
    """'done' / 'underway' when the feeds (not an admin) marked the item."""
    if item.status in ("done", "underway") and item.status_origin == "feeds":
        return item.status
    return None


async def programme_alert(
    tx: Tx,
    visit_id: int,
    story_id: int,
    effect: ProgrammeEffect,
    *,
    headline: str,
    link: str | None,
    now: dt.datetime,
    default_tz: dt.tzinfo,
) -> int | None:
    """The Reported alert of a story that moved the programme (kind 'programme'), once per
    story, and for "done" once per item whoever reports it; None when it was raised already."""
    item = await agenda_item(tx, effect.item_id) if effect.item_id is not None else None
    if effect.item_id is not None and item is None:
        return None  # withdrawn meanwhile
    host = urlsplit(link or "").hostname or ""
    payload: dict[str, Any] = {
        "change": effect.effect,
        "status": "reported",
        "item_id": effect.item_id,
        "story_id": story_id,
        "sources": [{"title": host, "url": link}] if link else [],
    }
    if effect.effect == "moved" and effect.proposed_day is not None:
        moved_to = dt.datetime.combine(
            effect.proposed_day, effect.proposed_time or dt.time(), default_tz
        )
        payload["new_starts_at"] = to_db_time(moved_to)
        payload["new_time_known"] = effect.proposed_time is not None
    if item is not None:
        payload |= {
            "starts_at": to_db_time(item.starts_at),
            "time_known": item.time_known,
            "title": item.titles,
            "place": item.places,
        }
    else:
        day = effect.proposed_day or now.astimezone(default_tz).date()
        start = dt.datetime.combine(day, effect.proposed_time or dt.time(), default_tz)
        payload |= {
            "starts_at": to_db_time(start),
            "time_known": effect.proposed_time is not None,
            "title": {},
            "place": {},
            "headline": headline,  # what is new, in whatever language the story came
        }
    dedupe = (
        f"programme:{effect.item_id}:done"
        if effect.effect == "done"
        else f"programme:story:{story_id}"
    )
    alert_id = await create_alert(
        tx,
        visit_id=visit_id,
        kind="programme",
        payload=payload,
        dedupe_key=dedupe,
        now=now,
        default_tz=default_tz,
    )
    if alert_id is not None:
        await set_alert(tx, story_id, alert_id)
    return alert_id

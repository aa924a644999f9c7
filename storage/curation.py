"""Admin writes: agreement entries, agenda items, facts, feeds, review decisions, broadcasts.

Every function here is one transaction that does three things together: the change, its audit
record, and (where subscribers must hear of it) its alert in the outbox. Either all of them happen
or none does, so a crash can neither lose an alert for a saved entry nor alert about an entry that
was rolled back.

Review decisions are race-safe: a story leaves the queue with
`UPDATE stories SET review = ... WHERE id = ? AND review = 'pending'` inside the transaction, and
only the transaction that changed the row (rowcount 1) creates the entry. Two admins pressing
Confirm at the same moment therefore create one agreement; the second learns it was already done.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from storage.admin import audit
from storage.alerts import create_alert
from storage.db import Database, Tx, to_db_time
from storage.visit import Visit
from storage.visitdata import upsert_fact

MAX_SOURCES = 5


# --- agreements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementFields:
    """What an admin (or a confirmed story) says about one agreement."""

    title: str
    sector: str = ""
    signed_on: str | None = None  # YYYY-MM-DD
    parties: str = ""
    source_title: str = ""
    source_url: str | None = None


@dataclass(frozen=True)
class Saved:
    agreement_id: int
    story_id: int | None
    upgraded: bool  # an existing 'reported' entry of the same story became confirmed


def source_label(url: str | None) -> str:
    """A short label for a source typed as a bare URL: its host."""
    return (urlsplit(url).hostname or url or "") if url else ""


def _snapshot(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return None if row is None else {k: row[k] for k in row.keys()}  # noqa: SIM118


async def _sources(tx: Tx, row: sqlite3.Row) -> list[dict[str, str]]:
    """The entry's own source first, then the feed items of its story."""
    found: list[dict[str, str]] = []
    if row["source_url"] or row["source_title"]:
        found.append({"title": row["source_title"] or "", "url": row["source_url"] or ""})
    if row["story_id"] is not None:
        items = await tx.fetchall(
            "SELECT title, link FROM news_items WHERE story_id = ? AND link IS NOT NULL"
            " ORDER BY COALESCE(published_at, seen_at), id",
            (row["story_id"],),
        )
        seen = {s["url"] for s in found}
        for item in items:
            if item["link"] not in seen:
                found.append({"title": item["title"], "url": item["link"]})
                seen.add(item["link"])
    return found[:MAX_SOURCES]


async def agreement_payload(tx: Tx, agreement_id: int) -> dict[str, Any]:
    """The alert payload of an agreement, read back from the row just written."""
    row = await tx.fetchone("SELECT * FROM agreements WHERE id = ?", (agreement_id,))
    if row is None:
        raise LookupError(f"agreement {agreement_id} does not exist")
    return {
        "title": row["title"],
        "sector": row["sector"] or "",
        "signed_on": row["signed_on"],
        "parties": row["parties"],
        "status": row["status"],
        "sources": await _sources(tx, row),
        "agreement_id": agreement_id,
        "story_id": row["story_id"],
    }


async def _claim_story(
    tx: Tx, visit_id: int, story_id: int, decision: str, actor_id: int, now: dt.datetime
) -> bool:
    """Move a story out of the queue; False when someone else decided it first."""
    changed = await tx.execute_rowcount(
        "UPDATE stories SET review = ?, reviewed_by = ?, reviewed_at = ?"
        " WHERE id = ? AND visit_id = ? AND review IN ('pending', 'none')"
        " AND kind = 'agreement'",
        (decision, actor_id, to_db_time(now), story_id, visit_id),
    )
    return changed == 1


async def _write_agreement(
    tx: Tx,
    visit_id: int,
    fields: AgreementFields,
    *,
    story_id: int | None,
    origin: str,
    actor_id: int,
    now: dt.datetime,
) -> Saved:
    """Insert a confirmed entry, or upgrade the 'reported' entry already linked to the story."""
    stamp = to_db_time(now)
    existing = None
    if story_id is not None:
        existing = await tx.fetchone(
            "SELECT * FROM agreements WHERE story_id = ? AND deleted_at IS NULL", (story_id,)
        )
    values = (
        fields.title,
        fields.sector,
        fields.signed_on,
        fields.parties,
        fields.source_title,
        fields.source_url,
    )
    if existing is not None:
        agreement_id = int(existing["id"])
        await tx.execute(
            "UPDATE agreements SET title = ?, sector = ?, signed_on = ?, parties = ?,"
            " source_title = ?, source_url = ?, status = 'confirmed', updated_at = ?,"
            " curated_at = ? WHERE id = ?",
            (*values, stamp, stamp, agreement_id),
        )
    else:
        agreement_id = await tx.execute(
            "INSERT INTO agreements (visit_id, title, sector, signed_on, parties, source_title,"
            " source_url, status, story_id, origin, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?, ?)",
            (visit_id, *values, story_id, origin, actor_id, stamp, stamp),
        )
    after = await tx.fetchone("SELECT * FROM agreements WHERE id = ?", (agreement_id,))
    await audit(
        tx,
        visit_id=visit_id,
        actor_id=actor_id,
        action="agreement.add" if existing is None else "agreement.confirm",
        target=f"agreement:{agreement_id}",
        before=_snapshot(existing),
        after=_snapshot(after),
        at=now,
    )
    await create_alert(
        tx,
        visit_id=visit_id,
        kind="agreement",
        payload=await agreement_payload(tx, agreement_id),
        created_by=actor_id,
        now=now,
    )
    return Saved(agreement_id, story_id, existing is not None)


async def save_agreement(
    db: Database,
    visit_id: int,
    fields: AgreementFields,
    *,
    actor_id: int,
    now: dt.datetime,
    story_id: int | None = None,
) -> Saved:
    """Save an admin's entry as Confirmed and raise one agreement alert.

    `story_id` is a matching reported story (see `matching_story`); it is linked only if it is
    still undecided when the transaction runs, so a story confirmed meanwhile is not linked twice.
    """
    async with db.transaction() as tx:
        linked = story_id
        if story_id is not None and not await _claim_story(
            tx, visit_id, story_id, "confirmed", actor_id, now
        ):
            linked = None
        return await _write_agreement(
            tx, visit_id, fields, story_id=linked, origin="admin", actor_id=actor_id, now=now
        )


@dataclass(frozen=True)
class StoryCandidate:
    id: int
    title: str
    links: tuple[str, ...]


async def open_agreement_stories(db: Database, visit_id: int) -> list[StoryCandidate]:
    """Agreement stories not yet decided nor confirmed, to link a new entry with."""
    rows = await db.fetchall(
        "SELECT s.id, s.title, GROUP_CONCAT(n.link, char(10)) AS links FROM stories s"
        " LEFT JOIN news_items n ON n.story_id = s.id"
        " WHERE s.visit_id = ? AND s.kind = 'agreement' AND s.review IN ('pending', 'none')"
        " GROUP BY s.id ORDER BY s.id",
        (visit_id,),
    )
    return [
        StoryCandidate(r["id"], r["title"], tuple(filter(None, (r["links"] or "").split("\n"))))
        for r in rows
    ]


async def edit_agreement(
    db: Database,
    visit_id: int,
    agreement_id: int,
    column: str,
    value: str | None,
    *,
    actor_id: int,
    now: dt.datetime,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Change one field; (before, after) snapshots, or None when there is no such entry."""
    if column not in ("title", "sector", "signed_on", "parties", "source_url", "status"):
        raise ValueError(f"not an editable column: {column}")
    async with db.transaction() as tx:
        before = await tx.fetchone(
            "SELECT * FROM agreements WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
            (agreement_id, visit_id),
        )
        if before is None:
            return None
        extra = ""
        params: list[Any] = [value]
        if column == "source_url":
            extra = ", source_title = ?"
            params.append(source_label(value))
        await tx.execute(
            f"UPDATE agreements SET {column} = ?{extra}, updated_at = ?, curated_at = ?"
            " WHERE id = ?",
            (*params, to_db_time(now), to_db_time(now), agreement_id),
        )
        after = await tx.fetchone("SELECT * FROM agreements WHERE id = ?", (agreement_id,))
        old, new = _snapshot(before) or {}, _snapshot(after) or {}
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="agreement.edit",
            target=f"agreement:{agreement_id}",
            before={column: old[column]},
            after={column: new[column]},
            at=now,
        )
        return old, new


async def send_correction(
    db: Database,
    visit_id: int,
    agreement_id: int,
    field: str,
    old: str | None,
    new: str | None,
    *,
    actor_id: int,
    now: dt.datetime,
) -> int | None:
    """Raise a correction alert for an entry as it now stands; the alert id, or None if gone.

    The change is stored as raw data (`field` is the column, `old`/`new` its stored values),
    not as text: each subscriber reads it in their own language, escaped once, when it is sent.
    "note" is a plain-text summary for the audit log and for renderers that predate "change".
    """
    change = {"field": field, "old": old, "new": new}
    note = f"{field}: {old or '—'} → {new or '—'}"
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT id FROM agreements WHERE id = ? AND visit_id = ?", (agreement_id, visit_id)
        )
        if row is None:
            return None
        payload = await agreement_payload(tx, agreement_id)
        payload["change"] = change
        payload["note"] = note
        alert_id = await create_alert(
            tx, visit_id=visit_id, kind="correction", payload=payload, created_by=actor_id, now=now
        )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="agreement.correction",
            target=f"agreement:{agreement_id}",
            after={"note": note, "change": change},
            at=now,
        )
        return alert_id


async def delete_agreement(
    db: Database, visit_id: int, agreement_id: int, *, actor_id: int, now: dt.datetime
) -> dict[str, Any] | None:
    """Remove an entry; its snapshot, or None when there was none."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM agreements WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
            (agreement_id, visit_id),
        )
        if row is None:
            return None
        if row["key"] is None:
            await tx.execute("DELETE FROM agreements WHERE id = ?", (agreement_id,))
        else:  # bundled: a tombstone, so the next load of the visit file does not restore it
            await tx.execute(
                "UPDATE agreements SET deleted_at = ? WHERE id = ?", (to_db_time(now), agreement_id)
            )
        before = _snapshot(row)
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="agreement.delete",
            target=f"agreement:{agreement_id}",
            before=before,
            at=now,
        )
        return before


# --- review ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryView:
    id: int
    title: str
    sectors: tuple[str, ...]
    parties: tuple[str, ...]
    day: str
    review: str
    reviewed_by: int | None
    sources: tuple[tuple[str, str], ...]  # (title, url)
    agreement_id: int | None


async def story(db: Database, visit_id: int, story_id: int) -> StoryView | None:
    row = await db.fetchone(
        "SELECT s.*, a.id AS agreement_id FROM stories s"
        " LEFT JOIN agreements a ON a.story_id = s.id WHERE s.id = ? AND s.visit_id = ?",
        (story_id, visit_id),
    )
    if row is None:
        return None
    items = await db.fetchall(
        "SELECT title, link FROM news_items WHERE story_id = ? ORDER BY id LIMIT ?",
        (story_id, MAX_SOURCES),
    )
    return StoryView(
        id=row["id"],
        title=row["title"],
        sectors=tuple(json.loads(row["sectors"])),
        parties=tuple(json.loads(row["parties"])),
        day=row["day"],
        review=row["review"],
        reviewed_by=row["reviewed_by"],
        sources=tuple((i["title"], i["link"] or "") for i in items),
        agreement_id=row["agreement_id"],
    )


async def pending_story_ids(db: Database, visit_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM stories WHERE visit_id = ? AND kind = 'agreement' AND review = 'pending'"
        " ORDER BY first_seen_at, id",
        (visit_id,),
    )
    return [int(r["id"]) for r in rows]


def story_fields(view: StoryView, visit: Visit) -> AgreementFields:
    """The entry a confirmed story becomes: its title, first sector, day, parties and source."""
    names = {a.key: a.name.en for a in (*visit.anchors, *visit.leaders)}
    source_title, source_url = view.sources[0] if view.sources else ("", "")
    return AgreementFields(
        title=view.title,
        sector=view.sectors[0] if view.sectors else "",
        signed_on=view.day or None,
        parties=", ".join(names.get(p, p) for p in view.parties),
        source_title=source_title,
        source_url=source_url or None,
    )


Decision = Literal["confirmed", "dismissed"]


async def decide_story(
    db: Database,
    visit: Visit,
    visit_id: int,
    story_id: int,
    decision: Decision,
    *,
    actor_id: int,
    now: dt.datetime,
) -> Saved | None | bool:
    """Confirm (creating the entry) or dismiss a pending story.

    Returns `Saved` for a confirmation that created the entry, True for a dismissal, and False
    when the story was already decided (by another admin) or does not exist.
    """
    view = await story(db, visit_id, story_id)
    if view is None:
        return False
    async with db.transaction() as tx:
        if not await _claim_story(tx, visit_id, story_id, decision, actor_id, now):
            return False
        if decision == "dismissed":
            await audit(
                tx,
                visit_id=visit_id,
                actor_id=actor_id,
                action="story.dismiss",
                target=f"story:{story_id}",
                before={"review": view.review},
                after={"review": "dismissed"},
                at=now,
            )
            return True
        return await _write_agreement(
            tx,
            visit_id,
            story_fields(view, visit),
            story_id=story_id,
            origin="review",
            actor_id=actor_id,
            now=now,
        )


# --- agenda ----------------------------------------------------------------------------------


def _agenda_payload(row: sqlite3.Row, change: str) -> dict[str, Any]:
    return {
        "item_id": row["id"],
        "change": change,
        "starts_at": row["starts_at"],
        "time_known": bool(row["time_known"]),
        "title": json.loads(row["title"]),
        "place": json.loads(row["place"]),
    }


async def _agenda_changed(
    tx: Tx,
    visit_id: int,
    item_id: int,
    change: Literal["new", "changed", "deleted"],
    *,
    before: sqlite3.Row | None,
    after: sqlite3.Row | None,
    actor_id: int,
    now: dt.datetime,
) -> None:
    """Every agenda change is audited and alerted in the transaction that makes it."""
    action = {"new": "agenda.add", "changed": "agenda.edit", "deleted": "agenda.delete"}[change]
    await audit(
        tx,
        visit_id=visit_id,
        actor_id=actor_id,
        action=action,
        target=f"agenda:{item_id}",
        before=_snapshot(before),
        after=_snapshot(after),
        at=now,
    )
    shown = after if after is not None else before
    assert shown is not None
    await create_alert(
        tx,
        visit_id=visit_id,
        kind="agenda",
        payload=_agenda_payload(shown, change),
        created_by=actor_id,
        now=now,
    )


async def add_agenda_item(
    db: Database,
    visit_id: int,
    *,
    starts_at: dt.datetime,
    time_known: bool,
    title: str,
    place: str,
    actor_id: int,
    now: dt.datetime,
) -> int:
    """Add an item (English text as typed) and raise a 'new' agenda alert."""
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        item_id = await tx.execute(
            "INSERT INTO agenda_items (visit_id, starts_at, time_known, title, place, origin,"
            " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'admin', ?, ?, ?)",
            (
                visit_id,
                to_db_time(starts_at),
                int(time_known),
                json.dumps({"en": title}, ensure_ascii=False),
                json.dumps({"en": place} if place else {}, ensure_ascii=False),
                actor_id,
                stamp,
                stamp,
            ),
        )
        row = await tx.fetchone("SELECT * FROM agenda_items WHERE id = ?", (item_id,))
        await _agenda_changed(
            tx, visit_id, item_id, "new", before=None, after=row, actor_id=actor_id, now=now
        )
        return item_id


async def edit_agenda_item(
    db: Database,
    visit_id: int,
    item_id: int,
    *,
    starts_at: dt.datetime | None = None,
    time_known: bool | None = None,
    title: str | None = None,
    place: str | None = None,
    actor_id: int,
    now: dt.datetime,
) -> dict[str, Any] | None:
    """Change an item's time, title or place (English) and raise a 'changed' agenda alert."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM agenda_items WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
            (item_id, visit_id),
        )
        if row is None:
            return None
        titles = json.loads(row["title"])
        places = json.loads(row["place"])
        if title is not None:
            titles = {"en": title}  # other languages would now be stale
        if place is not None:
            places = {"en": place} if place else {}
        await tx.execute(
            "UPDATE agenda_items SET starts_at = ?, time_known = ?, title = ?, place = ?,"
            " updated_at = ?, curated_at = ? WHERE id = ?",
            (
                to_db_time(starts_at) if starts_at else row["starts_at"],
                int(time_known) if time_known is not None else row["time_known"],
                json.dumps(titles, ensure_ascii=False),
                json.dumps(places, ensure_ascii=False),
                to_db_time(now),
                to_db_time(now),
                item_id,
            ),
        )
        after = await tx.fetchone("SELECT * FROM agenda_items WHERE id = ?", (item_id,))
        assert after is not None
        await _agenda_changed(
            tx, visit_id, item_id, "changed", before=row, after=after, actor_id=actor_id, now=now
        )
        return _snapshot(after)


async def delete_agenda_item(
    db: Database, visit_id: int, item_id: int, *, actor_id: int, now: dt.datetime
) -> dict[str, Any] | None:
    """Withdraw an item (kept, marked deleted, so the bundled sync does not bring it back)."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM agenda_items WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
            (item_id, visit_id),
        )
        if row is None:
            return None
        await tx.execute(
            "UPDATE agenda_items SET deleted_at = ?, updated_at = ? WHERE id = ?",
            (to_db_time(now), to_db_time(now), item_id),
        )
        await _agenda_changed(
            tx, visit_id, item_id, "deleted", before=row, after=None, actor_id=actor_id, now=now
        )
        return _snapshot(row)


# --- facts -----------------------------------------------------------------------------------


async def add_fact(
    db: Database,
    visit_id: int,
    *,
    topic: str,
    text: str,
    source_title: str,
    source_url: str | None,
    actor_id: int,
    now: dt.datetime,
) -> int:
    """Add an admin fact (stored under 'en': readers of every language fall back to it)."""
    async with db.transaction() as tx:
        count = await tx.fetchone("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM facts")
        key = f"admin-{int(count['n']) if count else 1}-{int(now.timestamp())}"
        fact_id = await upsert_fact(
            tx,
            visit_id,
            key=key,
            lang="en",
            topic=topic,
            position=100_000,
            text=text,
            source_title=source_title,
            source_url=source_url,
            origin="admin",
            now=to_db_time(now),
        )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="fact.add",
            target=f"fact:{fact_id}",
            after={"topic": topic, "text": text, "source_title": source_title, "url": source_url},
            at=now,
        )
        return fact_id


async def admin_facts(db: Database, visit_id: int) -> list[sqlite3.Row]:
    return await db.fetchall(
        "SELECT * FROM facts WHERE visit_id = ? AND origin = 'admin' ORDER BY id", (visit_id,)
    )


async def delete_fact(
    db: Database, visit_id: int, fact_id: int, *, actor_id: int, now: dt.datetime
) -> dict[str, Any] | Literal["bundled"] | None:
    """Delete an admin fact; 'bundled' for facts that belong to the visit file, None if unknown."""
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM facts WHERE id = ? AND visit_id = ?", (fact_id, visit_id)
        )
        if row is None:
            return None
        if row["origin"] != "admin":
            return "bundled"
        await tx.execute("DELETE FROM facts_fts WHERE rowid = ?", (fact_id,))
        await tx.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
        before = _snapshot(row)
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="fact.delete",
            target=f"fact:{fact_id}",
            before=before,
            at=now,
        )
        return before


# --- feeds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedRow:
    id: int
    url: str
    title: str
    origin: str
    last_success_at: str | None
    last_error_at: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll_at: str | None
    paused: bool
    paused_reason: str | None


def _feed(row: sqlite3.Row) -> FeedRow:
    return FeedRow(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        origin=row["origin"],
        last_success_at=row["last_success_at"],
        last_error_at=row["last_error_at"],
        last_error=row["last_error"],
        consecutive_failures=row["consecutive_failures"],
        next_poll_at=row["next_poll_at"],
        paused=bool(row["paused"]),
        paused_reason=row["paused_reason"],
    )


async def list_feeds(db: Database, visit_id: int) -> list[FeedRow]:
    rows = await db.fetchall(
        "SELECT * FROM feeds WHERE visit_id = ? AND removed_at IS NULL ORDER BY id", (visit_id,)
    )
    return [_feed(r) for r in rows]


async def find_feed(db: Database, visit_id: int, ref: str) -> FeedRow | None:
    """A feed by its ID or its exact URL."""
    ref = ref.strip()
    if ref.lstrip("#").isdigit():
        row = await db.fetchone(
            "SELECT * FROM feeds WHERE visit_id = ? AND id = ? AND removed_at IS NULL",
            (visit_id, int(ref.lstrip("#"))),
        )
    else:
        row = await db.fetchone(
            "SELECT * FROM feeds WHERE visit_id = ? AND url = ? AND removed_at IS NULL",
            (visit_id, ref),
        )
    return None if row is None else _feed(row)


async def add_feed(
    db: Database, visit_id: int, url: str, title: str, *, actor_id: int, now: dt.datetime
) -> int | None:
    """Add an admin feed, due for polling now; None when the URL is already watched."""
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        existing = await tx.fetchone(
            "SELECT id, removed_at FROM feeds WHERE visit_id = ? AND url = ?", (visit_id, url)
        )
        if existing is not None and existing["removed_at"] is None:
            return None
        if existing is not None:
            # Added again after removal: its first poll is silent again, like any new feed.
            feed_id = int(existing["id"])
            await tx.execute(
                "UPDATE feeds SET removed_at = NULL, paused = 0, paused_reason = NULL,"
                " origin = 'admin', title = ?, first_polled_at = NULL, consecutive_failures = 0,"
                " first_failure_at = NULL, next_poll_at = ?,"
                " etag = NULL, last_modified = NULL, body_hash = NULL WHERE id = ?",
                (title, stamp, feed_id),
            )
        else:
            feed_id = await tx.execute(
                "INSERT INTO feeds (visit_id, url, title, origin, next_poll_at, created_at)"
                " VALUES (?, ?, ?, 'admin', ?, ?)",
                (visit_id, url, title, stamp, stamp),
            )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="feed.add",
            target=f"feed:{feed_id}",
            after={"url": url, "title": title},
            at=now,
        )
        return feed_id


async def delete_feed(
    db: Database, visit_id: int, feed_id: int, *, actor_id: int, now: dt.datetime
) -> bool:
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM feeds WHERE id = ? AND visit_id = ? AND removed_at IS NULL",
            (feed_id, visit_id),
        )
        if row is None:
            return False
        # Marked, not deleted: see migration 0002.
        await tx.execute(
            "UPDATE feeds SET removed_at = ?, paused = 1, paused_reason = 'removed' WHERE id = ?",
            (to_db_time(now), feed_id),
        )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="feed.delete",
            target=f"feed:{feed_id}",
            before={"url": row["url"], "title": row["title"], "origin": row["origin"]},
            at=now,
        )
        return True


async def set_feed_paused(
    db: Database,
    visit_id: int,
    feed_id: int,
    paused: bool,
    *,
    actor_id: int,
    now: dt.datetime,
) -> bool:
    """Pause, or resume with a clean slate (failure counters cleared, polled again soon)."""
    stamp = to_db_time(now)
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT * FROM feeds WHERE id = ? AND visit_id = ?", (feed_id, visit_id)
        )
        if row is None:
            return False
        if paused:
            await tx.execute(
                "UPDATE feeds SET paused = 1, paused_reason = 'admin' WHERE id = ?", (feed_id,)
            )
        else:
            await tx.execute(
                "UPDATE feeds SET paused = 0, paused_reason = NULL, consecutive_failures = 0,"
                " first_failure_at = NULL, next_poll_at = ? WHERE id = ?",
                (stamp, feed_id),
            )
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="feed.pause" if paused else "feed.resume",
            target=f"feed:{feed_id}",
            before={"paused": bool(row["paused"]), "failures": row["consecutive_failures"]},
            after={"paused": paused},
            at=now,
        )
        return True


# --- broadcast -------------------------------------------------------------------------------


async def broadcast(
    db: Database, visit_id: int, text: str, *, actor_id: int, now: dt.datetime
) -> tuple[int | None, int]:
    """Queue an admin message to every subscriber; (alert id, number of deliveries)."""
    async with db.transaction() as tx:
        alert_id = await create_alert(
            tx,
            visit_id=visit_id,
            kind="broadcast",
            payload={"text": text},
            created_by=actor_id,
            now=now,
        )
        count = 0
        if alert_id is not None:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM deliveries WHERE alert_id = ?", (alert_id,)
            )
            count = int(row["n"]) if row else 0
        await audit(
            tx,
            visit_id=visit_id,
            actor_id=actor_id,
            action="broadcast",
            target=f"alert:{alert_id}",
            after={"text": text, "deliveries": count},
            at=now,
        )
        return alert_id, count


__all__ = [
    "AgreementFields",
    "FeedRow",
    "Saved",
    "StoryCandidate",
    "StoryView",
    "add_agenda_item",
    "add_fact",
    "add_feed",
    "admin_facts",
    "agreement_payload",
    "broadcast",
    "decide_story",
    "delete_agenda_item",
    "delete_agreement",
    "delete_fact",
    "delete_feed",
    "edit_agenda_item",
    "edit_agreement",
    "find_feed",
    "list_feeds",
    "open_agreement_stories",
    "pending_story_ids",
    "save_agreement",
    "send_correction",
    "set_feed_paused",
    "story",
    "story_fields",
]

"""The agreement registry: documents signed during the visit, confirmed or as reported.

Readers list the registry; admins add, correct and remove entries through audited writes, each
of which alerts agreement subscribers in the same transaction (see `storage.audit`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from storage.alerts import create_alert
from storage.audit import Actor, AuditedTx, audited, snapshot
from storage.db import Database, Tx, to_db_time
from storage.news import story_sources
from storage.stories import claim_story


@dataclass(frozen=True)
class Agreement:
    id: int
    title: str
    sector: str
    signed_on: str | None
    parties: str
    source_title: str
    source_url: str | None
    status: str  # 'confirmed' | 'reported'


def _agreement(row: sqlite3.Row) -> Agreement:
    return Agreement(
        id=row["id"],
        title=row["title"],
        sector=row["sector"],
        signed_on=row["signed_on"],
        parties=row["parties"],
        source_title=row["source_title"],
        source_url=row["source_url"],
        status=row["status"],
    )


async def list_agreements(db: Database, visit_id: int) -> list[Agreement]:
    """Newest first: by signing date, then by entry."""
    rows = await db.fetchall(
        "SELECT * FROM agreements WHERE visit_id = ? AND deleted_at IS NULL"
        " ORDER BY COALESCE(signed_on, '') DESC, id DESC",
        (visit_id,),
    )
    return [_agreement(r) for r in rows]


async def story_ids(db: Database, agreement_ids: list[int]) -> dict[int, int]:
    """agreement id -> linked story id, for the entries that have one."""
    if not agreement_ids:
        return {}
    marks = ",".join("?" * len(agreement_ids))
    rows = await db.fetchall(
        f"SELECT id, story_id FROM agreements WHERE id IN ({marks}) AND story_id IS NOT NULL",
        tuple(agreement_ids),
    )
    return {int(r["id"]): int(r["story_id"]) for r in rows}


# --- admin writes ------------------------------------------------------------------------------

MAX_SOURCES = 5
EDITABLE = ("title", "sector", "signed_on", "parties", "source_url", "status")


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


async def _sources(tx: Tx, row: sqlite3.Row) -> list[dict[str, str]]:
    """The entry's own source first, then the feed entries of its story."""
    found: list[dict[str, str]] = []
    if row["source_url"] or row["source_title"]:
        found.append({"title": row["source_title"] or "", "url": row["source_url"] or ""})
    if row["story_id"] is not None:
        reports = await story_sources(tx, [row["story_id"]], limit=MAX_SOURCES)
        seen = {s["url"] for s in found}
        for title, link in reports.get(row["story_id"], []):
            if link not in seen:
                found.append({"title": title, "url": link})
                seen.add(link)
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


async def write_agreement(
    tx: AuditedTx, fields: AgreementFields, *, story_id: int | None, origin: str
) -> Saved:
    """Insert a confirmed entry, or upgrade the 'reported' entry already linked to the story;
    audited, and alerted to agreement subscribers, in the caller's transaction."""
    actor = tx.actor
    stamp = to_db_time(actor.now)
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
            (actor.visit_id, *values, story_id, origin, actor.user_id, stamp, stamp),
        )
    after = await tx.fetchone("SELECT * FROM agreements WHERE id = ?", (agreement_id,))
    await tx.log(
        "agreement.add" if existing is None else "agreement.confirm",
        f"agreement:{agreement_id}",
        before=snapshot(existing),
        after=snapshot(after),
    )
    await create_alert(
        tx,
        visit_id=actor.visit_id,
        kind="agreement",
        payload=await agreement_payload(tx, agreement_id),
        created_by=actor.user_id,
        now=actor.now,
    )
    return Saved(agreement_id, story_id, existing is not None)


async def _current_entry(tx: AuditedTx, agreement_id: int) -> sqlite3.Row | None:
    """The actor's visit's entry as it stands, unless it was removed."""
    return await tx.fetchone(
        "SELECT * FROM agreements WHERE id = ? AND visit_id = ? AND deleted_at IS NULL",
        (agreement_id, tx.actor.visit_id),
    )


async def save_agreement(
    db: Database, actor: Actor, fields: AgreementFields, *, story_id: int | None = None
) -> Saved:
    """Save an admin's entry as Confirmed and raise one agreement alert.

    `story_id` is a matching reported story (see `storage.review.open_agreement_stories`); it is
    linked only if it is still undecided when the transaction runs, so a story confirmed
    meanwhile is not linked twice.
    """
    async with audited(db, actor) as tx:
        linked = story_id
        if story_id is not None and not await claim_story(tx, actor, story_id, "confirmed"):
            linked = None
        return await write_agreement(tx, fields, story_id=linked, origin="admin")


async def edit_agreement(
    db: Database, actor: Actor, agreement_id: int, column: str, value: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Change one field; (before, after) snapshots, or None when there is no such entry."""
    if column not in EDITABLE:
        raise ValueError(f"not an editable column: {column}")
    async with audited(db, actor) as tx:
        before = await _current_entry(tx, agreement_id)
        if before is None:
            return None
        extra = ""
        params: list[Any] = [value]
        if column == "source_url":
            extra = ", source_title = ?"
            params.append(source_label(value))
        stamp = to_db_time(actor.now)
        await tx.execute(
            f"UPDATE agreements SET {column} = ?{extra}, updated_at = ?, curated_at = ?"
            " WHERE id = ?",
            (*params, stamp, stamp, agreement_id),
        )
        after = await tx.fetchone("SELECT * FROM agreements WHERE id = ?", (agreement_id,))
        old, new = snapshot(before) or {}, snapshot(after) or {}
        await tx.log(
            "agreement.edit",
            f"agreement:{agreement_id}",
            before={column: old[column]},
            after={column: new[column]},
        )
        return old, new


async def send_correction(
    db: Database,
    actor: Actor,
    agreement_id: int,
    field: str,
    old: str | None,
    new: str | None,
) -> int | None:
    """Raise a correction alert for an entry as it now stands; the alert id, or None if gone.

    The change is stored as raw data (`field` is the column, `old`/`new` its stored values),
    not as text: each subscriber reads it in their own language, escaped once, when it is sent.
    "note" is a plain-text summary for the audit log and for renderers that predate "change".
    """
    change = {"field": field, "old": old, "new": new}
    note = f"{field}: {old or '—'} → {new or '—'}"
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT id FROM agreements WHERE id = ? AND visit_id = ?",
            (agreement_id, actor.visit_id),
        )
        if row is None:
            return None
        payload = await agreement_payload(tx, agreement_id)
        payload["change"] = change
        payload["note"] = note
        alert_id = await create_alert(
            tx,
            visit_id=actor.visit_id,
            kind="correction",
            payload=payload,
            created_by=actor.user_id,
            now=actor.now,
        )
        await tx.log(
            "agreement.correction",
            f"agreement:{agreement_id}",
            after={"note": note, "change": change},
        )
        return alert_id


async def delete_agreement(db: Database, actor: Actor, agreement_id: int) -> dict[str, Any] | None:
    """Remove an entry; its snapshot, or None when there was none."""
    async with audited(db, actor) as tx:
        row = await _current_entry(tx, agreement_id)
        if row is None:
            return None
        if row["key"] is None:
            await tx.execute("DELETE FROM agreements WHERE id = ?", (agreement_id,))
        else:  # bundled: a tombstone, so the next load of the visit file does not restore it
            await tx.execute(
                "UPDATE agreements SET deleted_at = ? WHERE id = ?",
                (to_db_time(actor.now), agreement_id),
            )
        before = snapshot(row)
        await tx.log("agreement.delete", f"agreement:{agreement_id}", before=before)
        return before

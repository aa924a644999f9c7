"""Bring the database in line with a visit definition file, idempotently.

Bundled rows are keyed by (visit, key). An unchanged file (same content hash) costs one query;
a changed file updates rows in place, adds new ones and removes bundled facts that disappeared.
Rows that admins created, bundled rows they edited (`curated_at`) or deleted (`deleted_at`), and
statuses they set (a confirmed agreement) are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from storage.db import Database, Tx, to_db_time, utcnow
from storage.facts import upsert_fact
from storage.visit import Catalog, LoadedVisit, Localized, Visit


def _json(loc: Localized) -> str:
    return json.dumps(loc.values, ensure_ascii=False, sort_keys=True)


async def sync_visits(db: Database, visits: Iterable[Visit]) -> Catalog:
    """Load every visit the bot follows; visits that are no longer configured stay stored
    (subscriptions and history keep them) but are not followed."""
    return Catalog([LoadedVisit(await sync_visit(db, visit), visit) for visit in visits])


async def sync_visit(db: Database, visit: Visit) -> int:
    """Load `visit` into the database and return its id."""
    row = await db.fetchone("SELECT id, content_hash FROM visits WHERE slug = ?", (visit.slug,))
    if row is not None and row["content_hash"] == visit.content_hash:
        return int(row["id"])
    now = to_db_time(utcnow())
    columns = {
        "name": visit.name.en,
        "names": _json(visit.name),
        "languages": json.dumps(list(visit.languages)),
        "trip_key": visit.trip.key if visit.trip else None,
        "timezone": visit.timezone.key,
        "starts_on": visit.starts_on.isoformat(),
        "ends_on": visit.ends_on.isoformat(),
        "tracking_from": visit.tracking_from.isoformat(),
        "tracking_until": visit.tracking_until.isoformat(),
        "content_hash": visit.content_hash,
        "loaded_at": now,
    }
    async with db.transaction() as tx:
        if row is None:
            names = ", ".join(["slug", *columns])
            marks = ", ".join("?" * (len(columns) + 1))
            visit_id = await tx.execute(
                f"INSERT INTO visits ({names}) VALUES ({marks})", (visit.slug, *columns.values())
            )
        else:
            visit_id = int(row["id"])
            assignments = ", ".join(f"{c} = ?" for c in columns)
            await tx.execute(
                f"UPDATE visits SET {assignments} WHERE id = ?", (*columns.values(), visit_id)
            )
        await _sync_topics(tx, visit_id, visit)
        await _sync_facts(tx, visit_id, visit, now)
        await _sync_agenda(tx, visit_id, visit, now)
        await _sync_agreements(tx, visit_id, visit, now)
    return visit_id


async def _sync_topics(tx: Tx, visit_id: int, visit: Visit) -> None:
    await tx.execute("DELETE FROM topics WHERE visit_id = ?", (visit_id,))
    await tx.executemany(
        "INSERT INTO topics (visit_id, key, position, names) VALUES (?, ?, ?, ?)",
        [(visit_id, t.key, i, _json(t.name)) for i, t in enumerate(visit.topics)],
    )


async def _sync_facts(tx: Tx, visit_id: int, visit: Visit, now: str) -> None:
    wanted = {(f.key, lang) for f in visit.facts for lang, text in f.text.values.items() if text}
    existing = await tx.fetchall(
        "SELECT id, key, lang FROM facts WHERE visit_id = ? AND origin = 'bundled'", (visit_id,)
    )
    for old in existing:
        if (old["key"], old["lang"]) not in wanted:
            await tx.execute("DELETE FROM facts_fts WHERE rowid = ?", (old["id"],))
            await tx.execute("DELETE FROM facts WHERE id = ?", (old["id"],))
    for position, fact in enumerate(visit.facts):
        for lang, text in fact.text.values.items():
            await upsert_fact(
                tx,
                visit_id,
                key=fact.key,
                lang=lang,
                topic=fact.topic,
                position=position,
                text=text,
                source_title=fact.source.title.get(lang),
                source_url=fact.source.url,
                origin="bundled",
                now=now,
            )


async def _sync_agenda(tx: Tx, visit_id: int, visit: Visit, now: str) -> None:
    for item in visit.agenda:
        await tx.execute(
            "INSERT INTO agenda_items (visit_id, key, starts_at, time_known, title, place,"
            " source_title, source_url, origin, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'bundled', ?, ?)"
            " ON CONFLICT (visit_id, key) DO UPDATE SET starts_at = excluded.starts_at,"
            " time_known = excluded.time_known, title = excluded.title, place = excluded.place,"
            " source_title = excluded.source_title, source_url = excluded.source_url,"
            " updated_at = excluded.updated_at"
            " WHERE agenda_items.curated_at IS NULL AND agenda_items.deleted_at IS NULL",
            (
                visit_id,
                item.key,
                to_db_time(item.starts_at),
                int(item.time_known),
                _json(item.title),
                _json(item.place),
                item.source.title.en,
                item.source.url,
                now,
                now,
            ),
        )
        # How the news names the item is the file's to say, curated or not.
        await tx.execute(
            "UPDATE agenda_items SET events = ?, match = ? WHERE visit_id = ? AND key = ?",
            (
                json.dumps(list(item.events)),
                json.dumps({k: list(v) for k, v in item.match.items()}, ensure_ascii=False),
                visit_id,
                item.key,
            ),
        )


async def _sync_agreements(tx: Tx, visit_id: int, visit: Visit, now: str) -> None:
    for entry in visit.agreements:
        await tx.execute(
            "INSERT INTO agreements (visit_id, key, title, sector, signed_on, parties,"
            " source_title, source_url, status, origin, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'reported', 'bundled', ?, ?)"
            " ON CONFLICT (visit_id, key) DO UPDATE SET title = excluded.title,"
            " sector = excluded.sector, signed_on = excluded.signed_on,"
            " parties = excluded.parties, source_title = excluded.source_title,"
            " source_url = excluded.source_url, updated_at = excluded.updated_at"
            " WHERE agreements.curated_at IS NULL AND agreements.deleted_at IS NULL",
            (
                visit_id,
                entry.key,
                entry.title,
                entry.sector,
                entry.signed_on.isoformat() if entry.signed_on else None,
                entry.parties,
                entry.source.title.en,
                entry.source.url,
                now,
                now,
            ),
        )

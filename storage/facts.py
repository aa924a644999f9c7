"""Facts: topics, a topic's facts, folded full-text search, and the facts admins add.

Bundled facts come from the visit file (`storage.visitdata`); admin facts are written through
the audited writes at the end of this module.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from storage.audit import Actor, audited, snapshot
from storage.db import Database, Tx, to_db_time
from storage.textfold import fold, words

MAX_QUERY_WORDS = 8


@dataclass(frozen=True)
class Topic:
    key: str
    names: dict[str, str]

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("en") or self.key


@dataclass(frozen=True)
class FactView:
    id: int
    key: str
    topic: str
    lang: str
    text: str
    source_title: str
    source_url: str | None


async def topics(db: Database, visit_id: int) -> list[Topic]:
    rows = await db.fetchall(
        "SELECT key, names FROM topics WHERE visit_id = ? ORDER BY position", (visit_id,)
    )
    return [Topic(r["key"], json.loads(r["names"])) for r in rows]


async def find_topic(db: Database, visit_id: int, text: str) -> Topic | None:
    """A topic whose key or name (any language) equals `text`, folded."""
    wanted = " ".join(words(text))
    if not wanted:
        return None
    for topic in await topics(db, visit_id):
        candidates = [topic.key.replace("-", " "), *topic.names.values()]
        if any(" ".join(words(c)) == wanted for c in candidates):
            return topic
    return None


def _pick_language(rows: list[sqlite3.Row], lang: str) -> list[FactView]:
    """One row per fact key: the reader's language, else English, else whatever exists."""
    best: dict[str, sqlite3.Row] = {}
    order: list[str] = []
    rank = {lang: 0, "en": 1}
    for row in rows:
        key = row["key"]
        if key not in best:
            order.append(key)
            best[key] = row
        elif rank.get(row["lang"], 2) < rank.get(best[key]["lang"], 2):
            best[key] = row
    return [_view(best[k]) for k in order]


def _view(row: sqlite3.Row) -> FactView:
    return FactView(
        id=row["id"],
        key=row["key"],
        topic=row["topic"],
        lang=row["lang"],
        text=row["text"],
        source_title=row["source_title"],
        source_url=row["source_url"],
    )


async def facts_for_topic(db: Database, visit_id: int, topic: str, lang: str) -> list[FactView]:
    rows = await db.fetchall(
        "SELECT * FROM facts WHERE visit_id = ? AND topic = ? ORDER BY position, id",
        (visit_id, topic),
    )
    return _pick_language(rows, lang)


def fts_query(text: str) -> str | None:
    """An FTS5 query for folded words, each as a prefix (Korean nouns carry suffixes)."""
    tokens = words(text)[:MAX_QUERY_WORDS]
    if not tokens:
        return None
    return " AND ".join(f'"{token}"*' for token in tokens)


async def search_facts(
    db: Database, visit_id: int, text: str, lang: str, limit: int = 15
) -> list[FactView]:
    """Facts matching every word of `text` in any language, shown in the reader's language."""
    query = fts_query(text)
    if query is None:
        return []
    hits = await db.fetchall(
        "SELECT f.key FROM facts_fts JOIN facts f ON f.id = facts_fts.rowid"
        " WHERE facts_fts MATCH ? AND f.visit_id = ? ORDER BY bm25(facts_fts), f.position",
        (query, visit_id),
    )
    keys: list[str] = []
    for hit in hits:
        if hit["key"] not in keys:
            keys.append(hit["key"])
    keys = keys[:limit]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    rows = await db.fetchall(
        f"SELECT * FROM facts WHERE visit_id = ? AND key IN ({marks})", (visit_id, *keys)
    )
    by_key = {view.key: view for view in _pick_language(rows, lang)}
    return [by_key[k] for k in keys if k in by_key]


async def upsert_fact(
    tx: Tx,
    visit_id: int,
    *,
    key: str,
    lang: str,
    topic: str,
    position: int,
    text: str,
    source_title: str,
    source_url: str | None,
    origin: str,
    now: str,
) -> int:
    """Insert or update one fact row and keep its full-text entry in step."""
    found = await tx.fetchone(
        "SELECT id FROM facts WHERE visit_id = ? AND key = ? AND lang = ?", (visit_id, key, lang)
    )
    if found is None:
        fact_id = await tx.execute(
            "INSERT INTO facts (visit_id, key, lang, topic, position, text, source_title,"
            " source_url, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (visit_id, key, lang, topic, position, text, source_title, source_url, origin, now),
        )
    else:
        fact_id = int(found["id"])
        await tx.execute(
            "UPDATE facts SET topic = ?, position = ?, text = ?, source_title = ?,"
            " source_url = ? WHERE id = ?",
            (topic, position, text, source_title, source_url, fact_id),
        )
        await tx.execute("DELETE FROM facts_fts WHERE rowid = ?", (fact_id,))
    await tx.execute(
        "INSERT INTO facts_fts (rowid, body) VALUES (?, ?)",
        (fact_id, fold(f"{text} {source_title}")),
    )
    return fact_id


async def add_fact(
    db: Database,
    actor: Actor,
    *,
    topic: str,
    text: str,
    source_title: str,
    source_url: str | None,
) -> int:
    """Add an admin fact (stored under 'en': readers of every language fall back to it)."""
    async with audited(db, actor) as tx:
        count = await tx.fetchone("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM facts")
        key = f"admin-{int(count['n']) if count else 1}-{int(actor.now.timestamp())}"
        fact_id = await upsert_fact(
            tx,
            actor.visit_id,
            key=key,
            lang="en",
            topic=topic,
            position=100_000,
            text=text,
            source_title=source_title,
            source_url=source_url,
            origin="admin",
            now=to_db_time(actor.now),
        )
        after = {"topic": topic, "text": text, "source_title": source_title, "url": source_url}
        await tx.log("fact.add", f"fact:{fact_id}", after=after)
        return fact_id


async def admin_facts(db: Database, visit_id: int) -> list[FactView]:
    rows = await db.fetchall(
        "SELECT * FROM facts WHERE visit_id = ? AND origin = 'admin' ORDER BY id", (visit_id,)
    )
    return [_view(r) for r in rows]


async def delete_fact(
    db: Database, actor: Actor, fact_id: int
) -> dict[str, Any] | Literal["bundled"] | None:
    """Delete an admin fact; 'bundled' for facts that belong to the visit file, None if unknown."""
    async with audited(db, actor) as tx:
        row = await tx.fetchone(
            "SELECT * FROM facts WHERE id = ? AND visit_id = ?", (fact_id, actor.visit_id)
        )
        if row is None:
            return None
        if row["origin"] != "admin":
            return "bundled"
        await tx.execute("DELETE FROM facts_fts WHERE rowid = ?", (fact_id,))
        await tx.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
        before = snapshot(row)
        await tx.log("fact.delete", f"fact:{fact_id}", before=before)
        return before

"""Reading facts: topics, a topic's facts, and folded full-text search."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from storage.db import Database
from storage.textfold import words

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
    return [
        FactView(
            id=best[k]["id"],
            key=k,
            topic=best[k]["topic"],
            lang=best[k]["lang"],
            text=best[k]["text"],
            source_title=best[k]["source_title"],
            source_url=best[k]["source_url"],
        )
        for k in order
    ]


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

"""The review queue: stories the feeds classified as signings, waiting for an admin's decision.

A decision is race-safe: `storage.stories.claim_story` takes the story out of the queue inside
the deciding transaction, and only the transaction that changed the row creates the entry, so two
admins pressing Confirm at the same moment create one agreement and the second learns it was
already done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from storage.agreements import MAX_SOURCES, AgreementFields, Saved, write_agreement
from storage.audit import Actor, audited
from storage.db import Database
from storage.news import story_sources
from storage.stories import claim_story
from storage.visit import Visit

Decision = Literal["confirmed", "dismissed"]


@dataclass(frozen=True)
class ReviewStory:
    """A story as its review card shows it."""

    id: int
    title: str
    sectors: tuple[str, ...]
    parties: tuple[str, ...]
    day: str
    review: str
    reviewed_by: int | None
    sources: tuple[tuple[str, str], ...]  # (title, url)
    agreement_id: int | None
    visit_id: int = 0


async def review_story(db: Database, visit_id: int | None, story_id: int) -> ReviewStory | None:
    """A story as its card shows it; of one visit, or (None) of whichever visit it belongs to."""
    row = await db.fetchone(
        "SELECT s.*, a.id AS agreement_id FROM stories s"
        " LEFT JOIN agreements a ON a.story_id = s.id"
        " WHERE s.id = ? AND (? IS NULL OR s.visit_id = ?)",
        (story_id, visit_id, visit_id),
    )
    if row is None:
        return None
    sources = await story_sources(db, [story_id], limit=MAX_SOURCES)
    return ReviewStory(
        id=row["id"],
        title=row["title"],
        sectors=tuple(json.loads(row["sectors"])),
        parties=tuple(json.loads(row["parties"])),
        day=row["day"],
        review=row["review"],
        reviewed_by=row["reviewed_by"],
        sources=tuple(sources.get(story_id, [])),
        agreement_id=row["agreement_id"],
        visit_id=int(row["visit_id"]),
    )


async def pending_story_ids(db: Database, visit_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM stories WHERE visit_id = ? AND kind = 'agreement' AND review = 'pending'"
        " ORDER BY first_seen_at, id",
        (visit_id,),
    )
    return [int(r["id"]) for r in rows]


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


def story_fields(story: ReviewStory, visit: Visit) -> AgreementFields:
    """The entry a confirmed story becomes: its title, first sector, day, parties and source."""
    names = {a.key: a.name.en for a in (*visit.anchors, *visit.leaders)}
    source_title, source_url = story.sources[0] if story.sources else ("", "")
    return AgreementFields(
        title=story.title,
        sector=story.sectors[0] if story.sectors else "",
        signed_on=story.day or None,
        parties=", ".join(names.get(p, p) for p in story.parties),
        source_title=source_title,
        source_url=source_url or None,
    )


async def decide_story(
    db: Database, actor: Actor, visit: Visit, story_id: int, decision: Decision
) -> Saved | bool:
    """Confirm (creating the entry) or dismiss a pending story.

    Returns `Saved` for a confirmation that created the entry, True for a dismissal, and False
    when the story was already decided (by another admin) or does not exist.
    """
    story = await review_story(db, actor.visit_id, story_id)
    if story is None:
        return False
    async with audited(db, actor) as tx:
        if not await claim_story(tx, actor, story_id, decision):
            return False
        if decision == "dismissed":
            await tx.log(
                "story.dismiss",
                f"story:{story_id}",
                before={"review": story.review},
                after={"review": "dismissed"},
            )
            return True
        return await write_agreement(
            tx, story_fields(story, visit), story_id=story_id, origin="review"
        )

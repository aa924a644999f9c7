"""The classification step shared by the polling job, `/addfeed` previews and `visitbot scan`.

All run exactly this, so what an admin sees from `scan` is what the job will do. An entry is
checked against every visit the feed serves and counts for at most one: among the visits that
find it relevant, the one with the strongest evidence (both sides beat a side and an anchor),
then the one whose days are nearest its publication.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jobs.detection import Detection, Detector, detector_for, local_day
from jobs.feeds import FeedEntry
from storage.visit import Catalog, Visit


@dataclass(frozen=True)
class Followed:
    """A visit the pipeline classifies for: its id, its definition, its compiled detector."""

    visit_id: int
    visit: Visit
    detector: Detector


def followed_visits(catalog: Catalog) -> list[Followed]:
    """Every visit of the catalog, each detector knowing its trip's other stops."""
    return [Followed(v.id, v.visit, detector_for(v.visit, catalog.other_stops(v))) for v in catalog]


@dataclass(frozen=True)
class ScannedEntry:
    entry: FeedEntry
    detection: Detection
    visit_id: int | None = None  # the visit the entry is about; None: none of them
    visit_slug: str | None = None

    def as_json(self) -> dict[str, Any]:
        published = self.entry.published
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "link": self.entry.link,
            "published": published.isoformat().replace("+00:00", "Z") if published else None,
            "relevant": self.detection.relevant,
            "visit": self.visit_slug,
            "kind": self.detection.kind,
            "sectors": list(self.detection.sectors),
            "lang": self.detection.lang,
        }


def _nearness(visit: Visit, published: dt.datetime | None) -> tuple[int, int]:
    """(1 if published during the visit or a day around it, minus the days from its start)."""
    if published is None:
        return (0, 0)
    day = local_day(visit, published)
    during = visit.starts_on - dt.timedelta(days=1) <= day <= visit.ends_on + dt.timedelta(days=1)
    return (int(during), -abs((day - visit.starts_on).days))


def classify(followed: Sequence[Followed], entries: Iterable[FeedEntry]) -> list[ScannedEntry]:
    if not followed:
        raise ValueError("classify needs at least one visit")
    scanned = []
    for entry in entries:
        best: tuple[tuple[int, int, int], Followed, Detection] | None = None
        first: Detection | None = None
        for visit in followed:
            detection, strength = visit.detector.weigh(entry.title, entry.summary, entry.published)
            first = first or detection
            if detection.relevant:
                score = (strength, *_nearness(visit.visit, entry.published))
                if best is None or score > best[0]:
                    best = (score, visit, detection)
        if best is None:
            assert first is not None
            scanned.append(ScannedEntry(entry, first))
        else:
            _, visit, detection = best
            scanned.append(ScannedEntry(entry, detection, visit.visit_id, visit.visit.slug))
    return scanned

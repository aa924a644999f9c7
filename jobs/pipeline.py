"""The classification step shared by the polling job and `visitbot scan`.

Both run exactly this, so what an admin sees from `scan` is what the job will do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jobs.detection import Detection, Detector
from jobs.feeds import FeedEntry


@dataclass(frozen=True)
class ScannedEntry:
    entry: FeedEntry
    detection: Detection

    def as_json(self) -> dict[str, Any]:
        published = self.entry.published
        return {
            "id": self.entry.id,
            "title": self.entry.title,
            "link": self.entry.link,
            "published": published.isoformat().replace("+00:00", "Z") if published else None,
            "relevant": self.detection.relevant,
            "kind": self.detection.kind,
            "sectors": list(self.detection.sectors),
            "lang": self.detection.lang,
        }


def classify(detector: Detector, entries: Iterable[FeedEntry]) -> list[ScannedEntry]:
    return [
        ScannedEntry(entry, detector.detect(entry.title, entry.summary, entry.published))
        for entry in entries
    ]

"""Detection quality on the labelled headlines, per bundled visit, written into BENCHMARKS.md.

Run: .venv/bin/python -m benchmarks.detection_quality

Each bundled visit with a labelled set (`LABELLED`) is scored on its own headlines, through the
detector the bot builds for it: with the other stops of its trip, so another stop's places are
traps. The scoring functions are shared with tests/test_detection.py and
tests/test_detection_egypt.py, which assert the thresholds; this script only records the numbers.
It replaces the "## Detection quality" section of BENCHMARKS.md and leaves every other section as
it is.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.report import write_section
from jobs.detection import Detection, Detector, detector_for
from storage.visit import Visit, load_visits

ROOT = Path(__file__).resolve().parents[1]
HEADLINES = ROOT / "tests" / "data" / "headlines.toml"
EGYPT_HEADLINES = ROOT / "tests" / "data" / "headlines-egypt.toml"
# Bundled visit slug -> its labelled headlines and a one-line description, in report order.
LABELLED: dict[str, tuple[Path, str]] = {
    "lee-jae-myung-turkiye-2025": (HEADLINES, "English, Korean and Turkish"),
    "lee-jae-myung-egypt-2025": (EGYPT_HEADLINES, "English, Korean and Arabic"),
}
SECTION = "## Detection quality"
COMMAND = ".venv/bin/python -m benchmarks.detection_quality"


@dataclass(frozen=True)
class Case:
    """One labelled headline."""

    lang: str
    title: str
    summary: str
    published: dt.datetime | None
    relevant: bool
    kind: str
    sectors: tuple[str, ...] | None
    trap: str | None
    holdout: bool = False


def load_cases(path: Path = HEADLINES) -> list[Case]:
    data = tomllib.loads(path.read_text("utf-8"))
    return [
        Case(
            lang=raw["lang"],
            title=raw["title"],
            summary=raw.get("summary", ""),
            published=raw.get("published"),
            relevant=raw["relevant"],
            kind=raw["kind"],
            sectors=tuple(raw["sectors"]) if "sectors" in raw else None,
            trap=raw.get("trap"),
            holdout=raw.get("holdout", False),
        )
        for raw in data["headline"]
    ]


@dataclass
class Row:
    """Precision/recall counts for one class."""

    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, expected: bool, predicted: bool) -> None:
        self.tp += expected and predicted
        self.fp += predicted and not expected
        self.fn += expected and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn


@dataclass
class Report:
    cases: int = 0
    rows: dict[str, Row] = field(default_factory=dict)
    lang_ok: int = 0
    sectors_checked: int = 0
    sectors_ok: int = 0
    mistakes: list[str] = field(default_factory=list)

    def row(self, name: str) -> Row:
        return self.rows.setdefault(name, Row(name))


CLASSES = ("relevant", "agreement", "agenda", "other")


def evaluate(detector: Detector, cases: Sequence[Case]) -> Report:
    """Relevance and each kind are scored as binary classes over all cases: the kind says what
    the text reports, whichever visit it is about."""
    report = Report(cases=len(cases))
    for name in CLASSES:
        report.row(name)
    for case in cases:
        got = detector.detect(case.title, case.summary, case.published)
        report.row("relevant").add(case.relevant, got.relevant)
        for kind in CLASSES[1:]:
            report.row(kind).add(case.kind == kind, got.kind == kind)
        report.lang_ok += got.lang == case.lang
        if case.sectors is not None:
            report.sectors_checked += 1
            report.sectors_ok += tuple(got.sectors) == case.sectors
        _note_mistakes(report, case, got)
    return report


def _note_mistakes(report: Report, case: Case, got: Detection) -> None:
    wrong = []
    if got.relevant != case.relevant:
        wrong.append(f"relevant={got.relevant} ({got.reason})")
    if got.kind != case.kind:
        wrong.append(f"kind={got.kind} (want {case.kind})")
    if got.lang != case.lang:
        wrong.append(f"lang={got.lang}")
    if case.sectors is not None and tuple(got.sectors) != case.sectors:
        wrong.append(f"sectors={list(got.sectors)} (want {list(case.sectors)})")
    if wrong:
        report.mistakes.append(f"{case.title!r}: " + ", ".join(wrong))


def render(report: Report) -> str:
    """The report as a Markdown table plus summary lines."""
    lines = [
        "| class | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in CLASSES:
        r = report.rows[name]
        lines.append(f"| {name} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {r.support} |")
    lines += [
        "",
        f"Headlines: {report.cases}. Language detected correctly: "
        f"{report.lang_ok}/{report.cases}. Sectors exactly right: "
        f"{report.sectors_ok}/{report.sectors_checked} labelled.",
    ]
    return "\n".join(lines)


def other_stops(visit: Visit, visits: Sequence[Visit]) -> list[Visit]:
    """The other visits of `visit`'s trip, as the bot passes them to `detector_for`."""
    if visit.trip is None:
        return []
    return [
        v
        for v in visits
        if v.slug != visit.slug and v.trip is not None and v.trip.key == visit.trip.key
    ]


def bundled_detector(slug: str) -> Detector:
    """The detector for one bundled visit, built with the other stops of its trip."""
    visits = load_visits()
    visit = next(v for v in visits if v.slug == slug)
    return detector_for(visit, other_stops(visit, visits))


@dataclass(frozen=True)
class VisitReport:
    slug: str
    name: str
    path: Path
    languages: str
    report: Report
    held_out: Report


def evaluate_bundled() -> list[VisitReport]:
    """Every labelled bundled visit scored on its headlines: all of them, and the held-out part."""
    visits = load_visits()
    results = []
    for slug, (path, languages) in LABELLED.items():
        visit = next(v for v in visits if v.slug == slug)
        detector = detector_for(visit, other_stops(visit, visits))
        cases = load_cases(path)
        results.append(
            VisitReport(
                slug=slug,
                name=visit.name.en,
                path=path,
                languages=languages,
                report=evaluate(detector, cases),
                held_out=evaluate(detector, [c for c in cases if c.holdout]),
            )
        )
    return results


def section(results: Sequence[VisitReport]) -> str:
    parts = [
        f"{SECTION}\n\n"
        "Each bundled visit is scored on its own labelled headlines, run through "
        "`jobs.detection.Detector` as the bot builds it for that visit: with the other stops of "
        "its trip, whose places are traps. Relevance and each kind are scored as binary classes "
        "over all headlines. The rules and vocabularies were developed against the headlines not "
        "marked `holdout`, so the held-out subset is the fairer estimate.\n"
    ]
    for r in results:
        path = r.path.relative_to(ROOT)
        parts.append(
            f"### {r.name} (`{r.slug}`)\n\n"
            f"Headlines in {r.languages} (`{path}`).\n\n"
            f"All headlines:\n\n{render(r.report)}\n\n"
            f"Held-out subset:\n\n{render(r.held_out)}\n"
        )
    parts.append(f"Produced by `{COMMAND}`.\n")
    return "\n".join(parts)


def main() -> None:
    results = evaluate_bundled()
    for r in results:
        print(f"{r.slug}: all headlines")
        print(render(r.report))
        print(f"{r.slug}: held-out subset")
        print(render(r.held_out))
        for mistake in r.report.mistakes:
            held = " (held out)" if mistake in r.held_out.mistakes else ""
            print(f"  -{held}", mistake)
    write_section(SECTION.removeprefix("## "), section(results).removeprefix(SECTION))


if __name__ == "__main__":
    main()

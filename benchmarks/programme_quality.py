"""Programme-news quality on labelled headlines, per bundled visit, written into BENCHMARKS.md.

Run: .venv/bin/python -m benchmarks.programme_quality

Each headline of tests/data/programme-headlines.toml goes through what the polling job does:
detection (relevant, kind "agenda"; anything else is no programme news), then
`jobs.programme.ProgrammeReader` over the visit file's programme. Scored: the mood (five classes
and "none"), the item (the right one, or none when the headline is about nothing on the
programme), both together, and the "new on the programme" cases. The baseline, measured in the
same run, is what a reader without programme vocabulary could do: the item whose title shares
most words with the headline, the mood from the calendar alone. The scoring is shared with
tests/test_programme.py, which asserts floors; this script records the numbers.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.detection_quality import Row, other_stops
from benchmarks.report import write_section
from jobs.detection import Detector, detector_for
from jobs.programme import ProgrammeItem, ProgrammeReader, items_of
from storage.textfold import fold
from storage.visit import Visit, load_visits

ROOT = Path(__file__).resolve().parents[1]
HEADLINES = ROOT / "tests" / "data" / "programme-headlines.toml"
SECTION = "## Programme news quality"
COMMAND = ".venv/bin/python -m benchmarks.programme_quality"
MOODS = ("announced", "reported", "underway", "moved", "cancelled", "none")


@dataclass(frozen=True)
class Case:
    visit: str
    lang: str
    title: str
    published: dt.datetime
    mood: str
    item: str
    holdout: bool
    new_day: dt.date | None
    note: str

    @property
    def new(self) -> bool:
        """A "new on the programme" case (labelled undecidable ones excepted)."""
        return (
            self.mood in ("announced", "reported")
            and not self.item
            and "undecidable" not in self.note
        )


def load_cases(path: Path = HEADLINES) -> list[Case]:
    data = tomllib.loads(path.read_text("utf-8"))
    return [
        Case(
            visit=raw["visit"],
            lang=raw["lang"],
            title=raw["title"],
            published=raw["published"],
            mood=raw["mood"],
            item=raw["item"],
            holdout=raw.get("holdout", False),
            new_day=raw.get("new_day"),
            note=raw.get("note", ""),
        )
        for raw in data["headline"]
    ]


@dataclass(frozen=True)
class Guess:
    mood: str
    item: str
    day: dt.date | None = None


Reader = Callable[[Case], Guess]


def programme_reader(visit: Visit, detector: Detector) -> Reader:
    """What the bot does with a headline: detection first, then the programme reader."""
    reader = ProgrammeReader(visit, items_of(visit))

    def read(case: Case) -> Guess:
        detection = detector.detect(case.title, "", case.published)
        if not detection.relevant or detection.kind != "agenda":
            return Guess("none", "")
        news = reader.read(case.title, case.published, case.published)
        if news is None:
            return Guess("none", "")
        return Guess(news.mood, news.item.key if news.item else "", news.said.day)

    return read


def baseline_reader(visit: Visit, detector: Detector) -> Reader:
    """No programme vocabulary: the item sharing most title words, the mood by the calendar."""
    items = items_of(visit)

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"\w+", fold(text)) if len(w) >= 3}

    def read(case: Case) -> Guess:
        detection = detector.detect(case.title, "", case.published)
        if not detection.relevant or detection.kind != "agenda":
            return Guess("none", "")
        headline = words(case.title)
        best: tuple[int, ProgrammeItem] | None = None
        for item in items:
            shared = len(headline & words(" ".join(item.titles.values())))
            if shared and (best is None or shared > best[0]):
                best = (shared, item)
        if best is None:
            started = case.published.astimezone(visit.timezone).date() >= visit.starts_on
            return Guess("reported" if started else "announced", "")
        item = best[1]
        return Guess("reported" if case.published >= item.starts_at else "announced", item.key)

    return read


@dataclass
class Report:
    cases: int = 0
    moods: dict[str, Row] = field(default_factory=lambda: {m: Row(m) for m in MOODS})
    mood_ok: int = 0
    item_ok: int = 0
    both_ok: int = 0
    new: Row = field(default_factory=lambda: Row("new on the programme"))
    new_day_ok: int = 0
    new_days: int = 0
    # Reported done (what alerts subscribers) for an item the headline does not report done.
    wrong_done: int = 0
    done: int = 0
    mistakes: list[str] = field(default_factory=list)

    def rate(self, count: int) -> float:
        return count / self.cases if self.cases else 1.0


def evaluate(read: Reader, cases: Sequence[Case]) -> Report:
    report = Report(cases=len(cases))
    for case in cases:
        got = read(case)
        for mood in MOODS:
            report.moods[mood].add(case.mood == mood, got.mood == mood)
        mood_ok = got.mood == case.mood
        item_ok = got.item == case.item
        report.mood_ok += mood_ok
        report.item_ok += item_ok
        report.both_ok += mood_ok and item_ok
        new = got.mood in ("announced", "reported") and not got.item
        if "undecidable" not in case.note:
            report.new.add(case.new, new)
        if got.mood == "reported" and got.item:
            report.done += 1
            report.wrong_done += not (case.mood in ("reported", "underway") and item_ok)
        if case.new_day is not None:
            report.new_days += 1
            report.new_day_ok += got.mood == "moved" and got.day == case.new_day
        if not (mood_ok and item_ok):
            report.mistakes.append(
                f"{case.title!r}: got {got.mood}/{got.item or '-'},"
                f" want {case.mood}/{case.item or '-'}"
            )
    return report


def render(report: Report, baseline: Report) -> str:
    lines = [
        "| | programme reader | baseline |",
        "|---|---:|---:|",
        f"| mood and item both right | {report.rate(report.both_ok):.3f}"
        f" | {baseline.rate(baseline.both_ok):.3f} |",
        f"| mood right | {report.rate(report.mood_ok):.3f}"
        f" | {baseline.rate(baseline.mood_ok):.3f} |",
        f"| item right (or rightly none) | {report.rate(report.item_ok):.3f}"
        f" | {baseline.rate(baseline.item_ok):.3f} |",
        f"| new on the programme, F1 | {report.new.f1:.3f} | {baseline.new.f1:.3f} |",
        f"| new day of a moved item | {report.new_day_ok}/{report.new_days}"
        f" | {baseline.new_day_ok}/{baseline.new_days} |",
        f"| items marked done wrongly (of those marked) | {report.wrong_done}/{report.done}"
        f" | {baseline.wrong_done}/{baseline.done} |",
        "",
        "| mood | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for mood in MOODS:
        r = report.moods[mood]
        lines.append(f"| {mood} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {r.support} |")
    lines.append("")
    lines.append(f"Headlines: {report.cases}.")
    return "\n".join(lines)


@dataclass(frozen=True)
class VisitReport:
    slug: str
    name: str
    languages: str
    report: Report
    baseline: Report
    held_out: Report
    held_out_baseline: Report


def evaluate_bundled(path: Path = HEADLINES) -> list[VisitReport]:
    visits = load_visits()
    cases = load_cases(path)
    results = []
    for visit in visits:
        mine = [c for c in cases if c.visit == visit.slug]
        if not mine:
            continue
        detector = detector_for(visit, other_stops(visit, visits))
        ours, base = programme_reader(visit, detector), baseline_reader(visit, detector)
        held = [c for c in mine if c.holdout]
        languages = ", ".join(dict.fromkeys(c.lang for c in mine))
        results.append(
            VisitReport(
                visit.slug,
                visit.name.en,
                languages,
                evaluate(ours, mine),
                evaluate(base, mine),
                evaluate(ours, held),
                evaluate(base, held),
            )
        )
    return results


def section(results: Sequence[VisitReport]) -> str:
    parts = [
        f"{SECTION}\n\n"
        "How well the feeds move the programme (issue 14): each labelled headline of "
        f"`{HEADLINES.relative_to(ROOT)}` (written by an independent labeller, not by whoever "
        "wrote the vocabularies) goes through detection and then `jobs.programme` over the "
        "visit's programme, as the polling job does. The baseline, run in the same process, "
        "picks the item sharing most title words and takes the mood from the calendar alone. "
        "The programme vocabularies were tuned on the headlines not marked `holdout`; the "
        "held-out subset is the fairer estimate.\n"
    ]
    for r in results:
        parts.append(
            f"### {r.name} (`{r.slug}`, {r.languages})\n\n"
            f"All headlines:\n\n{render(r.report, r.baseline)}\n\n"
            f"Held-out subset:\n\n{render(r.held_out, r.held_out_baseline)}\n"
        )
    parts.append(f"Produced by `{COMMAND}`.\n")
    return "\n".join(parts)


def main() -> None:
    results = evaluate_bundled()
    for r in results:
        print(f"{r.slug}: all headlines")
        print(render(r.report, r.baseline))
        print(f"{r.slug}: held-out subset")
        print(render(r.held_out, r.held_out_baseline))
        held = set(r.held_out.mistakes)
        for mistake in r.report.mistakes:
            print("  -" + (" (held out)" if mistake in held else ""), mistake)
    write_section(SECTION.removeprefix("## "), section(results).removeprefix(SECTION))


if __name__ == "__main__":
    main()

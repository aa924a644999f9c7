"""Detection for the second bundled visit (Egypt, en/ko/ar): labelled-headline floors on the
non-held-out headlines, Arabic spot checks, and the tour's stops trapping each other."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from benchmarks.detection_quality import (
    EGYPT_HEADLINES,
    Case,
    bundled_detector,
    evaluate,
    load_cases,
    render,
)
from jobs.detection import Detection, Detector

EGYPT = "lee-jae-myung-egypt-2025"
TURKIYE = "lee-jae-myung-turkiye-2025"
CAIRO = ZoneInfo("Africa/Cairo")
IN_WINDOW = dt.datetime(2025, 11, 20, 15, 0, tzinfo=CAIRO)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return bundled_detector(EGYPT)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(EGYPT_HEADLINES)


@pytest.fixture(scope="module")
def tuned(cases: list[Case]) -> list[Case]:
    """The headlines the vocabularies may be tuned on; the held-out ones are only measured."""
    return [c for c in cases if not c.holdout]


def detect(detector: Detector, title: str) -> Detection:
    return detector.detect(title, "", IN_WINDOW)


# --- labelled set ------------------------------------------------------------------------------


def test_labelled_set_is_large_balanced_and_partly_held_out(cases: list[Case]) -> None:
    assert 90 <= len(cases) <= 120
    for lang in ("en", "ko", "ar"):
        assert sum(c.lang == lang for c in cases) >= len(cases) // 4, lang
    for trap in ("other-stops", "phone-call", "special-envoy", "former-presidents"):
        assert sum(c.trap == trap for c in cases) >= 3, trap
    assert sum(c.kind == "agreement" for c in cases) >= 10
    held = sum(c.holdout for c in cases)
    assert len(cases) // 5 <= held <= len(cases) // 3


def test_quality_floors_on_the_tuned_headlines(detector: Detector, tuned: list[Case]) -> None:
    report = evaluate(detector, tuned)
    print("\nEgypt, headlines not held out\n" + render(report))
    for mistake in report.mistakes:
        print("  -", mistake)
    rows = report.rows
    assert rows["relevant"].f1 >= 0.95
    assert rows["agreement"].fp == 0, "a false agreement alert is the worst error"
    assert rows["agreement"].recall >= 0.9
    assert rows["agenda"].f1 >= 0.85
    assert report.lang_ok == report.cases
    assert report.sectors_ok >= 0.9 * report.sectors_checked


def test_traps_hold_without_a_date(detector: Detector, tuned: list[Case]) -> None:
    """Trap items must fail on the trap itself, not only on the tracking window."""
    for case in (c for c in tuned if c.trap):
        got = detector.detect(case.title, case.summary, None)
        assert not got.relevant, case.title
        assert got.reason.startswith(f"trap: {case.trap}"), (case.title, got.reason)


# --- Arabic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "sectors"),
    [
        ("وقعت مصر وكوريا الجنوبية مذكرة تفاهم للتعاون الثقافي", ("culture",)),
        # Egyptian spelling with a final ى, and the leaders witnessing the signing.
        ("السيسى ونظيره الكورى يشهدان توقيع مذكرتي تفاهم", ()),
        ("وزير التربية والتعليم يوقع مذكرة تفاهم مع كوريا الجنوبية", ("education",)),
    ],
)
def test_arabic_signing_reported(detector: Detector, title: str, sectors: tuple[str, ...]) -> None:
    got = detect(detector, title)
    assert got.relevant and got.lang == "ar", got.reason
    assert got.kind == "agreement"
    assert got.sectors == sectors


@pytest.mark.parametrize(
    "title",
    [
        "من المقرر أن يوقع البلدان مذكرتي تفاهم خلال زيارة الرئيس الكوري لمصر",
        "سيوقع الجانبان المصري والكوري مذكرتي تفاهم في الثقافة والتعليم",
        "مصر وكوريا الجنوبية ستوقعان مذكرتي تفاهم",
    ],
)
def test_arabic_planned_signing_is_agenda(detector: Detector, title: str) -> None:
    got = detect(detector, title)
    assert got.relevant, got.reason
    assert got.kind == "agenda"


def test_arabic_agenda_item(detector: Detector) -> None:
    got = detect(detector, "السيسي يستقبل الرئيس الكوري الجنوبي بقصر الاتحادية")
    assert got.relevant and got.kind == "agenda" and got.lang == "ar"


@pytest.mark.parametrize(
    ("title", "trap"),
    [
        ("السيسي يتلقى اتصالا هاتفيا من لي جاي ميونغ", "phone-call"),
        ("الرئيس السيسي يستقبل المبعوث الخاص لرئيس كوريا الجنوبية", "special-envoy"),
        ("الرئيس الكوري يصل إلى أبوظبي", "other-stops"),
        ("غادر الرئيس الكوري القاهرة متوجها إلى جوهانسبرغ", "other-stops"),
        ("تركيا وكوريا الجنوبية توقعان مذكرات تفاهم في أنقرة", "other-stops"),
    ],
)
def test_arabic_traps(detector: Detector, title: str, trap: str) -> None:
    got = detector.detect(title, "", None)
    assert not got.relevant
    assert got.reason.startswith(f"trap: {trap}"), got.reason


def test_arabic_coming_from_the_previous_stop_stays_relevant(detector: Detector) -> None:
    got = detect(detector, "رئيس كوريا الجنوبية يصل إلى القاهرة قادما من أبوظبي")
    assert got.relevant and got.kind == "agenda"


def test_arabic_flash_floods_are_not_seoul(detector: Detector) -> None:
    got = detect(detector, "الأرصاد المصرية تحذر من سيول في سيناء")
    assert not got.relevant and got.reason == "one side only"


# --- the tour's stops trap each other ------------------------------------------------------------


def test_egypt_detector_knows_the_turkiye_stop(detector: Detector) -> None:
    for title in ("Lee, Erdoğan sign MoUs in Ankara", "李, 앙카라서 에르도안과 회담"):
        got = detector.detect(title, "", None)
        assert got.reason.startswith("trap: other-stops"), (title, got.reason)


def test_turkiye_detector_knows_the_egypt_stop() -> None:
    turkiye = bundled_detector(TURKIYE)
    for title in (
        "Lee, El-Sisi hold talks at Ittihadiya Palace",
        "이 대통령, 카이로 대통령궁 도착",
    ):
        got = turkiye.detect(title, "", None)
        assert not got.relevant, (title, got.reason)
    assert turkiye.detect("Lee arrives in Ankara from Cairo", "", None).relevant

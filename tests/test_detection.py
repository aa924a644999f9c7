"""Detection: labelled-headline quality, folding edge cases, kinds, window, traps, merging."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from zoneinfo import ZoneInfo

import pytest

from benchmarks.detection_quality import Case, evaluate, load_cases, render
from jobs.detection import (
    Detection,
    Detector,
    StoryKey,
    match_story,
    same_story,
    story_key,
)
from storage.visit import (
    BUNDLED_VISIT,
    Localized,
    Named,
    Side,
    Visit,
    bundled_visits_dir,
    load_visit,
    load_visits,
    parse_visit,
)
from storage.visitcheck import check_data

BUNDLED_FILE = bundled_visits_dir() / BUNDLED_VISIT

IST = ZoneInfo("Europe/Istanbul")
KST = ZoneInfo("Asia/Seoul")
IN_WINDOW = dt.datetime(2025, 11, 24, 18, 0, tzinfo=IST)


@pytest.fixture(scope="module")
def visit() -> Visit:
    return load_visit()


@pytest.fixture(scope="module")
def detector(visit: Visit) -> Detector:
    """The Türkiye visit's detector as the bot builds it: knowing the trip's other stops."""
    assert visit.trip is not None
    stops = [
        v for v in load_visits() if v.trip and v.trip.key == visit.trip.key and v.slug != visit.slug
    ]
    return Detector(visit, stops)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases()


def detect(detector: Detector, title: str, summary: str = "") -> Detection:
    return detector.detect(title, summary, IN_WINDOW)


# --- labelled set ------------------------------------------------------------------------------


def test_labelled_set_is_large_and_balanced(cases: list[Case]) -> None:
    assert len(cases) >= 60
    for lang in ("en", "ko", "tr"):
        assert sum(c.lang == lang for c in cases) >= len(cases) // 4, lang
    for trap in ("other-stops", "lee-myung-bak", "phone-call"):
        assert sum(c.trap == trap for c in cases) >= 3, trap
    assert sum(c.kind == "agreement" for c in cases) >= 10


def test_quality_thresholds(detector: Detector, cases: list[Case]) -> None:
    report = evaluate(detector, cases)
    held_out = evaluate(detector, [c for c in cases if c.holdout])
    print("\nAll labelled headlines\n" + render(report))
    print("\nHeld-out subset\n" + render(held_out))
    for mistake in report.mistakes:
        print("  -", mistake)
    rows = report.rows
    assert rows["relevant"].f1 >= 0.95
    assert rows["agreement"].fp == 0, "a false agreement alert is the worst error"
    assert rows["agreement"].recall >= 0.9


def test_traps_hold_without_a_date(detector: Detector, cases: list[Case]) -> None:
    """Trap items must fail on the trap itself, not only on the tracking window."""
    for case in (c for c in cases if c.trap):
        got = detector.detect(case.title, case.summary, None)
        assert not got.relevant, case.title
        assert got.reason.startswith(f"trap: {case.trap}"), (case.title, got.reason)


# --- folding and matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "TÜRKİYE and SOUTH KOREA hold talks",
        "Turkiye, South Korea hold talks",
        "Turkey, South Korea hold talks",
        "ERDOĞAN meets Korean president",
        "Erdogan meets Korean president",
        "Lee'yi ağırlayan Erdoğan'ın mesajı",
        "Türkiye'ye gelen Kore'nin lideri",
        "Türkiye’ye gelen Kore’nin lideri",  # typographic apostrophe
        "Kore ile Türkiye arasında yeni dönem",
        "튀르키예와 한국은 형제국",
        "李, 튀르키예서 동포 간담회",
        "韓-土 정상회담",
        "韓土 정상회담",
        "한·튀르키예 정상회담",
        "한ㆍ튀르키예 정상회담",  # U+318D, which NFKC would turn into a jamo
        "한-터키 정상회담",
        "李대통령, 앙카라 도착",
        "Güney Kore Cumhurbaşkanı Lee Ankara'da",
    ],
)
def test_both_sides_are_recognised(detector: Detector, title: str) -> None:
    got = detect(detector, title)
    assert got.relevant, (title, got.reason)


@pytest.mark.parametrize(
    "title",
    [
        "Turkeyfest organisers say Korean food sells out",  # "Turkey" inside a word
        "One of a kind: Korean chef opens restaurant",  # "kind" is not KIND
        "Turkish lira slides to record low",
        "Korean won weakens against dollar",
        "문재인이 대통령 시절 방문한 앙카라",  # "이 대통령" after a syllable is a particle
    ],
)
def test_names_need_boundaries(detector: Detector, title: str) -> None:
    assert not detect(detector, title).relevant


def test_latin_terms_respect_word_boundaries(detector: Detector) -> None:
    said = detect(detector, "Türkiye and Korea said to deepen ties")
    assert "high-technology" not in said.sectors  # "AI" must not fire inside "said"
    ai = detect(detector, "Türkiye and Korea to cooperate on AI and chips")
    assert "high-technology" in ai.sectors
    assert "high-technology" in detect(detector, "한·튀르키예 AI 협력").sectors


def test_sectors_in_every_language(detector: Detector) -> None:
    assert detect(detector, "Türkiye, Korea discuss nuclear power").sectors == ("energy",)
    assert detect(detector, "한·튀르키예 원전 협력").sectors == ("energy",)
    assert detect(detector, "Türkiye ile Kore nükleerde işbirliği").sectors == ("energy",)
    assert detect(detector, "Kore ile savunmada yeni dönem: Türkiye").sectors == ("defense",)


def test_currency_swap_is_not_a_phone_call(detector: Detector) -> None:
    assert detect(detector, "한·튀르키예 통화스와프 확대 논의").relevant
    assert not detect(detector, "이 대통령, 에르도안과 통화").relevant


def test_korean_war_stays_culture_not_kepco(detector: Detector) -> None:
    got = detect(detector, "한전, 튀르키예와 원전 MOU")
    assert got.parties == ("kepco",)
    assert "culture" not in got.sectors


# --- kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Türkiye, Korea will sign nuclear MoU",
        "Türkiye, Korea to sign nuclear MoU",
        "Türkiye, Korea plan to sign nuclear MoU",
        "Türkiye, Korea expected to sign nuclear MoU",
        "MoUs to be signed as Lee visits Türkiye",
        "Türkiye ile Kore arasında anlaşmaların imzalanması planlanıyor",
        "Türkiye ile Kore arasında nükleer anlaşma imzalanacak",
        "이 대통령, 튀르키예서 MOU 서명할 예정",
        "한·튀르키예 원전 MOU 체결 예정",
        "Lee, Erdoğan agree to boost cooperation",
    ],
)
def test_plans_and_agreements_to_cooperate_are_agenda(detector: Detector, title: str) -> None:
    assert detect(detector, title).kind == "agenda"


@pytest.mark.parametrize(
    "title",
    [
        "Türkiye, Korea sign nuclear MoU",
        "Türkiye, Korea signed nuclear MoU",
        "Türkiye, Korea ink defense deal",
        "Türkiye, Korea seal road accord",
        "Three MoUs signed as Lee visits Türkiye",
        "Türkiye ile Kore arasında anlaşma imzalandı",
        "Erdoğan ve Lee anlaşmaları imzaladı",
        "Türkiye ile Kore protokole imza attı",
        "Türkiye ile Kore arasında işbirliği anlaşması imza altına alındı",
        "한·튀르키예 원전 MOU 체결",
        "한·튀르키예 양해각서 서명",
        "한전, 튀르키예와 원전 업무협약",
    ],
)
def test_completed_signings_are_agreements(detector: Detector, title: str) -> None:
    assert detect(detector, title).kind == "agreement"


def test_summary_never_makes_an_agreement(detector: Detector) -> None:
    got = detect(detector, "Lee arrives in Ankara", "Türkiye and Korea signed an FTA in 2012.")
    assert got.kind == "agenda"


# --- language ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "lang"),
    [
        ("Türkiye, South Korea ink 6 deals as Erdoğan hosts Lee", "en"),
        ("Çanakkale bridge builders eye new projects", "en"),
        ("Türkiye ile Kore arasında 6 anlaşma imzalandı", "tr"),
        ("Kore ile nükleer anlaşma masada", "tr"),
        ("이 대통령, 앙카라 도착", "ko"),
        ("李, 에르도안과 회담", "ko"),
    ],
)
def test_language(detector: Detector, title: str, lang: str) -> None:
    assert detect(detector, title).lang == lang


# --- window, summary, traps ----------------------------------------------------------------------


def test_window_uses_visit_time_zone(detector: Detector) -> None:
    title = "Lee, Erdoğan hold talks in Ankara"
    assert detector.detect(title, published=None).relevant
    late = dt.datetime(2025, 12, 25, 23, 30, tzinfo=IST)
    assert detector.detect(title, published=late).relevant
    # 22:00 UTC on 25 Dec is already 26 Dec in Istanbul.
    after = dt.datetime(2025, 12, 25, 22, 0, tzinfo=dt.UTC)
    assert detector.detect(title, published=after).reason == "outside window"
    assert detector.detect(title, published=dt.datetime(2025, 11, 9, 12, 0)).relevant is False


def test_summary_supplies_the_second_side(detector: Detector) -> None:
    title = "Kore ile nükleer anlaşma masada"
    assert not detect(detector, title).relevant
    got = detect(detector, title, "Cumhurbaşkanı Erdoğan, Lee ile Ankara'da görüşecek.")
    assert got.relevant and "summary" in got.reason


def test_title_trap_dominates_summary(detector: Detector) -> None:
    got = detect(
        detector,
        "Lee, Erdoğan meet on sidelines of G20 in Johannesburg",
        "The two leaders will meet again in Ankara for a state visit on Nov. 24.",
    )
    assert not got.relevant and got.reason == "trap: other-stops"


def test_summary_trap_counts_when_title_is_weak(detector: Detector) -> None:
    got = detect(detector, "Lee, Erdoğan agree to boost cooperation", "The leaders spoke by phone.")
    assert got.kind == "agenda"  # "agree" is talk, and only a weak title lets the summary in
    weak = detect(detector, "Lee and Erdoğan", "The leaders spoke by phone.")
    assert not weak.relevant and weak.reason.startswith("trap: phone-call")


def test_the_tour_leg_in_turkiye_stays_relevant(detector: Detector) -> None:
    for title in (
        "After G20 in Johannesburg, Lee heads to Türkiye",
        "Lee arrives in Ankara from Johannesburg",
        "UAE·이집트·남아공 이어 튀르키예 찾은 李",
        "Lee, BAE ve Mısır'ın ardından Türkiye'ye geliyor",
    ):
        assert detect(detector, title).relevant, title
    for title in (
        "Lee heads to Egypt after UAE visit",
        "Lee to visit UAE, Egypt and Türkiye",
        "Erdoğan, Lee meet at G20",
    ):
        assert not detect(detector, title).relevant, title


def test_host_leader_alone_is_one_side(detector: Detector) -> None:
    for title in (
        "Erdoğan signs deals with Qatar",
        "Erdoğan hosts Orbán at Presidential Complex in Ankara",
    ):
        got = detect(detector, title)
        assert not got.relevant and got.reason == "one side only", title


def test_second_visit_needs_no_code_changes(visit: Visit) -> None:
    """A made-up visit of Türkiye's president to Japan, built from the same loader types."""

    def named(key: str, name: str, side: Side, *aliases: str) -> Named:
        return Named(key, Localized({"en": name}), {"en": aliases}, side)

    other = dataclasses.replace(
        visit,
        name=Localized({"en": "State visit of President Erdoğan to Japan"}),
        host=named("host", "Japan", "host", "Japanese", "Tokyo", "Japonya"),
        guest=named("guest", "Türkiye", "guest", "Turkish", "Ankara"),
        leaders=(named("erdogan", "Erdoğan", "guest"), named("pm", "Takaichi", "host")),
        anchors=(named("toyota", "Toyota, Japan", "host", "Toyota"),),
        traps=(),
    )
    detector = Detector(other)
    assert detector.sides == {"erdogan": "guest", "pm": "host", "toyota": "host"}
    assert detector.detect("Erdoğan arrives in Tokyo", published=None).relevant
    assert detector.detect("Erdoğan'ın Japonya ziyareti başladı", published=None).relevant
    assert not detector.detect("Takaichi meets Toyota executives", published=None).relevant
    assert not detector.detect("Lee arrives in Ankara", published=None).relevant


# --- story merging -------------------------------------------------------------------------------

NOW = dt.datetime(2025, 11, 26, 12, 0, tzinfo=IST)


def key(detector: Detector, title: str, at: dt.datetime) -> StoryKey:
    return story_key(detector, title, detector.detect(title, published=at), at, NOW)


def test_nuclear_mou_reports_merge_across_languages(detector: Detector) -> None:
    en = key(detector, "KEPCO, Türkiye's TÜNAŞ sign MoU on Sinop nuclear power project", IN_WINDOW)
    ko = key(
        detector,
        "한국전력, 튀르키예원자력공사와 시노프 원전 양해각서 체결",
        dt.datetime(2025, 11, 25, 0, 30, tzinfo=KST),
    )
    tr = key(
        detector,
        "KEPCO ile TÜNAŞ arasında Sinop nükleer projesi için mutabakat zaptı imzalandı",
        dt.datetime(2025, 11, 24, 19, 0, tzinfo=IST),
    )
    assert {"kepco"} <= en.parties & ko.parties & tr.parties
    assert same_story(en, ko) and same_story(ko, tr) and same_story(en, tr)


def test_different_agreements_do_not_merge(detector: Detector) -> None:
    nuclear = key(detector, "KEPCO, TÜNAŞ sign nuclear MoU in Ankara", IN_WINDOW)
    road = key(
        detector, "Korea Expressway, KIND sign road PPP MoU with Türkiye's highways", IN_WINDOW
    )
    assert not same_story(nuclear, road)


def test_agenda_and_agreement_never_merge(detector: Detector) -> None:
    plan = key(detector, "KEPCO, TÜNAŞ to sign nuclear MoU in Ankara", IN_WINDOW)
    done = key(detector, "KEPCO, TÜNAŞ sign nuclear MoU in Ankara", IN_WINDOW)
    assert plan.kind == "agenda" and done.kind == "agreement"
    assert not same_story(plan, done)


def test_similar_titles_merge_without_parties(detector: Detector) -> None:
    a = key(detector, "S. Korea, Türkiye sign 3 MoUs during Lee's state visit", IN_WINDOW)
    b = key(detector, "South Korea and Türkiye sign three MoUs as Lee visits Ankara", IN_WINDOW)
    assert same_story(a, b)


def test_time_limit(detector: Detector) -> None:
    title = "KEPCO, TÜNAŞ sign nuclear MoU in Ankara"
    a = key(detector, title, IN_WINDOW)
    assert same_story(a, key(detector, title, IN_WINDOW + dt.timedelta(hours=30)))
    assert not same_story(a, key(detector, title, IN_WINDOW + dt.timedelta(hours=40)))


def test_match_story_picks_the_right_candidate(detector: Detector) -> None:
    stories = {
        1: key(detector, "Korea Expressway, KIND sign road PPP MoU with Türkiye", IN_WINDOW),
        2: key(detector, "KEPCO, TÜNAŞ sign nuclear MoU in Ankara", IN_WINDOW),
    }
    item = key(detector, "한전, 튀르키예원자력공사와 원전 MOU 체결", IN_WINDOW)
    assert match_story(item, stories) == 2
    unrelated = key(detector, "Lee, Erdoğan hold summit talks", IN_WINDOW)
    assert match_story(unrelated, stories) is None


def test_story_key_accepts_a_visit(visit: Visit, detector: Detector) -> None:
    title = "KEPCO, TÜNAŞ sign nuclear MoU"
    got = detector.detect(title)
    assert story_key(visit, title, got, None, NOW) == story_key(detector, title, got, None, NOW)


def test_a_language_without_built_in_vocabulary_comes_from_the_visit_file() -> None:
    """Nothing in detection knows German: a visit file that declares it brings the words."""
    data = tomllib.loads(BUNDLED_FILE.read_text(encoding="utf-8"))
    data["visit"]["languages"].append("de")
    for table in (data["visit"], data["host"], data["guest"], *data["leaders"]):
        table["name"]["de"] = table["name"]["en"]
    data["host"]["aliases"]["de"] = ["Türkei", "türkische", "Ankara"]
    data["guest"]["aliases"]["de"] = ["Südkorea", "südkoreanische"]
    data["vocabulary"] = {
        "de": {
            "writing": {"plural": ["e", "en", "n", "s"]},  # "südkoreanische(n)"
            "recognise": {"letters": "äöüßÄÖÜ", "words": ["und", "der", "die", "das", "mit"]},
            "signing": {
                "requires_document": True,
                "documents": ["Abkommen", "Absichtserklärung*"],
                "signed": ["unterzeichnen", "unterzeichnet", "unterzeichneten"],
                "planned": ["wollen unterzeichnen", "sollen unterzeichnet"],
            },
            "agenda": {"terms": ["Besuch*", "Gespräch*", "empfängt"]},
        }
    }
    assert check_data(data) == []
    visit = parse_visit(data)
    detector = Detector(visit)
    signed = detector.detect("Türkei und Südkorea unterzeichnen Abkommen über Kernenergie")
    assert (signed.relevant, signed.kind, signed.lang) == (True, "agreement", "de")
    planned = detector.detect("Südkorea und die Türkei wollen unterzeichnen: Abkommen geplant")
    assert planned.kind == "agenda"
    talks = detector.detect("Erdoğan empfängt den südkoreanischen Präsidenten in Ankara")
    assert (talks.relevant, talks.kind) == (True, "agenda")
    # The same headline means nothing to the visit without German: no word of it is built in.
    without = Detector(load_visit()).detect("Türkei und Südkorea unterzeichnen Abkommen")
    assert without.kind == "other"

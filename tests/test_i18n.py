"""The catalogue in three languages, locale formatting, language resolution and the visit data.

The catalogue tests are the contract for every translation: same keys, same placeholders, same
markup, and every string renders to HTML the Bot API accepts once its placeholders are filled
(with hostile text, to prove the escaping too).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    keys,
    language_for,
    placeholders,
    resolve_language,
    t,
    template,
)
from bot.render import format_clock, format_day, human_delta
from bot.standin import ApiError, parse_html
from storage import facts as fact_store
from storage.db import Database
from storage.users import set_language, user_language
from storage.visit import load_visit
from storage.visitdata import sync_visit

LOCALES = Path(__file__).resolve().parents[1] / "bot/locales"
BUNDLED = Path(__file__).resolve().parents[1] / "storage/visits/lee-jae-myung-turkiye-2025.toml"
ENGLISH_KEYS = sorted(keys(DEFAULT_LANGUAGE))
TRANSLATIONS = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]
# Text that would break HTML if it were not escaped, in the placeholders of every template.
HOSTILE = 'A&B <i>x</i> "q" 한국어 Türkçe'
_TAG = re.compile(r"</?([a-z-]+)")


def _every(lang_list: list[str]) -> list[tuple[str, str]]:
    return [(lang, key) for lang in lang_list for key in ENGLISH_KEYS]


# --- the catalogue ----------------------------------------------------------------------------


def test_every_key_exists_in_all_three_languages() -> None:
    english = keys(DEFAULT_LANGUAGE)
    assert len(english) > 100
    for lang in TRANSLATIONS:
        assert sorted(english - keys(lang)) == [], f"{lang} lacks these keys"
        assert sorted(keys(lang) - english) == [], f"{lang} has keys English no longer has"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_files_declare_their_language(lang: str) -> None:
    path = LOCALES / lang / "LC_MESSAGES" / "visitbot.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    assert str(catalog.locale) == lang
    assert not [m.id for m in catalog if m.id and m.fuzzy], "fuzzy entries are not used"


@pytest.mark.parametrize(("lang", "key"), _every(list(LANGUAGES)))
def test_every_string_renders_valid_telegram_html(lang: str, key: str) -> None:
    """Filled with hostile text, each template is valid HTML, and so is each of its lines."""
    source = template(lang, key)
    assert source, f"{lang}:{key} is empty"
    rendered = t(lang, key, **{name: HOSTILE for name in placeholders(source)})
    try:
        plain, _ = parse_html(rendered)
        for line in rendered.split("\n"):  # messages are split at lines: no tag spans two
            parse_html(line)
    except ApiError as exc:
        pytest.fail(f"{lang}:{key} renders invalid HTML ({exc.description}): {rendered!r}")
    assert "{" not in plain and "}" not in plain, f"{lang}:{key} left a placeholder unfilled"
    if placeholders(source):
        assert HOSTILE in plain  # the value arrives intact, escaped and unescaped again


@pytest.mark.parametrize(("lang", "key"), _every(TRANSLATIONS))
def test_translations_keep_placeholders_markup_and_emoji(lang: str, key: str) -> None:
    english, translated = template(DEFAULT_LANGUAGE, key), template(lang, key)
    assert english is not None and translated is not None
    assert placeholders(translated) == placeholders(english), f"{lang}:{key} placeholders"
    assert sorted(_TAG.findall(translated)) == sorted(_TAG.findall(english)), f"{lang}:{key} tags"
    assert _emoji(translated) == _emoji(english), f"{lang}:{key} emoji"
    if key != "language.name":  # the one key that is meant to differ only by language
        assert translated != english or not re.search(r"[a-z]{4}", _strip(english)), (
            f"{lang}:{key} is still English"
        )


def _emoji(text: str) -> list[str]:
    return sorted(c for c in text if unicodedata.category(c) == "So")


def _strip(text: str) -> str:
    """English words that would need translating: markup, placeholders and commands removed."""
    text = re.sub(r"<[^>]+>|\{\w+\}|/\w+|https?://\S+", "", text)
    return re.sub(r"<code>.*?</code>", "", text)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_command_descriptions_suit_telegram_menus(lang: str) -> None:
    """setMyCommands wants 3–256 characters of plain text per description."""
    names = [key for key in ENGLISH_KEYS if key.startswith("command.")]
    assert "command.language" in names
    for key in names:
        description = t(lang, key)
        assert 3 <= len(description) <= 256, f"{lang}:{key}"
        assert not re.search(r"[<>&]", description), f"{lang}:{key} is not plain text"


def test_missing_translation_falls_back_to_english() -> None:
    assert t("de", "help.title") == t("en", "help.title")
    with pytest.raises(KeyError):
        t("ko", "no.such.key")


# --- choosing the language --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ko", "ko"),
        ("ko-KR", "ko"),
        ("tr", "tr"),
        ("tr-TR", "tr"),
        ("TR", "tr"),
        ("en", "en"),
        ("en-GB", "en"),
        ("de", "en"),
        ("ja", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_from_telegram_code(code: str | None, expected: str) -> None:
    assert language_for(code) == expected


def test_a_choice_wins_over_the_code_unless_it_is_not_ours() -> None:
    assert resolve_language("tr", "ko") == "tr"
    assert resolve_language(None, "ko") == "ko"
    assert resolve_language("xx", "tr-TR") == "tr"  # a stale value in the database is ignored
    assert resolve_language(None, None) == "en"


async def test_choice_is_stored_and_can_go_back_to_automatic(tmp_path: Path) -> None:
    now = dt.datetime(2025, 11, 24, 9, 0, tzinfo=dt.UTC)
    async with await Database.open(tmp_path / "v.db") as db:
        assert (await user_language(db, 7)).chosen is None
        await set_language(db, 7, "tr", now, language_code="ko")
        stored = await user_language(db, 7)
        assert (stored.chosen, stored.language_code) == ("tr", "ko")
        await set_language(db, 7, None, now)  # automatic again; the code is kept
        stored = await user_language(db, 7)
        assert (stored.chosen, stored.language_code) == (None, "ko")


# --- dates, times and durations per locale ----------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "day", "delta"),
    [
        ("en", "November 24, 2025", "4 days"),
        ("ko", "2025년 11월 24일", "4일"),
        ("tr", "24 Kasım 2025", "4 gün"),
    ],
)
def test_dates_and_durations_per_locale(lang: str, day: str, delta: str) -> None:
    assert format_day(dt.date(2025, 11, 24), lang) == day
    assert human_delta(dt.timedelta(days=4), lang) == delta


def test_times_in_the_readers_time_zone() -> None:
    moment = dt.datetime(2025, 11, 24, 9, 30, tzinfo=dt.UTC)
    assert format_clock(moment, ZoneInfo("Europe/Istanbul"), "tr") == "12:30"
    assert format_clock(moment, ZoneInfo("Asia/Seoul"), "ko") == "18:30"


# --- the bundled visit in three languages -----------------------------------------------------

_WORD_NUMBERS = {"three": "3", "third": "3", "a year": "1", "10th": "10", "first": "1"}
_MONTHS = {
    "en": "january february march april may june july august september october november december",
    "tr": "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",
}


def _figures(text: str, lang: str) -> set[str]:
    """The numbers a text states, normalised across the three languages' conventions.

    '$8,000' / '8.000 dolar' / '8,000달러' -> 8000; '$2.8 billion' / '2,8 milyar' / '28억' ->
    2800000000; '1950 to 1953' / '1950~1953' -> 1950, 1953; Korean '10번째' and Turkish '10.'
    -> 10.
    """
    text = text.replace("T-155", "")
    found: set[str] = set()
    if lang == "ko":
        for value in re.findall(r"(\d+)억", text):
            found.add(str(int(value) * 100_000_000))
        text = re.sub(r"\d+억", "", text)
    scale = {"en": r"billion", "tr": r"milyar", "ko": r"(?!)"}[lang]
    decimal, thousands = (",", ".") if lang == "tr" else (".", ",")
    number = rf"\d{{1,3}}(?:\{thousands}\d{{3}})+|\d+(?:\{decimal}\d+)?"
    for value, big in re.findall(rf"({number})(\s*{scale})?", text):
        amount = float(value.replace(thousands, "").replace(decimal, "."))
        if big:
            amount *= 1_000_000_000
        found.add(str(int(amount)) if amount == int(amount) else str(amount))
    lowered = text.lower()
    for month, name in enumerate(_MONTHS.get(lang, "").split(), start=1):
        if re.search(rf"\b{name}", lowered):
            found.add(str(month))
    if lang == "en":
        found |= {n for word, n in _WORD_NUMBERS.items() if re.search(rf"\b{word}\b", lowered)}
    return found


def test_visit_data_has_three_languages_with_identical_figures() -> None:
    visit = load_visit(BUNDLED)
    texts = [("visit name", visit.name.values), ("venue", visit.venue.values)]
    texts += [(f"fact {f.key}", f.text.values) for f in visit.facts]
    texts += [(f"topic {x.key}", x.name.values) for x in visit.topics]
    texts += [(f"sector {s.key}", s.name.values) for s in visit.sectors]
    texts += [(f"agenda {a.key}", a.title.values) for a in visit.agenda]
    texts += [(f"agenda place {a.key}", a.place.values) for a in visit.agenda]
    texts += [(f"source {f.source.key}", f.source.title.values) for f in visit.facts]
    for label, values in texts:
        assert set(values) == set(LANGUAGES), f"{label} lacks a language"
        english = _figures(values["en"], "en")
        for lang in TRANSLATIONS:
            figures = _figures(values[lang], lang)
            assert figures <= english, f"{label} ({lang}) states {figures - english}"
            written = {n for n in english if not any(n == w for w in _WORD_NUMBERS.values())}
            assert written <= figures, f"{label} ({lang}) lacks {written - figures}"


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("교역", "trade-growth"),  # Korean words, any interface language
        ("부산", "war-busan"),
        ("şehit", "war-killed"),  # Turkish, with and without its letters
        ("sehit", "war-killed"),
        ("köprü", "canakkale-bridge"),
        ("howitzer", "defense-programs"),  # English
    ],
)
async def test_search_finds_facts_in_any_language_for_any_reader(
    tmp_path: Path, query: str, key: str
) -> None:
    visit = load_visit(BUNDLED)
    async with await Database.open(tmp_path / "v.db") as db:
        visit_id = await sync_visit(db, visit)
        for lang in LANGUAGES:
            found = await fact_store.search_facts(db, visit_id, query, lang)
            hit = next((f for f in found if f.key == key), None)
            assert hit is not None, f"{query!r} found {[f.key for f in found]} for {lang}"
            assert hit.lang == lang  # shown in the reader's language

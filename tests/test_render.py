"""Pure rendering: escaping, splitting under the limit, visit status, catalogue."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGUAGES, Html, keys, language_for, t
from bot.render import MESSAGE_LIMIT, link, split_message, utf16_len, visible_len, visit_status
from bot.standin import parse_html

IST = ZoneInfo("Europe/Istanbul")
START, END = dt.date(2025, 11, 24), dt.date(2025, 11, 25)


def test_parameters_are_escaped_but_html_is_kept() -> None:
    out = t("en", "facts.no_match", query="<b>&</b>")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in out
    out = t("en", "help.command", command="/x", description=Html("<i>ok</i>"))
    assert "<i>ok</i>" in out


def test_link_only_for_http() -> None:
    assert link("https://a.example/?q=1&r=<2>", "A & B") == (
        '<a href="https://a.example/?q=1&amp;r=&lt;2&gt;">A &amp; B</a>'
    )
    assert link("javascript:alert(1)", "x") == "x"
    assert link(None, "<src>") == "&lt;src&gt;"


def test_split_respects_limit_and_lines() -> None:
    lines = [f"• <b>line {i}</b> " + "x" * 90 for i in range(200)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1
    assert all(visible_len(p) <= MESSAGE_LIMIT for p in parts)
    assert "\n".join(parts).count("<b>") == 200
    for part in parts:
        assert part.count("<b>") == part.count("</b>")


def test_split_counts_utf16_units() -> None:
    text = "\n".join(["😀" * 1000] * 3)  # each line 2,000 UTF-16 units, 1,000 characters
    parts = split_message(text)
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in parts)
    assert len(parts) == 2  # by characters, all three lines would have fitted in one message
    assert [p.count("😀") for p in parts] == [2000, 1000]


def test_single_overlong_line_is_split_whole_keeping_its_markup() -> None:
    """6,000 visible characters on one line: two bold parts, nothing dropped."""
    parts = split_message("<b>" + "a&amp;" * 3000 + "</b>")
    assert [visible_len(p) for p in parts] == [MESSAGE_LIMIT, 6000 - MESSAGE_LIMIT]
    assert "".join(parse_html(p)[0] for p in parts) == "a&" * 3000
    assert all(p.startswith("<b>") and p.endswith("</b>") for p in parts)


def test_escaping_and_links_never_cause_a_split() -> None:
    """Telegram counts what the reader sees: "&amp;" is one, an href nothing."""
    text = "\n".join(
        f'• {"&amp;" * 30} <a href="https://x.example/{"p" * 500}">s</a>' for _ in range(110)
    )
    assert utf16_len(text) > 10 * MESSAGE_LIMIT and visible_len(text) < MESSAGE_LIMIT
    assert split_message(text) == [text]


@pytest.mark.parametrize(
    ("now", "phase", "day"),
    [
        (dt.datetime(2025, 11, 20, 12, tzinfo=dt.UTC), "upcoming", 0),
        (dt.datetime(2025, 11, 23, 21, 30, tzinfo=dt.UTC), "under_way", 1),  # 00:30 in Ankara
        (dt.datetime(2025, 11, 25, 20, 59, tzinfo=dt.UTC), "under_way", 2),
        (dt.datetime(2025, 11, 25, 21, 0, tzinfo=dt.UTC), "concluded", 0),
    ],
)
def test_visit_status_in_visit_time_zone(now: dt.datetime, phase: str, day: int) -> None:
    state = visit_status(now, START, END, IST)
    assert (state.phase, state.day, state.days) == (phase, day, 2)


def test_language_mapping() -> None:
    assert language_for("ko") == "ko"
    assert language_for("tr-TR") == "tr"
    assert language_for("en-GB") == "en"
    assert language_for("de") == "en"
    assert language_for(None) == "en"


def test_catalogue_templates_are_well_formed() -> None:
    for lang in LANGUAGES:
        for key in keys(lang):
            assert t(lang, key, **{n: "x" for n in _placeholders(lang, key)})


def _placeholders(lang: str, key: str) -> set[str]:
    from bot.i18n import _catalog

    return set(re.findall(r"{(\w+)}", _catalog(lang)[key]))


def test_a_tag_spanning_lines_is_closed_and_reopened_at_a_cut() -> None:
    """A value with line breaks inside a tag (a multi-line source title) cut between parts."""
    facts = [f"• fact {i} " + "x" * 300 + " <i>(Ministry press release" for i in range(14)]
    text = "\n".join(f"{fact}\nsecond line of the source)</i>" for fact in facts)
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= MESSAGE_LIMIT
        parse_html(part)  # raises like Telegram on unbalanced or unknown tags
        assert part.count("<i>") == part.count("</i>")
    plain = "".join(parse_html(part)[0] for part in parts)
    assert plain.count("second line of the source") == 14


def test_stray_closing_tags_are_dropped() -> None:
    long_line = "y" * 3000
    parts = split_message(f'<a href="https://x.example/{"p" * 200}">label\n{long_line}\nend</a>')
    for part in parts:
        parse_html(part)

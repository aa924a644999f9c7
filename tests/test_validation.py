"""Pure validation: every rule and every message key, without Telegram or a database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import keys
from bot.validation import (
    FACT_MAX,
    PARTIES_MAX,
    TITLE_MAX,
    AgreementDraft,
    ValidationError,
    parse_agenda_line,
    parse_agreement_edit,
    parse_agreement_line,
    parse_broadcast,
    parse_fact_line,
    parse_id,
    parse_local_time,
    parse_parties,
    parse_source,
    parse_title,
    parse_url,
    similar_titles,
    similarity,
    split_fields,
)
from jobs.feeds import forbidden_address

SECTORS = {"energy": ["Energy", "에너지"], "high-technology": ["High technology"]}
TOPICS = {"trade": ["Trade"], "korean-war": ["Korean War"]}
ISTANBUL = ZoneInfo("Europe/Istanbul")


def error_of(call: object, *args: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.key in keys("en"), f"{info.value.key} missing from the catalogue"
    return info.value


def test_split_fields_ignores_whitespace_around_bars() -> None:
    assert split_fields("  a |b|   c  ") == ["a", "b", "c"]
    assert split_fields("   ") == []


def test_one_line_agreement_all_fields() -> None:
    draft = parse_agreement_line(
        "Nuclear MoU | high technology | 2025-11-24 | KEPCO, EÜAŞ | https://x.example/a",
        SECTORS,
    )
    assert draft == AgreementDraft(
        "Nuclear MoU",
        "high-technology",
        dt.date(2025, 11, 24),
        "KEPCO, EÜAŞ",
        "https://x.example/a",
    )


def test_one_line_agreement_title_only_and_sector_by_any_name() -> None:
    assert parse_agreement_line("Just a title", SECTORS) == AgreementDraft("Just a title")
    assert parse_agreement_line("T | 에너지", SECTORS).sector == "energy"
    assert parse_agreement_line("T | ENERGY | | |", SECTORS).sector == "energy"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("", "validation.title_required"),
        (" | energy", "validation.title_required"),
        ("T | farming", "validation.unknown_sector"),
        ("T | energy | 24.11.2025", "validation.bad_date"),
        ("T | energy | 2025-02-30", "validation.bad_date"),
        ("T | | | | javascript:alert(1)", "validation.bad_url"),
        ("T | | | | ftp://x.example/a", "validation.bad_url"),
        ("T | | | | www.example.com", "validation.bad_url"),
        ("x" * (TITLE_MAX + 1), "validation.too_long"),
        ("T | | | " + "p" * (PARTIES_MAX + 1), "validation.too_long"),
        ("a | b | c | d | e | f", "validation.too_many_fields"),
    ],
)
def test_one_line_agreement_errors(line: str, key: str) -> None:
    assert error_of(parse_agreement_line, line, SECTORS).key == key


def test_unknown_sector_lists_the_known_ones() -> None:
    error = error_of(parse_agreement_line, "T | farming", SECTORS)
    assert error.params["known"] == "energy, high-technology"


def test_edit_parsing() -> None:
    edit = parse_agreement_edit("7 title=New = title", SECTORS)
    assert (edit.agreement_id, edit.field, edit.value) == (7, "title", "New = title")
    assert parse_agreement_edit("7 date=", SECTORS).value is None
    assert parse_agreement_edit("7 source=https://a.example", SECTORS).field == "source_url"
    assert parse_agreement_edit("7 status=Confirmed", SECTORS).value == "confirmed"
    assert error_of(parse_agreement_edit, "7 colour=red", SECTORS).key == "validation.unknown_field"
    assert error_of(parse_agreement_edit, "7", SECTORS).key == "validation.edit_usage"
    assert error_of(parse_agreement_edit, "x title=a", SECTORS).key == "validation.bad_id"
    assert error_of(parse_agreement_edit, "7 status=maybe", SECTORS).key == "validation.bad_status"


def test_local_time_is_converted_to_utc() -> None:
    moment, known = parse_local_time("2025-11-24  14:30", ISTANBUL)
    assert known and moment == dt.datetime(2025, 11, 24, 11, 30, tzinfo=dt.UTC)
    day, known = parse_local_time("2025-11-25", ISTANBUL)
    assert not known and day == dt.datetime(2025, 11, 24, 21, 0, tzinfo=dt.UTC)
    for bad in ("2025-11-24 25:00", "tomorrow", "2025-11-24 9"):
        assert error_of(parse_local_time, bad, ISTANBUL).key == "validation.bad_datetime"


def test_agenda_line() -> None:
    draft = parse_agenda_line("2025-11-24 14:30 | Talks | Presidential Complex", ISTANBUL)
    assert draft.title == "Talks" and draft.place == "Presidential Complex" and draft.time_known
    assert parse_agenda_line("2025-11-24 14:30 | Talks", ISTANBUL).place == ""
    assert error_of(parse_agenda_line, "Talks", ISTANBUL).key == "validation.agenda_usage"
    assert error_of(parse_agenda_line, "x | Talks", ISTANBUL).key == "validation.bad_datetime"
    long_place = "2025-11-24 | T | " + "p" * 201
    assert error_of(parse_agenda_line, long_place, ISTANBUL).key == "validation.too_long"


def test_fact_line_and_sources() -> None:
    draft = parse_fact_line("trade | Trade grew. | KITA https://kita.example/x", TOPICS)
    assert (draft.topic, draft.source_title, draft.source_url) == (
        "trade",
        "KITA",
        "https://kita.example/x",
    )
    assert parse_fact_line("Korean War | t | Yonhap", TOPICS).source_url is None
    assert parse_source("https://kita.example/x") == ("kita.example", "https://kita.example/x")
    assert error_of(parse_fact_line, "trade | t", TOPICS).key == "validation.fact_usage"
    assert error_of(parse_fact_line, "sport | t | s", TOPICS).key == "validation.unknown_topic"
    too_long = "trade | " + "x" * (FACT_MAX + 1) + " | s"
    assert error_of(parse_fact_line, too_long, TOPICS).key == "validation.too_long"
    assert error_of(parse_fact_line, "trade | t | s javascript://x", TOPICS).key == (
        "validation.bad_url"
    )


def test_ids_urls_and_broadcasts() -> None:
    assert parse_id("#12") == 12
    for bad in ("0", "-3", "abc", "1" * 19):
        assert error_of(parse_id, bad).key == "validation.bad_id"
    assert parse_url(" https://a.example/x?y=1 ") == "https://a.example/x?y=1"
    assert error_of(parse_url, "https://").key == "validation.bad_url"
    assert error_of(parse_url, "https://" + "a" * 2000).key == "validation.too_long"
    assert parse_broadcast("  hi  ") == "hi"
    assert error_of(parse_broadcast, " ").key == "validation.broadcast_usage"
    assert error_of(parse_broadcast, "x" * 3001).key == "validation.broadcast_too_long"


def test_similar_titles() -> None:
    existing = [
        (1, "MoU on nuclear energy cooperation"),
        (2, "Defense industry agreement"),
        (3, "Nuclear energy cooperation MoU signed"),
    ]
    assert similarity("ABC", "abc") == 1.0
    found = similar_titles("nuclear energy cooperation MoU", existing)
    assert [i for i, _ in found] == [1, 3]
    assert similar_titles("Tourism action plan", existing) == []


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.10", True),
        ("172.16.5.4", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("not an ip", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert forbidden_address(address) is forbidden


def test_single_line_fields_fold_line_breaks() -> None:
    assert parse_title("  Nuclear\nenergy   MoU ") == "Nuclear energy MoU"
    assert parse_parties("KEPCO\n–\tTÜNAŞ") == "KEPCO – TÜNAŞ"
    assert parse_source("Ministry\npress release https://a.example/x") == (
        "Ministry press release",
        "https://a.example/x",
    )
    assert split_fields("a\nb | c\r\nd") == ["a b", "c d"]

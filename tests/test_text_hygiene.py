"""What admins type and what feeds say is shown to others as written, but on one line where it
is one line, and without bidirectional overrides (which make text read in another order).

The overrides are U+202A-U+202E and U+2066-U+2069. They are removed where text arrives
(validation, feed parsing) and again by `escape`, for rows stored before.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import escape
from bot.validation import (
    one_line,
    parse_agenda_line,
    parse_agreement_edit,
    parse_agreement_line,
    parse_broadcast,
    parse_fact_line,
    parse_place,
    parse_title,
    parse_url,
)
from jobs.feeds import parse_feed_bytes
from storage.agreements import AgreementFields, save_agreement
from storage.audit import Actor
from storage.textfold import BIDI_CONTROLS, strip_bidi
from tests.conftest import ADMIN_ID, USER_ID, BotHarness
from tests.test_admin_e2e import SUBSCRIBER, alerts, assert_no_rejections, rows, subscribe

RLO, PDF, RLI, PDI = "\u202e", "\u202c", "\u2067", "\u2069"
EVERY_BIDI = "".join(sorted(BIDI_CONTROLS))
SECTORS = {"energy": ["Energy"]}
ISTANBUL = ZoneInfo("Europe/Istanbul")


def has_bidi(text: str) -> bool:
    return not BIDI_CONTROLS.isdisjoint(text)


# --- line breaks in agenda places --------------------------------------------------------------

FAKE_DAY = "Ankara\n\nNovember 26, 2025\n09:00 · Secret talks — Incirlik"


async def test_editagenda_place_is_folded_to_one_line_so_agenda_shows_no_fake_day(
    bot: BotHarness,
) -> None:
    await bot.ask(ADMIN_ID, "/addagenda 2025-11-25 16:30 | Business forum | Ankara")
    [item] = await rows(bot, "SELECT * FROM agenda_items WHERE origin = 'admin'")
    [edited] = await bot.ask(ADMIN_ID, f"/editagenda {item['id']} place={FAKE_DAY}")
    assert "changed" in edited.text
    [stored] = await rows(bot, "SELECT place FROM agenda_items WHERE id = ?", (item["id"],))
    assert "\n" not in stored["place"]
    [agenda] = await bot.ask(USER_ID, "/agenda")
    lines = agenda.text.split("\n")
    assert "November 26, 2025" not in lines  # no day heading of its own
    assert not any(line.startswith("09:00 · Secret talks") for line in lines)
    assert (
        "16:30 · Business forum — Ankara November 26, 2025 09:00 · Secret talks — Incirlik"
        in agenda.text
    )
    assert_no_rejections(bot)


def test_places_are_one_line_wherever_they_are_typed() -> None:
    assert parse_place(FAKE_DAY) == " ".join(FAKE_DAY.split())
    assert parse_place("  ") == ""
    draft = parse_agenda_line("2025-11-25 16:30 | Forum | Ankara\u2028Palas", ISTANBUL)
    assert draft.place == "Ankara Palas"  # a Unicode line separator is a line break too


# --- bidi overrides ----------------------------------------------------------------------------


def test_strip_bidi_removes_exactly_the_embedding_override_and_isolate_controls() -> None:
    assert {f"{ord(c):04X}" for c in BIDI_CONTROLS} == {
        "202A", "202B", "202C", "202D", "202E", "2066", "2067", "2068", "2069",
    }  # fmt: skip
    assert strip_bidi(f"a{EVERY_BIDI}b") == "ab"
    # Marks that do not reorder anything, and right-to-left letters, stay.
    assert strip_bidi("\u200e\u200fשלום") == "\u200e\u200fשלום"


@pytest.mark.parametrize(
    ("parse", "typed"),
    [
        (parse_title, f"Invoice {RLO}fdp.exe{PDF}"),
        (one_line, f"{RLI}KEPCO{PDI} and EÜAŞ"),
        (parse_place, f"Ankara {RLO}salaP{PDF}"),
        (parse_broadcast, f"Press conference\n{RLO}moved{PDF} to 15:00"),
    ],
)
def test_admin_text_loses_bidi_overrides(parse: Callable[[str], str], typed: str) -> None:
    cleaned = parse(typed)
    assert cleaned == strip_bidi(typed).strip() or cleaned == " ".join(strip_bidi(typed).split())
    assert not has_bidi(cleaned)
    if parse is parse_broadcast:
        assert "\n" in cleaned  # a broadcast keeps its line breaks


def test_every_agreement_and_fact_field_loses_bidi_overrides() -> None:
    draft = parse_agreement_line(
        f"Nuclear {RLO}UoM{PDF} | energy | 2025-11-24 | {RLI}KHNP{PDI}"
        f" | https://example.com/{RLO}a",
        SECTORS,
    )
    assert not any(has_bidi(str(v)) for v in vars(draft).values())
    assert draft.source_url == "https://example.com/a"
    edit = parse_agreement_edit(f"3 parties={RLO}KHNP{PDF}", SECTORS)
    assert edit.value == "KHNP"
    fact = parse_fact_line(
        f"trade | Trade {RLO}grew{PDF} | {RLI}Ministry{PDI} https://example.com/x",
        {"trade": ["Trade"]},
    )
    assert not any(has_bidi(str(v)) for v in vars(fact).values())
    assert parse_url(f"https://example.com/{RLO}x") == "https://example.com/x"


async def test_an_agreement_with_overrides_reaches_subscribers_without_them(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    [saved] = await bot.ask(
        ADMIN_ID, f"/addagreement Invoice {RLO}fdp.exe{PDF} | energy | | {RLI}KHNP{PDI}"
    )
    assert "saved as Confirmed" in saved.text and not has_bidi(saved.text)
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE origin = 'admin'")
    assert (entry["title"], entry["parties"]) == ("Invoice fdp.exe", "KHNP")
    [alert] = await alerts(bot, "agreement")
    assert alert["payload"]["title"] == "Invoice fdp.exe"
    [received] = await bot.standin.wait_for_messages(SUBSCRIBER, 1)
    assert "Invoice fdp.exe" in received.text and not has_bidi(received.text)
    assert_no_rejections(bot)


async def test_a_broadcast_with_overrides_reaches_subscribers_without_them(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    await bot.ask(ADMIN_ID, f"/broadcast Briefing {RLO}moved{PDF} to 15:00")
    [alert] = await alerts(bot, "broadcast")
    assert alert["payload"] == {"text": "Briefing moved to 15:00"}
    [received] = await bot.standin.wait_for_messages(SUBSCRIBER, 1)
    assert received.text == "📣 Briefing moved to 15:00"


async def test_rows_stored_with_overrides_are_shown_without_them(bot: BotHarness) -> None:
    """Text stored before this release, or written by another path, is cleaned by `escape`."""
    svc = bot.services
    fields = AgreementFields(
        title=f"Old {RLO}eltit{PDF} entry",
        sector="energy",
        signed_on="2025-11-24",
        parties=f"{RLI}KHNP{PDI}",
        source_title=f"{RLO}Yonhap",
        source_url="https://example.com/old",
    )
    await save_agreement(svc.db, Actor(ADMIN_ID, svc.visit_id, svc.now()), fields)
    [listing] = await bot.ask(USER_ID, "/agreements")
    assert "Old eltit entry" in listing.text and not has_bidi(listing.text)
    assert listing.html is not None and not has_bidi(listing.html)
    assert escape(f"<{RLO}>") == "&lt;&gt;"


# --- feeds ---------------------------------------------------------------------------------------


async def test_feed_titles_and_summaries_lose_bidi_overrides() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Daily {RLO}sweN{PDF}</title>"
        f"<item><title>Lee, Erdoğan sign {RLO}UoM{PDF} &#x2067;in Ankara&#x2069;</title>"
        "<link>https://news.example/1</link><guid>1</guid>"
        f"<description>&lt;p&gt;Signed {RLO}today{PDF}&lt;/p&gt;</description></item>"
        "</channel></rss>"
    )
    feed = await parse_feed_bytes(body.encode())
    assert feed.title == "Daily sweN"
    [entry] = feed.entries
    assert entry.title == "Lee, Erdoğan sign UoM in Ankara"  # entities decoded, then removed
    assert entry.summary == "Signed today"

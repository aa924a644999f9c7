"""Admin curation end to end: the real Application driven through the Bot API stand-in.

Agreements (one-line and guided), agenda, facts, broadcast, admins, the audit log, refusals for
non-admins, every validation message, and HTML-looking input shown literally. The review queue
and feeds have their own modules; the helpers here are shared with them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from bot.commands import admin_commands
from bot.i18n import t
from bot.standin import SentMessage
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, buttons

SECOND_ADMIN = 43
SUBSCRIBER = 2002
TABLES = (
    "agreements",
    "agenda_items",
    "facts",
    "feeds",
    "admins",
    "audit_log",
    "alerts",
    "stories",
)


def assert_no_rejections(bot: BotHarness) -> None:
    """The stand-in refused nothing: every message was valid HTML under the limit."""
    assert not bot.standin.errors_returned, bot.standin.errors_returned


async def rows(bot: BotHarness, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    return [dict(r) for r in await bot.services.db.fetchall(sql, params)]


async def snapshot(bot: BotHarness) -> dict[str, list[dict[str, Any]]]:
    """Everything an admin command could change, to assert that a refusal changed nothing."""
    return {table: await rows(bot, f"SELECT * FROM {table} ORDER BY rowid") for table in TABLES}


async def subscribe(bot: BotHarness, chat_id: int = SUBSCRIBER) -> None:
    """A subscribed private chat, written directly so these tests do not depend on /subscribe."""
    if chat_id not in bot.standin._chats:
        bot.standin.add_user(chat_id, first_name="Reader")
    stamp = "2025-11-01T00:00:00+00:00"
    db = bot.services.db
    await db.execute(
        "INSERT OR IGNORE INTO chats (chat_id, type, created_at, updated_at)"
        " VALUES (?, 'private', ?, ?)",
        (chat_id, stamp, stamp),
    )
    await db.execute(
        "INSERT OR IGNORE INTO subscriptions (visit_id, chat_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?)",
        (bot.services.visit_id, chat_id, stamp, stamp),
    )


async def alerts(bot: BotHarness, kind: str) -> list[dict[str, Any]]:
    found = await rows(bot, "SELECT * FROM alerts WHERE kind = ? ORDER BY id", (kind,))
    for alert in found:
        alert["payload"] = json.loads(alert["payload"])
        alert["chats"] = [
            r["chat_id"]
            for r in await rows(
                bot, "SELECT chat_id FROM deliveries WHERE alert_id = ?", (alert["id"],)
            )
        ]
    return found


async def audit_actions(bot: BotHarness) -> list[str]:
    return [r["action"] for r in await rows(bot, "SELECT action FROM audit_log ORDER BY id")]


async def add_second_admin(bot: BotHarness) -> None:
    bot.standin.add_user(SECOND_ADMIN, first_name="Second")
    [done] = await bot.ask(ADMIN_ID, f"/addadmin {SECOND_ADMIN}")
    assert "is now an admin" in done.text


def text_of(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


# --- refusals --------------------------------------------------------------------------------

ADMIN_COMMANDS = [
    "/addagreement Nuclear MoU | energy",
    "/addagreement",
    "/editagreement 1 title=Changed",
    "/delagreement 1",
    "/addagenda 2025-11-24 10:00 | Talks | Ankara",
    "/editagenda 1 title=Changed",
    "/delagenda 1",
    "/review",
    "/feeds",
    "/addfeed https://example.com/rss",
    "/delfeed 1",
    "/pausefeed 1",
    "/resumefeed 1",
    "/addfact trade | A fact | Source",
    "/delfact 1",
    "/broadcast Hello everyone",
    "/audit",
    "/admins",
    "/addadmin 77",
    "/deladmin 77",
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_non_admin_is_refused_politely_and_nothing_changes(
    bot: BotHarness, command: str
) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(USER_ID, command)
    assert "Sorry" in answer.text and "Nothing was changed" in answer.text
    assert await snapshot(bot) == before
    assert_no_rejections(bot)


@pytest.mark.parametrize("command", ["/admins", "/addadmin 77", "/deladmin 77"])
async def test_admins_who_are_not_owners_cannot_manage_admins(
    bot: BotHarness, command: str
) -> None:
    await add_second_admin(bot)
    before = await snapshot(bot)
    [answer] = await bot.ask(SECOND_ADMIN, command)
    assert "only the bot's owners" in answer.text
    assert await snapshot(bot) == before


# --- admins ----------------------------------------------------------------------------------


async def test_owner_adds_and_removes_an_admin_and_their_menu_follows(bot: BotHarness) -> None:
    await add_second_admin(bot)
    scope = {"chat_id": SECOND_ADMIN, "type": "chat"}
    menu = {c["command"] for c in bot.standin.commands_for(scope)}
    assert {"addagreement", "review", "audit"} <= menu and "addadmin" not in menu
    [listing] = await bot.ask(ADMIN_ID, "/admins")
    assert f"{ADMIN_ID} — owner" in listing.text and f"{SECOND_ADMIN} — admin" in listing.text
    [again] = await bot.ask(ADMIN_ID, f"/addadmin {SECOND_ADMIN}")
    assert "already" in again.text
    [owner] = await bot.ask(ADMIN_ID, f"/addadmin {ADMIN_ID}")
    assert "owner already" in owner.text

    [works] = await bot.ask(SECOND_ADMIN, "/audit")
    assert "Audit log" in works.text

    [removed] = await bot.ask(ADMIN_ID, f"/deladmin {SECOND_ADMIN}")
    assert "no longer an admin" in removed.text
    assert bot.standin.commands_for(scope) == []
    [refused] = await bot.ask(SECOND_ADMIN, "/audit")
    assert "Sorry" in refused.text
    [unknown] = await bot.ask(ADMIN_ID, f"/deladmin {SECOND_ADMIN}")
    assert "is not an admin" in unknown.text
    [cannot] = await bot.ask(ADMIN_ID, f"/deladmin {ADMIN_ID}")
    assert "is an owner" in cannot.text
    [bad] = await bot.ask(ADMIN_ID, "/addadmin bob")
    assert "is not an ID" in bad.text
    [usage] = await bot.ask(ADMIN_ID, "/addadmin")
    assert "Usage" in usage.text
    assert await audit_actions(bot) == ["admin.add", "admin.remove"]
    assert_no_rejections(bot)


# --- agreements: one line --------------------------------------------------------------------


async def test_one_line_agreement_is_confirmed_audited_and_alerted(bot: BotHarness) -> None:
    await subscribe(bot)
    [saved] = await bot.ask(
        ADMIN_ID,
        "/addagreement   Tourism action plan  |  tourism | 2025-11-24 |"
        " Ministry of Culture and Tourism | https://example.com/tourism",
    )
    assert "saved as Confirmed" in saved.text
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE origin = 'admin'")
    assert entry["title"] == "Tourism action plan"  # whitespace around | ignored
    assert (entry["sector"], entry["signed_on"], entry["status"]) == (
        "tourism",
        "2025-11-24",
        "confirmed",
    )
    assert entry["source_url"] == "https://example.com/tourism"
    assert entry["created_by"] == ADMIN_ID

    [alert] = await alerts(bot, "agreement")
    assert alert["chats"] == [SUBSCRIBER]
    payload = alert["payload"]
    assert payload["title"] == "Tourism action plan" and payload["status"] == "confirmed"
    assert payload["sector"] == "tourism" and payload["signed_on"] == "2025-11-24"
    assert payload["agreement_id"] == entry["id"] and payload["story_id"] is None
    assert payload["sources"] == [{"title": "example.com", "url": "https://example.com/tourism"}]

    [audit] = await rows(bot, "SELECT * FROM audit_log")
    assert (audit["actor_id"], audit["action"]) == (ADMIN_ID, "agreement.add")
    assert json.loads(audit["after"])["title"] == "Tourism action plan"

    listing = await bot.ask(USER_ID, "/agreements")
    assert "Tourism action plan" in text_of(listing) and "Confirmed" in text_of(listing)
    assert f"#{entry['id']}" not in text_of(listing)  # IDs are for admins
    admin_listing = await bot.ask(ADMIN_ID, "/agreements")
    assert f"#{entry['id']}" in text_of(admin_listing)
    assert_no_rejections(bot)


async def test_one_line_agreement_with_title_only(bot: BotHarness) -> None:
    [saved] = await bot.ask(ADMIN_ID, "/addagreement Memorandum on space cooperation")
    assert "saved as Confirmed" in saved.text
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE origin = 'admin'")
    assert (entry["sector"], entry["signed_on"], entry["parties"], entry["source_url"]) == (
        "",
        None,
        "",
        None,
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("Space MoU | farming", ["Unknown sector", "farming", "energy", "tourism"]),
        ("Space MoU | energy | 24/11/2025", ["is not a date", "YYYY-MM-DD"]),
        ("Space MoU | energy | 2025-13-01", ["is not a date"]),
        ("Space MoU | | | | javascript:alert(1)", ["not a web address", "http"]),
        ("Space MoU | | | | ftp://example.com/x", ["not a web address"]),
        ("x" * 201, ["title is too long", "201", "200"]),
        ("Space MoU | | | " + "p" * 301, ["parties is too long", "300"]),
        (" | energy", ["title is required"]),
        ("a | b | c | d | e | f", ["at most 5 fields"]),
    ],
)
async def test_agreement_validation_messages(
    bot: BotHarness, arguments: str, expected: list[str]
) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/addagreement {arguments}")
    for fragment in expected:
        assert fragment in answer.text
    assert await snapshot(bot) == before
    assert_no_rejections(bot)


async def test_similar_title_asks_before_saving(bot: BotHarness) -> None:
    await bot.ask(ADMIN_ID, "/addagreement Space cooperation memorandum | high-technology")
    [question] = await bot.ask(ADMIN_ID, "/addagreement Memorandum on space cooperation")
    assert "similar entry exists" in question.text
    assert "Space cooperation memorandum" in question.text
    choices = buttons(question)
    assert set(choices) == {"✅ Save anyway", "✖ Cancel"}
    assert len(await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")) == 1

    await bot.press(ADMIN_ID, question, choices["✖ Cancel"], replies=2)
    assert "Nothing was saved" in bot.standin.messages_to(ADMIN_ID)[-1].text
    assert len(await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")) == 1

    [question] = await bot.ask(ADMIN_ID, "/addagreement Memorandum on space cooperation")
    await bot.press(ADMIN_ID, question, buttons(question)["✅ Save anyway"], replies=2)
    assert "saved as Confirmed" in bot.standin.messages_to(ADMIN_ID)[-1].text
    assert len(await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")) == 2
    # The bundled registry is checked too: it already lists a nuclear energy entry.
    [bundled] = await bot.ask(ADMIN_ID, "/addagreement Nuclear energy cooperation MoU")
    assert "similar entry exists" in bundled.text or "saved as Confirmed" in bundled.text
    assert_no_rejections(bot)


# --- agreements: guided ----------------------------------------------------------------------


async def test_guided_agreement_with_sector_buttons(bot: BotHarness) -> None:
    await subscribe(bot)
    [ask_title] = await bot.ask(ADMIN_ID, "/addagreement")
    assert "title" in ask_title.text and "/cancel" in ask_title.text
    [ask_sector] = await bot.ask(ADMIN_ID, "Defense industry roadmap")
    sectors = buttons(ask_sector)
    assert "Defense industry" in sectors and "No sector" in sectors
    [ask_date] = await bot.press(ADMIN_ID, ask_sector, sectors["Defense industry"])
    assert "signed" in ask_date.text
    [bad_date] = await bot.ask(ADMIN_ID, "next week")
    assert "is not a date" in bad_date.text  # the step is asked again, not the conversation lost
    [ask_parties] = await bot.ask(ADMIN_ID, "2025-11-25")
    assert "parties" in ask_parties.text
    [ask_source] = await bot.ask(ADMIN_ID, "SSB and DAPA")
    [bad_url] = await bot.ask(ADMIN_ID, "mailto:press@example.com")
    assert "not a web address" in bad_url.text
    [confirm] = await bot.ask(ADMIN_ID, "/skip")
    assert "Save this agreement" in confirm.text
    assert "Defense industry roadmap" in confirm.text and "SSB and DAPA" in confirm.text
    assert ask_source is not None
    await bot.press(ADMIN_ID, confirm, buttons(confirm)["✅ Save"], replies=2)
    assert "saved as Confirmed" in bot.standin.messages_to(ADMIN_ID)[-1].text
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE origin = 'admin'")
    assert (entry["title"], entry["sector"], entry["signed_on"], entry["parties"]) == (
        "Defense industry roadmap",
        "defense",
        "2025-11-25",
        "SSB and DAPA",
    )
    assert entry["source_url"] is None
    assert len(await alerts(bot, "agreement")) == 1
    assert_no_rejections(bot)


async def test_guided_agreement_typed_sector_skips_and_cancel(bot: BotHarness) -> None:
    await bot.ask(ADMIN_ID, "/addagreement")
    [too_long] = await bot.ask(ADMIN_ID, "t" * 250)
    assert "title is too long" in too_long.text
    await bot.ask(ADMIN_ID, "Culture exchange programme")
    [unknown] = await bot.ask(ADMIN_ID, "cooking")
    assert "Unknown sector" in unknown.text and "culture" in unknown.text
    await bot.ask(ADMIN_ID, "Culture")
    await bot.ask(ADMIN_ID, "/skip")
    [cancelled] = await bot.ask(ADMIN_ID, "/cancel")
    assert "Nothing was saved" in cancelled.text
    assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []
    # after /cancel, plain text is a facts search again, not a conversation step
    [search] = await bot.ask(ADMIN_ID, "bridge")
    assert "Çanakkale" in search.text


async def test_guided_agreement_cancel_button(bot: BotHarness) -> None:
    await bot.ask(ADMIN_ID, "/addagreement")
    [sector] = await bot.ask(ADMIN_ID, "Tourism roadmap")
    await bot.press(ADMIN_ID, sector, buttons(sector)["No sector"])
    await bot.ask(ADMIN_ID, "/skip")
    await bot.ask(ADMIN_ID, "/skip")
    [confirm] = await bot.ask(ADMIN_ID, "https://example.com/t")
    [told] = await bot.ask(ADMIN_ID, "yes please")
    assert "Press Save or Cancel" in told.text
    await bot.press(ADMIN_ID, confirm, buttons(confirm)["✖ Cancel"], replies=2)
    assert "Nothing was saved" in bot.standin.messages_to(ADMIN_ID)[-1].text
    assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []


# --- agreements: edit and delete -------------------------------------------------------------


async def test_edit_confirmed_entry_offers_a_correction(bot: BotHarness) -> None:
    await subscribe(bot)
    await bot.ask(ADMIN_ID, "/addagreement Rail MoU | transportation | 2025-11-24")
    [entry] = await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")
    ident = entry["id"]
    [edited] = await bot.ask(ADMIN_ID, f"/editagreement {ident} date=2025-11-25")
    assert "2025-11-24" in edited.text and "2025-11-25" in edited.text
    choices = buttons(edited)
    assert set(choices) == {"📣 Send correction", "No alert"}
    await bot.press(ADMIN_ID, edited, choices["📣 Send correction"], replies=2)
    assert "Correction" in bot.standin.messages_to(ADMIN_ID)[-1].text
    [correction] = await alerts(bot, "correction")
    assert correction["payload"]["signed_on"] == "2025-11-25"
    assert correction["payload"]["note"] == "signed_on: 2025-11-24 → 2025-11-25"
    assert correction["chats"] == [SUBSCRIBER]

    [edited] = await bot.ask(ADMIN_ID, f"/editagreement {ident} title=High-speed rail MoU")
    await bot.press(ADMIN_ID, edited, buttons(edited)["No alert"], replies=2)
    assert len(await alerts(bot, "correction")) == 1
    [row] = await rows(bot, "SELECT title FROM agreements WHERE id = ?", (ident,))
    assert row["title"] == "High-speed rail MoU"

    [reported] = await rows(bot, "SELECT id FROM agreements WHERE status = 'reported' LIMIT 1")
    [plain] = await bot.ask(ADMIN_ID, f"/editagreement {reported['id']} parties=KEPCO")
    assert buttons(plain) == {}  # a reported entry has no subscribers' record to correct
    actions = await audit_actions(bot)
    assert actions.count("agreement.edit") == 3 and "agreement.correction" in actions
    assert_no_rejections(bot)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", "Usage"),
        ("5", "Usage"),
        ("abc title=x", "is not an ID"),
        ("999 title=x", "no agreement"),
        ("1 colour=red", "Unknown field"),
        ("1 sector=farming", "Unknown sector"),
        ("1 date=soon", "is not a date"),
        ("1 source=javascript:x", "not a web address"),
        ("1 status=maybe", "Status must be"),
        ("1 title=" + "x" * 201, "too long"),
    ],
)
async def test_edit_validation(bot: BotHarness, arguments: str, expected: str) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/editagreement {arguments}")
    assert expected in answer.text
    assert await snapshot(bot) == before


async def test_delete_agreement(bot: BotHarness) -> None:
    await bot.ask(ADMIN_ID, "/addagreement Energy storage MoU | energy")
    [entry] = await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")
    [done] = await bot.ask(ADMIN_ID, f"/delagreement {entry['id']}")
    assert "Energy storage MoU" in done.text and "deleted" in done.text
    assert await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'") == []
    [again] = await bot.ask(ADMIN_ID, f"/delagreement {entry['id']}")
    assert "no agreement" in again.text
    [usage] = await bot.ask(ADMIN_ID, "/delagreement")
    assert "Usage" in usage.text
    [bad] = await bot.ask(ADMIN_ID, "/delagreement x")
    assert "is not an ID" in bad.text
    [record] = await rows(bot, "SELECT * FROM audit_log WHERE action = 'agreement.delete'")
    assert json.loads(record["before"])["title"] == "Energy storage MoU"


async def test_agreements_are_paged_with_buttons(bot: BotHarness) -> None:
    existing = len(await rows(bot, "SELECT id FROM agreements"))
    for n in range(10):
        await bot.ask(ADMIN_ID, f"/addagreement Entry number {n} alpha{n} | | 2025-11-{10 + n:02d}")
    [first] = await bot.ask(USER_ID, "/agreements")
    total = existing + 10
    assert f"({total})" in first.text and "page 1 of" in first.text
    assert "Entry number 9" in first.text  # newest first
    assert set(buttons(first)) == {"Older ▶"}
    [second] = await bot.press(USER_ID, first, buttons(first)["Older ▶"])
    assert second.message_id == first.message_id  # the same message, edited
    assert "page 2 of" in second.text and "Entry number 9" not in second.text
    assert "◀ Newer" in buttons(second)
    assert_no_rejections(bot)


# --- agenda ----------------------------------------------------------------------------------


async def test_agenda_add_edit_delete_raise_alerts(bot: BotHarness) -> None:
    await subscribe(bot)
    [added] = await bot.ask(
        ADMIN_ID, "/addagenda 2025-11-25 16:30 | Business forum | Ankara Chamber of Commerce"
    )
    assert "Business forum" in added.text and "16:30" in added.text
    [item] = await rows(bot, "SELECT * FROM agenda_items WHERE origin = 'admin'")
    assert item["starts_at"] == "2025-11-25T13:30:00+00:00"  # typed in Istanbul time
    [agenda] = await bot.ask(USER_ID, "/agenda")
    assert "16:30 · Business forum — Ankara Chamber of Commerce" in agenda.text

    [edited] = await bot.ask(ADMIN_ID, f"/editagenda {item['id']} time=2025-11-25 17:00")
    assert "changed" in edited.text
    await bot.ask(ADMIN_ID, f"/editagenda {item['id']} place=Ankara Palas")
    [deleted] = await bot.ask(ADMIN_ID, f"/delagenda {item['id']}")
    assert "Business forum" in deleted.text
    [agenda] = await bot.ask(USER_ID, "/agenda")
    assert "Business forum" not in agenda.text

    found = await alerts(bot, "agenda")
    assert [a["payload"]["change"] for a in found] == ["new", "changed", "changed", "deleted"]
    assert found[0]["payload"]["title"] == {"en": "Business forum"}
    assert found[0]["payload"]["starts_at"] == "2025-11-25T13:30:00+00:00"
    assert found[0]["payload"]["time_known"] is True
    assert found[1]["payload"]["starts_at"] == "2025-11-25T14:00:00+00:00"
    assert found[2]["payload"]["place"] == {"en": "Ankara Palas"}
    assert all(a["chats"] == [SUBSCRIBER] for a in found)
    assert await audit_actions(bot) == ["agenda.add", "agenda.edit", "agenda.edit", "agenda.delete"]
    [gone] = await bot.ask(ADMIN_ID, f"/delagenda {item['id']}")
    assert "no programme item" in gone.text
    assert_no_rejections(bot)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/addagenda", "Usage"),
        ("/addagenda Business forum", "Usage"),
        ("/addagenda tomorrow 10:00 | Forum", "is not a time"),
        ("/addagenda 2025-11-25 26:00 | Forum", "is not a time"),
        ("/addagenda 2025-11-25 10:00 | " + "t" * 201, "title is too long"),
        ("/addagenda 2025-11-25 10:00 | Forum | " + "p" * 201, "place is too long"),
        ("/editagenda 1 colour=red", "Usage"),
        ("/editagenda 1 time=noon", "is not a time"),
        ("/editagenda 999 title=x", "no programme item"),
        ("/delagenda", "Usage"),
        ("/delagenda x", "is not an ID"),
    ],
)
async def test_agenda_validation(bot: BotHarness, command: str, expected: str) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, command)
    assert expected in answer.text
    assert await snapshot(bot) == before


async def test_agenda_in_the_readers_time_zone_with_marks(bot: BotHarness) -> None:
    await bot.ask(USER_ID, "/start")
    stamp = "2025-11-01T00:00:00+00:00"
    await bot.services.db.execute(
        "INSERT INTO chats (chat_id, type, timezone, created_at, updated_at)"
        " VALUES (?, 'private', 'Asia/Seoul', ?, ?)"
        " ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone",
        (USER_ID, stamp, stamp),
    )
    await bot.ask(ADMIN_ID, "/addagenda 2025-11-25 16:30 | Business forum | Ankara")
    bot.clock.now = dt.datetime(2025, 11, 25, 13, 45, tzinfo=dt.UTC)  # 16:45 in Ankara
    [seoul] = await bot.ask(USER_ID, "/agenda")
    assert "Asia/Seoul" in seoul.text
    assert "22:30 · Business forum" in seoul.text  # 16:30 Istanbul = 22:30 Seoul
    assert "now" in seoul.text and "✅" in seoul.text
    [ankara] = await bot.ask(ADMIN_ID, "/agenda")
    assert "Europe/Istanbul" in ankara.text and "16:30 · Business forum" in ankara.text
    assert_no_rejections(bot)


# --- facts -----------------------------------------------------------------------------------


async def test_add_and_delete_a_fact(bot: BotHarness) -> None:
    [added] = await bot.ask(
        ADMIN_ID,
        "/addfact Trade | Korean firms employ zyxwv people in Türkiye. | KOTRA https://kotra.example/r",
    )
    assert "added to trade" in added.text
    [fact] = await rows(bot, "SELECT * FROM facts WHERE origin = 'admin'")
    assert (fact["source_title"], fact["source_url"]) == ("KOTRA", "https://kotra.example/r")
    [found] = await bot.ask(USER_ID, "/facts zyxwv")
    assert "Korean firms employ" in found.text and "KOTRA" in found.text
    [listing] = await bot.ask(ADMIN_ID, "/delfact")
    assert f"#{fact['id']}" in listing.text
    [deleted] = await bot.ask(ADMIN_ID, f"/delfact {fact['id']}")
    assert "deleted" in deleted.text
    [gone] = await bot.ask(USER_ID, "/facts zyxwv")
    assert "No facts match" in gone.text
    [none] = await bot.ask(ADMIN_ID, "/delfact")
    assert "No facts were added" in none.text
    assert await audit_actions(bot) == ["fact.add", "fact.delete"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("", "Topics:"),
        ("trade | only two", "Usage"),
        ("sports | text | source", "Unknown topic"),
        ("trade | " + "x" * 1001 + " | source", "text is too long"),
        ("trade | text | Source ftp://x.example", "not a web address"),
    ],
)
async def test_fact_validation(bot: BotHarness, arguments: str, expected: str) -> None:
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/addfact {arguments}")
    assert expected in answer.text
    assert await snapshot(bot) == before


async def test_bundled_facts_are_not_deleted_here(bot: BotHarness) -> None:
    [bundled] = await rows(bot, "SELECT id FROM facts WHERE origin = 'bundled' LIMIT 1")
    before = await snapshot(bot)
    [answer] = await bot.ask(ADMIN_ID, f"/delfact {bundled['id']}")
    assert "visit file" in answer.text
    [missing] = await bot.ask(ADMIN_ID, "/delfact 99999")
    assert "no fact" in missing.text
    assert await snapshot(bot) == before


# --- broadcast -------------------------------------------------------------------------------


async def test_broadcast_goes_through_the_outbox(bot: BotHarness) -> None:
    await subscribe(bot)
    await subscribe(bot, 2003)
    [queued] = await bot.ask(ADMIN_ID, "/broadcast Press conference moved to 15:00")
    assert "queued for 2 subscribed chats" in queued.text
    [alert] = await alerts(bot, "broadcast")
    assert alert["payload"] == {"text": "Press conference moved to 15:00"}
    assert sorted(alert["chats"]) == [SUBSCRIBER, 2003]
    assert alert["created_by"] == ADMIN_ID
    [usage] = await bot.ask(ADMIN_ID, "/broadcast")
    assert "Usage" in usage.text
    [too_long] = await bot.ask(ADMIN_ID, "/broadcast " + "x" * 3001)
    assert "3001 characters" in too_long.text and "at most 3000" in too_long.text
    assert len(await alerts(bot, "broadcast")) == 1
    assert await audit_actions(bot) == ["broadcast"]


# --- audit -----------------------------------------------------------------------------------


async def test_audit_shows_latest_actions_with_before_and_after(bot: BotHarness) -> None:
    [empty] = await bot.ask(ADMIN_ID, "/audit")
    assert "empty" in empty.text
    await bot.ask(ADMIN_ID, "/addagreement Port MoU | transportation")
    [entry] = await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")
    await bot.ask(ADMIN_ID, f"/editagreement {entry['id']} parties=Port of Mersin")
    await bot.ask(ADMIN_ID, "/addagenda 2025-11-25 09:00 | Breakfast | Hotel")
    [log] = await bot.ask(ADMIN_ID, "/audit")
    lines = log.text.splitlines()
    assert "latest 3" in lines[0]
    assert "agenda.add" in lines[1]  # newest first
    assert "agreement.edit" in log.text and "agreement.add" in log.text
    assert '{"parties": ""} → after {"parties": "Port of Mersin"}' in log.text
    assert str(ADMIN_ID) in log.text and f"agreement:{entry['id']}" in log.text
    [two] = await bot.ask(ADMIN_ID, "/audit 2")
    assert "latest 2" in two.text and "agreement.add" not in two.text
    [bad] = await bot.ask(ADMIN_ID, "/audit many")
    assert "is not an ID" in bad.text
    stored = await rows(bot, "SELECT * FROM audit_log ORDER BY id")
    assert all(r["actor_id"] == ADMIN_ID and r["at"] for r in stored)
    assert_no_rejections(bot)


# --- HTML-looking input ----------------------------------------------------------------------

HOSTILE = "<b>&</b> <script>alert(1)</script> &amp; <i"


async def test_html_looking_input_is_stored_as_typed_and_shown_literally(bot: BotHarness) -> None:
    await subscribe(bot)
    [saved] = await bot.ask(ADMIN_ID, f"/addagreement {HOSTILE} | energy | | {HOSTILE}")
    assert HOSTILE in saved.text
    [entry] = await rows(bot, "SELECT * FROM agreements WHERE origin = 'admin'")
    assert entry["title"] == HOSTILE and entry["parties"] == HOSTILE  # stored as typed
    listing = await bot.ask(USER_ID, "/agreements")
    assert HOSTILE in text_of(listing)

    [similar] = await bot.ask(ADMIN_ID, f"/addagreement {HOSTILE}")
    assert HOSTILE in similar.text  # the similar-title warning quotes it literally too

    [edited] = await bot.ask(ADMIN_ID, f"/editagreement {entry['id']} title={HOSTILE}!")
    assert f"{HOSTILE}!" in edited.text
    await bot.press(ADMIN_ID, edited, buttons(edited)["📣 Send correction"], replies=2)

    [agenda_added] = await bot.ask(ADMIN_ID, f"/addagenda 2025-11-25 10:00 | {HOSTILE} | {HOSTILE}")
    assert HOSTILE in agenda_added.text
    [agenda] = await bot.ask(USER_ID, "/agenda")
    assert HOSTILE in agenda.text

    [fact] = await bot.ask(ADMIN_ID, f"/addfact trade | {HOSTILE} qqzz | {HOSTILE}")
    assert HOSTILE in fact.text
    [search] = await bot.ask(USER_ID, "/facts qqzz")
    assert HOSTILE in search.text

    await bot.ask(ADMIN_ID, f"/broadcast {HOSTILE}")
    [alert] = await alerts(bot, "broadcast")
    assert alert["payload"]["text"] == HOSTILE

    [bad_sector] = await bot.ask(ADMIN_ID, "/addagreement T | <script>")
    assert "“<script>”" in bad_sector.text
    [log] = await bot.ask(ADMIN_ID, "/audit 50")
    assert "<script>" in log.text
    assert_no_rejections(bot)


def test_every_admin_command_has_a_description() -> None:
    for command in admin_commands():
        assert t("en", f"command.{command.name}")


async def test_subscribers_receive_admin_alerts_through_the_stand_in(bot: BotHarness) -> None:
    """With the delivery worker running, outbox rows become real messages, shown literally."""
    await subscribe(bot)
    await bot.ask(ADMIN_ID, f"/broadcast Motorcade {HOSTILE}")
    [message] = await bot.standin.wait_for_messages(SUBSCRIBER, 1)
    assert f"Motorcade {HOSTILE}" in message.text
    await bot.ask(ADMIN_ID, "/addagreement Hydrogen MoU | energy | 2025-11-24")
    received = await bot.standin.wait_for_messages(SUBSCRIBER, 2)
    assert "Hydrogen MoU" in received[-1].text
    assert_no_rejections(bot)

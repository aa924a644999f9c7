"""End to end: the real Application, driven through the Bot API stand-in like a Telegram user."""

from __future__ import annotations

import datetime as dt

import pytest

import bot.handlers.status as status_module
from bot.commands import admin_commands
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, buttons


def assert_no_rejections(bot: BotHarness) -> None:
    """Telegram (the stand-in) refused nothing: every reply was valid HTML under the limit."""
    assert not bot.standin.errors_returned, bot.standin.errors_returned


async def test_start_explains_the_bot(bot: BotHarness) -> None:
    [reply] = await bot.ask(USER_ID, "/start")
    assert "Lee Jae Myung" in reply.text
    assert "/facts" in reply.text and "/agenda" in reply.text
    assert_no_rejections(bot)


async def test_help_lists_admin_commands_only_for_admins(bot: BotHarness) -> None:
    [user_help] = await bot.ask(USER_ID, "/help")
    [admin_help] = await bot.ask(ADMIN_ID, "/help")
    for public in ("/facts", "/agenda", "/agreements", "/status"):
        assert public in user_help.text and public in admin_help.text
    assert "Admin commands" not in user_help.text
    for command in admin_commands():
        assert f"/{command.name} " not in user_help.text
        if command.audience == "admin":
            assert f"/{command.name} " in admin_help.text
    assert_no_rejections(bot)


async def test_command_menus_are_published(bot: BotHarness) -> None:
    menus = bot.standin.commands
    default = [key for key in menus if '"default"' in key[0]]
    assert default, menus.keys()
    names = {c["command"] for key in default for c in menus[key]}
    assert {"start", "help", "facts", "agenda", "agreements", "status"} <= names
    assert not names & {c.name for c in admin_commands()}


async def test_facts_topics_as_buttons_and_every_topic_answers(bot: BotHarness) -> None:
    [menu] = await bot.ask(USER_ID, "/facts")
    topics = buttons(menu)
    assert len(topics) == len(bot.services.visit.topics)
    for label, data in topics.items():
        [answer] = await bot.press(USER_ID, menu, data)
        assert label in answer.text
        assert "•" in answer.text
    assert len(bot.standin.answered_callbacks) == len(topics)
    assert_no_rejections(bot)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("trade", ["1965", "$8,000"]),
        ("war", ["721", "462"]),
        ("bridge", ["2,023", "Çanakkale"]),
        ("Canakkale", ["Çanakkale"]),
        ("Turkiye embassy", ["Türkiye", "third nation"]),
        ("erdogan", ["Erdoğan"]),
    ],
)
async def test_facts_search(bot: BotHarness, query: str, expected: list[str]) -> None:
    replies = await bot.ask(USER_ID, f"/facts {query}")
    text = "\n".join(r.text for r in replies)
    for fragment in expected:
        assert fragment in text
    assert_no_rejections(bot)


async def test_facts_topic_by_name_with_sources_as_links(bot: BotHarness) -> None:
    [reply] = await bot.ask(USER_ID, "/facts Trade")
    assert "1965" in reply.text and "2013" in reply.text
    assert reply.html is not None and "<i>(" in reply.html  # the source, with every fact


async def test_facts_no_match_offers_topics(bot: BotHarness) -> None:
    [reply] = await bot.ask(USER_ID, "/facts zzzqqq")
    assert "No facts match" in reply.text
    assert len(buttons(reply)) == len(bot.services.visit.topics)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.UTC), "Upcoming: starts in 4 days"),
        (dt.datetime(2025, 11, 23, 22, 0, tzinfo=dt.UTC), "Under way: day 1 of 2"),
        (dt.datetime(2025, 11, 25, 12, 0, tzinfo=dt.UTC), "Under way: day 2 of 2"),
        (dt.datetime(2025, 11, 26, 12, 0, tzinfo=dt.UTC), "ended 1 day ago"),
        (dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC), "ended 367 days ago"),
    ],
)
async def test_status_on_fixed_clocks(bot: BotHarness, when: dt.datetime, expected: str) -> None:
    bot.clock.now = when
    [reply] = await bot.ask(USER_ID, "/status")
    assert expected in reply.text
    assert "Presidential Complex" in reply.text


async def test_agenda_and_agreements(bot: BotHarness) -> None:
    bot.clock.now = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
    [agenda] = await bot.ask(USER_ID, "/agenda")
    assert "Wreath-laying" in agenda.text and "November 24, 2025" in agenda.text
    replies = await bot.ask(USER_ID, "/agreements")
    text = "\n".join(r.text for r in replies)
    assert "nuclear energy" in text and "Reported" in text and "KEPCO" in text
    assert_no_rejections(bot)


@pytest.mark.parametrize(
    "text",
    [
        "/facts " + "x" * 5000,
        "/facts <script>alert(1)</script>",
        "/facts <b>&amp;</b> & < >",
        "/facts 😀🇹🇷🇰🇷",
        "/facts 한국전쟁 참전",
        "/facts Kore Savaşı şehit",
        "/nosuchcommand",
        "/nosuchcommand <b>hi</b>",
        "   ",
        "튀르키예",
    ],
)
async def test_bad_input_gets_a_polite_valid_answer(bot: BotHarness, text: str) -> None:
    replies = await bot.ask(USER_ID, text)
    assert replies and all(r.text.strip() for r in replies)
    assert_no_rejections(bot)
    [still_up] = await bot.ask(USER_ID, "/start")
    assert "visitbot" in still_up.text


async def test_unknown_command_is_named_and_escaped(bot: BotHarness) -> None:
    [reply] = await bot.ask(USER_ID, "/frobnicate<b>")
    assert "/frobnicate<b>" in reply.text  # shown literally
    assert "/help" in reply.text


async def test_a_crashing_handler_apologises_and_tells_admins_at_most_once_a_minute(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("kaboom <b>&</b>")

    monkeypatch.setattr(status_module, "visit_status", boom)
    for _ in range(3):
        [apology] = await bot.ask(USER_ID, "/status")
        assert "something went wrong" in apology.text
    notices = bot.standin.messages_to(ADMIN_ID)
    assert len(notices) == 1  # three errors, one notice: admins are not flooded
    assert "RuntimeError: kaboom <b>&</b>" in notices[0].text  # shown literally
    bot.services._last_admin_notice -= 61  # a minute later
    await bot.ask(USER_ID, "/status")
    await bot.standin.wait_for_messages(ADMIN_ID, 2)
    [still_up] = await bot.ask(USER_ID, "/start")
    assert "visitbot" in still_up.text
    assert_no_rejections(bot)


async def test_an_edited_command_is_not_run_again(bot: BotHarness) -> None:
    before = len(bot.standin.messages_to(USER_ID))
    update = bot.standin.send_text(USER_ID, "/facts trade")
    await bot.standin.wait_for_messages(USER_ID, before + 1)
    bot.standin.edit_text(USER_ID, update["message"]["message_id"], "/facts bridge")
    [after_edit] = await bot.ask(USER_ID, "/status")  # the next reply is to /status, not the edit
    assert "Upcoming" in after_edit.text
    assert len(bot.standin.messages_to(USER_ID)) == before + 2

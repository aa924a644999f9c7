"""Korean and Turkish readers end to end: the real Application on the Bot API stand-in.

Each reader arrives with their Telegram app's language_code and gets the bot in that language
without asking: /start, /help, /facts, the command menus and alerts. /language switches with
buttons; deep links subscribe in one tap; inline mode shares facts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bot.menus
from bot.handlers.language import parse_choice
from bot.i18n import t
from bot.standin import SentMessage, parse_html
from storage import subscriptions as subscription_store
from storage.alerts import AlertKind, create_alert
from tests.conftest import ADMIN_ID, BotHarness, buttons

KO, TR, EN = 2001, 2002, 2003
GROUP = -4001
READERS = {KO: "ko", TR: "tr", EN: "en"}


@pytest.fixture(autouse=True)
def short_menu_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    """Menus are debounced; a short window keeps these tests quick (see `settle_menus`)."""
    monkeypatch.setattr(bot.menus, "MENU_DEBOUNCE_SECONDS", 0.05)


async def settle_menus() -> None:
    """Let a trailing, debounced menu publish run."""
    await asyncio.sleep(0.3)


@pytest.fixture
def readers(bot: BotHarness) -> BotHarness:
    for user_id, code in READERS.items():
        bot.standin.add_user(user_id, first_name=f"Reader{user_id}", language_code=code)
    return bot


def assert_no_rejections(bot: BotHarness) -> None:
    assert not bot.standin.errors_returned, bot.standin.errors_returned


# What each reader must see; English words that must not appear in their replies.
EXPECTED: dict[str, dict[str, Any]] = {
    "ko": {
        "visit": "이재명 대통령 튀르키예 국빈 방문",
        "start": "모든 명령어를 보려면 /help를 보내 주세요.",
        "help": ["명령어", "/facts — 방문 관련 정보", "/language — 봇 언어 변경"],
        "pick": "주제를 고르거나",
        "topic_button": "교역",
        "topic_fact": "양국 간 교역은 1965년 불과 8,000달러에서",
        "english": ["Commands", "Facts about the visit", "Pick a topic"],
    },
    "tr": {
        "visit": "Güney Kore Cumhurbaşkanı Lee Jae Myung'un Türkiye'ye devlet ziyareti",
        "start": "Tüm komutlar için /help yazın.",
        "help": ["Komutlar", "/facts — Ziyaretle ilgili bilgiler", "/language — Botun dilini"],
        "pick": "Bir konu seçin",
        "topic_button": "Ticaret",
        "topic_fact": "1965'te yalnızca 8.000 dolardan",
        "english": ["Commands", "Facts about the visit", "Pick a topic"],
    },
}


@pytest.mark.parametrize("user_id", [KO, TR])
async def test_reader_gets_start_help_and_facts_in_their_language(
    readers: BotHarness, user_id: int
) -> None:
    bot, lang = readers, READERS[user_id]
    want = EXPECTED[lang]

    [start] = await bot.ask(user_id, "/start")
    assert want["visit"] in start.text and want["start"] in start.text
    assert 'href="https://t.me/visitbot?start=agreements"' in (start.html or "")

    [help_reply] = await bot.ask(user_id, "/help")
    for fragment in want["help"]:
        assert fragment in help_reply.text

    [menu] = await bot.ask(user_id, "/facts")
    assert want["pick"] in menu.text
    topics = buttons(menu)
    assert len(topics) == len(bot.services.visit.topics)
    assert want["topic_button"] in topics
    [answer] = await bot.press(user_id, menu, topics[want["topic_button"]])
    assert want["topic_fact"] in answer.text
    assert "<i>(" in (answer.html or "")  # every fact with its source

    for reply in (start, help_reply, menu, answer):
        for english in want["english"]:
            assert english not in reply.text
    assert_no_rejections(bot)


@pytest.mark.parametrize(
    ("user_id", "query", "expected"),
    [
        (KO, "bridge", "차나칼레 1915 대교"),  # an English word, a Korean answer
        (KO, "Köprü", "차나칼레 1915 대교"),
        (TR, "교역", "İki ülke arasındaki ticaret"),
        (TR, "howitzer", "T-155 Fırtına obüsleri"),
        (EN, "şehit", "721 Turkish soldiers"),
    ],
)
async def test_search_in_any_language_answers_in_the_readers(
    readers: BotHarness, user_id: int, query: str, expected: str
) -> None:
    replies = await readers.ask(user_id, f"/facts {query}")
    assert expected in "\n".join(r.text for r in replies)
    assert_no_rejections(readers)


async def test_status_counts_down_in_the_readers_language(readers: BotHarness) -> None:
    [ko] = await readers.ask(KO, "/status")
    [tr] = await readers.ask(TR, "/status")
    assert "4일 후 시작해요" in ko.text and "2025년 11월 24일" in ko.text
    assert "4 gün sonra başlıyor" in tr.text and "24 Kasım 2025" in tr.text


async def test_command_menus_per_language(readers: BotHarness) -> None:
    menus = {
        code: {c["command"]: c["description"] for c in readers.standin.commands_for(None, code)}
        for code in ("", "ko", "tr")
    }
    assert menus[""]["facts"] == t("en", "command.facts")
    assert menus["ko"]["facts"] == t("ko", "command.facts")
    assert menus["tr"]["language"] == t("tr", "command.language")
    assert set(menus[""]) == set(menus["ko"]) == set(menus["tr"])
    assert "addagreement" not in menus["ko"]


# --- alerts -----------------------------------------------------------------------------------

AGREEMENT = {
    "title": "MoU on nuclear energy cooperation",
    "sector": "energy",
    "signed_on": "2025-11-24",
    "parties": "KEPCO – TÜNAŞ",
    "status": "confirmed",
    "sources": [{"title": "Yonhap", "url": "https://en.yna.co.kr/view/1"}],
}
AGENDA = {
    "item_id": 1,
    "change": "changed",
    "starts_at": "2025-11-24T11:00:00+00:00",
    "time_known": True,
    "title": {"en": "Summit talks", "ko": "정상회담", "tr": "Zirve görüşmesi"},
    "place": {"en": "Presidential Complex", "ko": "대통령궁", "tr": "Külliye"},
}


async def create(bot: BotHarness, kind: AlertKind, payload: dict[str, Any]) -> None:
    svc = bot.services
    async with svc.db.transaction() as tx:
        await create_alert(tx, visit_id=svc.visit_id, kind=kind, payload=payload, now=bot.clock.now)
    worker = svc.delivery
    assert worker is not None
    await worker.wait_idle()


def last(bot: BotHarness, chat_id: int) -> SentMessage:
    return bot.standin.messages_to(chat_id)[-1]


async def test_alerts_arrive_in_each_readers_language_and_time_zone(readers: BotHarness) -> None:
    bot = readers
    [ko_sub] = await bot.ask(KO, "/subscribe")
    [tr_sub] = await bot.ask(TR, "/subscribe")
    assert "구독했어요" in ko_sub.text and "Abone oldunuz" in tr_sub.text
    [tz] = await bot.ask(KO, "/timezone Asia/Seoul")
    assert "Asia/Seoul" in tz.text

    await create(bot, "agreement", AGREEMENT)
    ko, tr = last(bot, KO), last(bot, TR)
    assert "협정 서명" in ko.text and "에너지" in ko.text and "2025년 11월 24일" in ko.text
    assert "출처: Yonhap" in ko.text
    assert "Anlaşma imzalandı" in tr.text and "Enerji" in tr.text and "24 Kasım 2025" in tr.text
    assert "Kaynaklar: Yonhap" in tr.text

    await create(bot, "agenda", AGENDA)
    ko, tr = last(bot, KO), last(bot, TR)
    assert "일정 변경" in ko.text and "정상회담" in ko.text and "20:00" in ko.text  # Seoul
    assert "Programda değişiklik" in tr.text and "Zirve görüşmesi" in tr.text
    assert "14:00" in tr.text  # the visit's zone, Istanbul
    assert_no_rejections(bot)


async def test_a_group_speaks_the_language_of_whoever_subscribed_it(readers: BotHarness) -> None:
    bot = readers
    bot.standin.add_group(GROUP, title="Dostluk", admins=[TR], creator=KO)
    await bot.ask(TR, "/subscribe", chat_id=GROUP)  # subscribed by the Turkish reader
    await create(bot, "agreement", AGREEMENT)
    assert "Anlaşma imzalandı" in last(bot, GROUP).text

    # The subscriber's /language choice is what counts, not their Telegram app's language.
    await bot.ask(TR, "/language ko")
    await create(bot, "agreement", {**AGREEMENT, "title": "Second"})
    assert "협정 서명" in last(bot, GROUP).text
    assert await bot.services.language_of(TR) == "ko"
    assert_no_rejections(bot)


# --- /language ---------------------------------------------------------------------------------


async def test_language_switches_with_buttons_and_back_to_automatic(readers: BotHarness) -> None:
    bot = readers
    [menu] = await bot.ask(EN, "/language")
    assert "English (automatic" in menu.text
    choices = buttons(menu)
    assert {"English", "한국어", "Türkçe"} <= set(choices)
    assert choices["✓ 🔄 Automatic"] == "lang:auto"

    [edited] = await bot.press(EN, menu, choices["한국어"])
    assert edited.edited and "이제부터 한국어로 답할게요" in edited.text
    assert "✓ 한국어" in buttons(edited)
    assert bot.standin.answered_callbacks[-1].get("text") == "저장했어요"
    [start] = await bot.ask(EN, "/start")
    assert "이재명 대통령 튀르키예 국빈 방문" in start.text
    chat_menu = bot.standin.commands_for({"type": "chat", "chat_id": EN})
    assert {c["command"]: c["description"] for c in chat_menu}["help"] == t("ko", "command.help")

    [edited] = await bot.press(EN, edited, "lang:tr")
    assert "Bundan sonra Türkçe yanıt veriyorum" in edited.text
    [back] = await bot.press(EN, edited, "lang:auto")
    assert "Automatic again" in back.text and "English (automatic" in back.text
    await settle_menus()
    assert bot.standin.commands_for({"type": "chat", "chat_id": EN}) == []
    [start] = await bot.ask(EN, "/start")
    assert "State visit of South Korean President" in start.text
    assert_no_rejections(bot)


async def test_language_by_argument_and_unknown_names(readers: BotHarness) -> None:
    bot = readers
    [done] = await bot.ask(KO, "/language Türkçe")
    assert "Bundan sonra Türkçe yanıt veriyorum" in done.text
    # A Korean app with a Turkish choice: the default 'ko' menu would be wrong, so the chat
    # gets a Turkish menu of its own.
    chat_menu = bot.standin.commands_for({"type": "chat", "chat_id": KO})
    assert {c["command"]: c["description"] for c in chat_menu}["help"] == t("tr", "command.help")
    [unknown] = await bot.ask(KO, "/language klingon")
    assert "“klingon” dilini tanımıyorum" in unknown.text and buttons(unknown)
    [same] = await bot.ask(TR, "/language tr")  # same as the app: the default menu is enough
    assert "Türkçe" in same.text
    assert bot.standin.commands_for({"type": "chat", "chat_id": TR}) == []
    assert parse_choice("Korean") == parse_choice("한국어") == "ko"
    assert parse_choice("İngilizce") == "en"
    assert_no_rejections(bot)


async def test_admin_menu_follows_the_admins_language(bot: BotHarness) -> None:
    await bot.ask(ADMIN_ID, "/language tr")
    chat_menu = bot.standin.commands_for({"type": "chat", "chat_id": ADMIN_ID})
    described = {c["command"]: c["description"] for c in chat_menu}
    assert described["addagreement"] == t("tr", "command.addagreement")
    assert described["start"] == t("tr", "command.start")
    [admin_help] = await bot.ask(ADMIN_ID, "/help")
    assert "Yönetici komutları" in admin_help.text


async def test_language_in_a_group_explains_whose_language_alerts_use(readers: BotHarness) -> None:
    bot = readers
    bot.standin.add_group(GROUP, title="Dostluk", admins=[TR])
    [menu] = await bot.ask(TR, "/language", chat_id=GROUP)
    assert "grubun aboneliğini ayarlayan kişinin dilinde" in menu.text


# --- deep links ------------------------------------------------------------------------------


async def test_deep_links_subscribe_in_one_tap(readers: BotHarness) -> None:
    bot = readers
    svc = bot.services
    [done] = await bot.ask(TR, "/start agreements")  # what t.me/visitbot?start=agreements sends
    assert "Abone oldunuz" in done.text and "imzalanan anlaşmalar" in done.text
    sub = await subscription_store.subscription(svc.db, svc.visit_id, TR)
    assert sub is not None and sub.wants_agreements and not sub.wants_agenda
    assert sub.set_by == TR

    [more] = await bot.ask(TR, "/start agenda")  # adds to what the chat follows
    assert "Güncellendi" in more.text
    sub = await subscription_store.subscription(svc.db, svc.visit_id, TR)
    assert sub is not None and sub.wants_agreements and sub.wants_agenda
    [again] = await bot.ask(TR, "/start agenda")
    assert "Zaten şu konulara abonesiniz" in again.text

    [ko] = await bot.ask(KO, "/start agenda")
    assert "구독했어요" in ko.text and "일정 변경과 시작 전 알림" in ko.text

    [facts_link] = await bot.ask(KO, "/start facts")  # the inline mode's button
    assert "주제를 고르거나" in facts_link.text and buttons(facts_link)
    assert_no_rejections(bot)


async def test_deep_link_in_a_group_needs_a_group_admin(readers: BotHarness) -> None:
    bot = readers
    bot.standin.add_group(GROUP, title="Dostluk", admins=[TR])
    [refused] = await bot.ask(KO, "/start agreements", chat_id=GROUP)
    assert "그룹 관리자만" in refused.text
    assert (
        await subscription_store.subscription(bot.services.db, bot.services.visit_id, GROUP) is None
    )
    [done] = await bot.ask(TR, "/start agreements", chat_id=GROUP)
    assert "Abone oldunuz" in done.text


# --- inline mode -------------------------------------------------------------------------------


async def inline(bot: BotHarness, user_id: int, query: str) -> dict[str, Any]:
    before = len(bot.standin.inline_answers)
    bot.standin.inline_query(user_id, query)
    for _ in range(200):
        if len(bot.standin.inline_answers) > before:
            return bot.standin.inline_answers[-1]
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no answer to the inline query {query!r}")


@pytest.mark.parametrize(
    ("user_id", "query", "expected", "source"),
    [
        (KO, "bridge", "차나칼레 1915 대교", "출처: "),
        (TR, "şehit", "721 Türk askeri", "Kaynak: "),
        (EN, "교역", "$8,000", "Source: "),
        (TR, "Trade", "8.000 dolardan", "Kaynak: "),  # a topic's name: the topic's facts
    ],
)
async def test_inline_query_offers_facts_with_sources(
    readers: BotHarness, user_id: int, query: str, expected: str, source: str
) -> None:
    answer = await inline(readers, user_id, query)
    assert answer["is_personal"] is True and int(answer["cache_time"]) <= 60
    results = answer["results"]
    assert results and len(results) <= 50
    messages = [r["input_message_content"] for r in results]
    assert all(r["type"] == "article" and r["title"] and r["description"] for r in results)
    assert any(expected in m["message_text"] for m in messages)
    for message in messages:
        assert message["parse_mode"] == "HTML"
        plain, _ = parse_html(message["message_text"])  # valid Telegram HTML
        assert source in plain
    button = answer["button"]
    assert button["start_parameter"] == "facts"
    assert button["text"] == t(READERS[user_id], "inline.button")


async def test_inline_query_empty_offers_one_fact_per_topic_and_no_match_none(
    readers: BotHarness,
) -> None:
    answer = await inline(readers, KO, "")
    assert len(answer["results"]) == len(readers.services.visit.topics)
    assert "방문 개요" in answer["results"][0]["description"]
    answer = await inline(readers, KO, "zzzqqq")
    assert answer["results"] == []


async def test_a_burst_of_language_changes_publishes_the_menu_twice_at_most(
    readers: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.menus, "MENU_DEBOUNCE_SECONDS", 1.5)  # longer than the burst
    harness = readers
    [menu] = await harness.ask(EN, "/language")
    before = sum(harness.standin.calls[m] for m in ("setMyCommands", "deleteMyCommands"))
    current = menu
    for choice in ["ko", "tr", "en", "ko", "tr", "auto", "ko", "tr"] * 2:  # last: Turkish
        [current] = await harness.press(EN, current, f"lang:{choice}")
    assert "Bundan sonra Türkçe yanıt veriyorum" in current.text  # every answer at once
    await asyncio.sleep(1.8)  # the burst is over: one trailing publish
    after = sum(harness.standin.calls[m] for m in ("setMyCommands", "deleteMyCommands"))
    assert after - before <= 2  # not sixteen
    chat_menu = harness.standin.commands_for({"type": "chat", "chat_id": EN})
    assert {c["command"]: c["description"] for c in chat_menu}["help"] == t("tr", "command.help")

"""/agreements paging: every page is one message within Telegram's limit, whatever the entries."""

from __future__ import annotations

import re

import pytest

from bot.handlers.visitinfo import page_bounds
from bot.render import MESSAGE_LIMIT, visible_len
from bot.standin import SentMessage
from bot.validation import PARTIES_MAX, TITLE_MAX
from storage.agreements import AgreementFields, save_agreement
from storage.audit import Actor
from tests.conftest import ADMIN_ID, USER_ID, BotHarness, buttons

COUNT = 20
# Every character here grows when escaped or counts twice in UTF-16: the HTML is much longer
# than the text a reader sees, which is what a page must be measured by.
NOISY = "KEPCO & EÜAŞ <b> 😀 “quoted” "
MARK = re.compile(r"Entry(\d\d)#")


def long_text(prefix: str, limit: int) -> str:
    text = prefix + NOISY * (limit // len(NOISY) + 1)
    return text[:limit]


async def add_long_entries(bot: BotHarness) -> None:
    svc = bot.services
    for n in range(COUNT):
        fields = AgreementFields(
            title=long_text(f"Entry{n:02d}# ", TITLE_MAX),
            sector="energy",
            signed_on=f"2025-12-{n + 1:02d}",  # newer than the visit data: page 1
            parties=long_text("Parties: ", PARTIES_MAX),
            source_title="example.com",
            source_url="https://example.com/news?" + "&x=1" * 60,
        )
        await save_agreement(svc.db, Actor(ADMIN_ID, svc.visit_id, svc.now()), fields)


def check_one_message(message: SentMessage) -> None:
    assert message.html is not None
    assert visible_len(message.html) <= MESSAGE_LIMIT  # what Telegram counts


@pytest.mark.parametrize("reader", [USER_ID, ADMIN_ID])
async def test_long_entries_page_into_single_messages_visiting_each_once(
    bot: BotHarness, reader: int
) -> None:
    await add_long_entries(bot)
    first = await bot.ask(reader, "/agreements")
    assert len(first) == 1, "the first page must be one message, or Next edits only a part"
    page = first[0]
    check_one_message(page)
    seen = MARK.findall(page.text)
    pages = [page.text]
    while "Older ▶" in buttons(page):
        edits = await bot.press(reader, page, buttons(page)["Older ▶"])
        assert len(edits) == 1 and edits[0].message_id == first[0].message_id
        page = edits[0]
        check_one_message(page)
        seen += MARK.findall(page.text)
        pages.append(page.text)
    assert sorted(seen) == [f"{n:02d}" for n in range(COUNT)]  # each entry exactly once
    assert len(pages) > 1 and f"page {len(pages)} of {len(pages)}" in pages[-1]
    # Going back shows the same pages: boundaries do not depend on the way there.
    for expected in reversed(pages[:-1]):
        [page] = await bot.press(reader, page, buttons(page)["◀ Newer"])
        assert page.text == expected
    assert not bot.standin.errors_returned, bot.standin.errors_returned


def test_page_bounds_fill_pages_up_to_the_budget_and_the_count() -> None:
    assert page_bounds([], 100) == []
    assert page_bounds([10] * 20, 10_000) == [(0, 8), (8, 16), (16, 20)]
    # 40 + 1 + 40 fits in 81, a third entry does not
    assert page_bounds([40] * 5, 81) == [(0, 2), (2, 4), (4, 5)]
    assert page_bounds([90, 5, 90], 100) == [(0, 2), (2, 3)]
    assert page_bounds([100, 100], 100) == [(0, 1), (1, 2)]

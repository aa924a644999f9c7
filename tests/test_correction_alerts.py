"""Correction alerts: written once as data, rendered per subscriber, escaped exactly once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.alert_render import AlertView, RenderContext, render_alert
from tests.conftest import ADMIN_ID, BotHarness, buttons
from tests.test_admin_e2e import SUBSCRIBER, alerts, assert_no_rejections, rows, subscribe

KO_SUBSCRIBER = 2003
TITLE = "KEPCO & EÜAŞ <b>"
BASE = {
    "title": TITLE,
    "sector": "energy",
    "signed_on": "2025-11-24",
    "parties": "",
    "status": "confirmed",
    "sources": [],
}


async def test_correction_is_escaped_once_and_in_each_subscribers_language(
    bot: BotHarness,
) -> None:
    await subscribe(bot)
    await subscribe(bot, KO_SUBSCRIBER)
    await bot.services.db.execute(
        "UPDATE chats SET language = 'ko' WHERE chat_id = ?", (KO_SUBSCRIBER,)
    )
    await bot.ask(ADMIN_ID, "/addagreement Grid MoU | energy | 2025-11-24")
    [entry] = await rows(bot, "SELECT id FROM agreements WHERE origin = 'admin'")
    [edited] = await bot.ask(ADMIN_ID, f"/editagreement {entry['id']} title={TITLE}")
    await bot.press(ADMIN_ID, edited, buttons(edited)["📣 Send correction"], replies=2)
    worker = bot.services.delivery
    assert worker is not None
    await worker.wait_idle()

    english = bot.standin.messages_to(SUBSCRIBER)[-1]
    assert english.html is not None
    assert "Correction" in english.text
    # The note and the title both show the text as typed: escaped once in the HTML sent ...
    assert english.text.count(TITLE) == 2
    assert "&amp;amp;" not in english.html and "&amp;lt;" not in english.html
    assert "KEPCO &amp; EÜAŞ &lt;b&gt;" in english.html
    # ... with the field as a reader calls it, not the column name.
    assert f"Title: Grid MoU → {TITLE}" in english.text

    korean = bot.standin.messages_to(KO_SUBSCRIBER)[-1]
    assert "정정" in korean.text
    assert f"제목: Grid MoU → {TITLE}" in korean.text
    assert "title:" not in korean.text
    [correction] = await alerts(bot, "correction")
    assert correction["payload"]["change"] == {"field": "title", "old": "Grid MoU", "new": TITLE}
    assert_no_rejections(bot)


def test_date_and_sector_changes_read_in_the_readers_terms() -> None:
    payload = {**BASE, "change": {"field": "signed_on", "old": "2025-11-24", "new": None}}
    ctx = RenderContext("tr", ZoneInfo("Europe/Istanbul"), {"energy": "Enerji"})
    html = render_alert(AlertView("correction", payload), ctx)
    assert "İmza tarihi: 24 Kasım 2025 → —" in html
    payload = {**BASE, "change": {"field": "sector", "old": "", "new": "energy"}}
    assert "Sektör: — → Enerji" in render_alert(AlertView("correction", payload), ctx)


def test_an_old_plain_note_is_still_shown() -> None:
    """Alerts queued by an older release carry only "note"; they must still render."""
    payload = {**BASE, "note": "signed_on: 2025-11-24 → 2025-11-25"}
    ctx = RenderContext("en", ZoneInfo("Europe/Istanbul"))
    html = render_alert(AlertView("correction", payload), ctx)
    assert "<i>signed_on: 2025-11-24 → 2025-11-25</i>" in html

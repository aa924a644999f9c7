"""Alert rendering is pure: valid Telegram HTML, escaped, within limits, in the reader's zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.alert_render import AlertView, RenderContext, render_alert, render_bundle, to_plain
from bot.render import MESSAGE_LIMIT, utf16_len
from bot.standin import ApiError, parse_html

NASTY = '<b>&amp; "quoted" </i> <script>'

AGREEMENT = {
    "title": "Nuclear power cooperation MoU",
    "sector": "energy",
    "signed_on": "2025-11-24",
    "parties": "KHNP & EÜAŞ",
    "status": "confirmed",
    "sources": [{"title": "Yonhap", "url": "https://en.yna.co.kr/view/1?a=1&b=2"}],
    "agreement_id": 3,
    "story_id": None,
}
AGENDA = {
    "item_id": 7,
    "change": "changed",
    "starts_at": "2025-11-24T07:30:00+00:00",
    "time_known": True,
    "title": {"en": "Summit talks", "ko": "정상회담", "tr": "Zirve görüşmesi"},
    "place": {"en": "Presidential Complex, Ankara"},
}


def ctx(lang: str = "en", tz: str = "Europe/Istanbul", *, digest: bool = False) -> RenderContext:
    return RenderContext(lang, ZoneInfo(tz), {"energy": "Energy"}, digest)


def valid(html: str) -> str:
    """The text a Telegram user would see; fails the test if Telegram would reject it."""
    try:
        plain, _ = parse_html(html)
    except ApiError as exc:  # pragma: no cover - the assertion message is the point
        pytest.fail(f"invalid Telegram HTML: {exc.description}\n{html}")
    assert utf16_len(plain) <= MESSAGE_LIMIT
    return plain


def test_confirmed_agreement_has_marker_sector_date_and_source_link() -> None:
    html = render_alert(AlertView("agreement", AGREEMENT), ctx())
    text = valid(html)
    assert "Confirmed" in text and "Reported" not in text
    assert "Energy" in text and "KHNP & EÜAŞ" in text and "November 24, 2025" in text
    assert '<a href="https://en.yna.co.kr/view/1?a=1&amp;b=2">Yonhap</a>' in html


def test_reported_agreement_is_marked_reported() -> None:
    text = valid(render_alert(AlertView("agreement", {**AGREEMENT, "status": "reported"}), ctx()))
    assert "Reported" in text and "not yet confirmed" in text


def test_times_are_shown_in_the_subscribers_zone() -> None:
    istanbul = valid(render_alert(AlertView("agenda", AGENDA), ctx(tz="Europe/Istanbul")))
    seoul = valid(render_alert(AlertView("agenda", AGENDA), ctx(tz="Asia/Seoul")))
    assert "10:30" in istanbul and "16:30" in seoul
    unknown = valid(render_alert(AlertView("agenda", {**AGENDA, "time_known": False}), ctx()))
    assert "time to be confirmed" in unknown


def test_reminder_and_localized_title() -> None:
    payload = {**AGENDA, "minutes_before": 30}
    text = valid(render_alert(AlertView("reminder", payload), ctx("ko", "Asia/Seoul")))
    assert "정상회담" in text and "30" in text


@pytest.mark.parametrize("kind", ["agreement", "correction", "agenda", "broadcast"])
def test_every_outside_string_is_escaped(kind: str) -> None:
    payload: dict[str, object]
    if kind == "broadcast":
        payload = {"text": NASTY}
    elif kind == "agenda":
        payload = {**AGENDA, "title": {"en": NASTY}, "place": {"en": NASTY}}
    else:
        payload = {
            **AGREEMENT,
            "title": NASTY,
            "parties": NASTY,
            "sector": NASTY,
            "note": NASTY,
            "sources": [{"title": NASTY, "url": 'https://x.example/"><b>'}],
        }
    text = valid(render_alert(AlertView(kind, payload), ctx()))
    assert NASTY in text


def test_non_http_source_is_not_a_link() -> None:
    payload = {**AGREEMENT, "sources": [{"title": "evil", "url": "javascript:alert(1)"}]}
    html = render_alert(AlertView("agreement", payload), ctx())
    assert "javascript" not in html and "evil" in valid(html)


def test_huge_broadcast_fits_one_message() -> None:
    for text in ("&" * 5000, "😀" * 5000, "word " * 3000):
        [message] = render_bundle([AlertView("broadcast", {"text": text})], ctx())
        valid(message.html)


def test_several_alerts_bundle_into_one_message_when_they_fit() -> None:
    alerts = [
        AlertView("agreement", AGREEMENT),
        AlertView("agenda", AGENDA),
        AlertView("broadcast", {"text": "Hello"}),
    ]
    [message] = render_bundle(alerts, ctx())
    assert message.alerts == (0, 1, 2)
    text = valid(message.html)
    assert "3 updates" in text and "Summit talks" in text and "Hello" in text


def test_bundles_split_at_the_limit_and_keep_every_alert_once() -> None:
    alerts = [AlertView("broadcast", {"text": f"{i} " + "x" * 1500}) for i in range(7)]
    messages = render_bundle(alerts, ctx())
    assert len(messages) > 1
    assert [i for m in messages for i in m.alerts] == list(range(7))
    for message in messages:
        valid(message.html)


def test_digest_heading() -> None:
    [message] = render_bundle([AlertView("agenda", AGENDA)], ctx(digest=True))
    assert "daily digest" in valid(message.html)


def test_plain_text_fallback_keeps_links_readable() -> None:
    html = render_alert(AlertView("agreement", AGREEMENT), ctx())
    plain = to_plain(html)
    assert "<" not in plain and "Yonhap (https://en.yna.co.kr/view/1?a=1&b=2)" in plain


def test_rendering_does_no_io_and_is_deterministic() -> None:
    view = AlertView("agenda", AGENDA)
    assert render_alert(view, ctx()) == render_alert(view, ctx())

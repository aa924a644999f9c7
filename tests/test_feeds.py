"""Feed fetching, parsing and normalisation, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import httpx
import pytest

from jobs import feeds
from jobs.backoff import jittered_interval, next_delay, should_pause
from jobs.feeds import (
    FeedEntry,
    FeedError,
    FetchError,
    ParseError,
    Validators,
    canonical_link,
    fetch_feed,
    make_client,
    parse_feed_bytes,
    plain_text,
    read_feed_file,
)
from tests.feedserver import CountingTransport, FeedServer, Reply

RSS_TYPE = "application/rss+xml"


def rss(*items: str, title: str = "Visit news", declaration: str = "") -> str:
    return (
        f'<?xml version="1.0"{declaration}?>\n<rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example/</link>{''.join(items)}</channel></rss>"
    )


def item(
    title: str = "",
    link: str = "",
    guid: str = "",
    description: str = "",
    pub_date: str = "",
    extra: str = "",
) -> str:
    parts = [
        f"<title>{title}</title>" if title else "",
        f"<link>{link}</link>" if link else "",
        f"<guid>{guid}</guid>" if guid else "",
        f"<description>{description}</description>" if description else "",
        f"<pubDate>{pub_date}</pubDate>" if pub_date else "",
        extra,
    ]
    return f"<item>{''.join(parts)}</item>"


SIMPLE = rss(
    item("Arrival in Ankara", "https://news.example/a", "a-1", "The president arrived."),
    item("State banquet", "https://news.example/b", "b-2", "Dinner at the palace."),
).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


def forbid_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the body must not be parsed")

    monkeypatch.setattr(feeds, "parse_feed_bytes", no_parse)


# --- conditional GET and unchanged bodies ------------------------------------------------------


async def test_etag_and_last_modified_give_not_modified_without_parsing(
    server: FeedServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    lm = "Tue, 01 Apr 2025 10:00:00 GMT"
    server.route(
        "/feed",
        Reply(body=SIMPLE, headers={"Content-Type": RSS_TYPE}, etag='"v1"', last_modified=lm),
    )
    first = await fetch_feed(client, server.url("/feed"))
    assert first.status == "changed"
    assert first.feed is not None and [e.title for e in first.feed.entries] == [
        "Arrival in Ankara",
        "State banquet",
    ]
    assert first.validators == Validators('"v1"', lm, hashlib.sha256(SIMPLE).hexdigest())
    assert first.nbytes == len(SIMPLE)

    forbid_parsing(monkeypatch)
    second = await fetch_feed(client, server.url("/feed"), first.validators)
    assert second.status == "not_modified"
    assert second.feed is None and second.nbytes == 0
    assert second.validators == first.validators

    sent = [r.headers for r in server.requests_to("/feed")]
    assert "if-none-match" not in sent[0] and "if-modified-since" not in sent[0]
    assert sent[1]["if-none-match"] == '"v1"'
    assert sent[1]["if-modified-since"] == lm
    assert sent[0]["user-agent"] == feeds.USER_AGENT


async def test_last_modified_alone_gives_not_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    lm = "Wed, 02 Apr 2025 08:30:00 GMT"
    server.route("/feed", Reply(body=SIMPLE, last_modified=lm))
    first = await fetch_feed(client, server.url("/feed"))
    assert first.validators.etag is None and first.validators.last_modified == lm
    second = await fetch_feed(client, server.url("/feed"), first.validators)
    assert second.status == "not_modified"


async def test_same_body_without_validators_is_unchanged_and_not_parsed(
    server: FeedServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/feed", Reply(body=SIMPLE, headers={"Content-Type": RSS_TYPE}))
    first = await fetch_feed(client, server.url("/feed"))
    assert first.status == "changed" and first.validators.etag is None

    forbid_parsing(monkeypatch)
    second = await fetch_feed(client, server.url("/feed"), first.validators)
    assert second.status == "unchanged"
    assert second.feed is None
    assert second.validators.body_hash == first.validators.body_hash
    assert "if-none-match" not in server.requests_to("/feed")[1].headers


async def test_changed_body_is_parsed_again(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.route("/feed", Reply(body=SIMPLE))
    first = await fetch_feed(client, server.url("/feed"))
    server.route("/feed", Reply(body=rss(item("New", guid="urn:n")).encode()))
    second = await fetch_feed(client, server.url("/feed"), first.validators)
    assert second.status == "changed"
    assert second.feed is not None and [e.id for e in second.feed.entries] == ["urn:n"]


async def test_gzip_encoded_feed(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.route("/feed", Reply(body=gzip.compress(SIMPLE), headers={"Content-Encoding": "gzip"}))
    result = await fetch_feed(client, server.url("/feed"))
    assert result.feed is not None and len(result.feed.entries) == 2


# --- HTTP failures -----------------------------------------------------------------------------


async def test_server_error(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.route("/feed", Reply(status=500, body=b"oops"))
    with pytest.raises(FetchError) as caught:
        await fetch_feed(client, server.url("/feed"))
    assert caught.value.reason == "server returned HTTP 500"
    assert caught.value.status_code == 500
    assert caught.value.retry_after is None


async def test_not_found(server: FeedServer, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="server returned HTTP 404"):
        await fetch_feed(client, server.url("/missing"))


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", 120.0),
        (503, "7", 7.0),
        (429, "-5", 0.0),
        (429, "99999999", 86400.0),
        (429, "soon", None),
        (500, "120", None),  # only 429 and 503 carry a meaningful Retry-After
    ],
)
async def test_retry_after_seconds(
    server: FeedServer,
    client: httpx.AsyncClient,
    status: int,
    retry_after: str,
    expected: float | None,
) -> None:
    server.route("/feed", Reply(status=status, headers={"Retry-After": retry_after}))
    with pytest.raises(FetchError) as caught:
        await fetch_feed(client, server.url("/feed"))
    assert caught.value.retry_after == expected
    assert caught.value.reason.startswith(f"server returned HTTP {status}")


async def test_retry_after_http_date_is_measured_against_server_date(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server_now = datetime(2025, 4, 1, 12, 0, 0, tzinfo=UTC)  # server clock far from ours
    until = server_now + timedelta(seconds=90)
    server.route(
        "/feed",
        Reply(
            status=503,
            headers={
                "Date": format_datetime(server_now, usegmt=True),
                "Retry-After": format_datetime(until, usegmt=True),
            },
        ),
    )
    with pytest.raises(FetchError) as caught:
        await fetch_feed(client, server.url("/feed"))
    assert caught.value.retry_after == 90.0
    assert "retry after 90 s" in caught.value.reason


async def test_slow_server_times_out(server: FeedServer) -> None:
    server.route("/feed", Reply(body=SIMPLE, delay=10))
    started = time.monotonic()
    async with make_client(read_timeout=0.3) as http:
        with pytest.raises(FetchError) as caught:
            await fetch_feed(http, server.url("/feed"))
    assert caught.value.reason == "timed out after 0.3 s"
    assert time.monotonic() - started < 3


async def test_trickling_server_hits_the_total_deadline(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.route("/feed", Reply(body=lambda: iter([b"<"] * 1000), chunk_delay=0.05))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetch_feed(client, server.url("/feed"), total_timeout=0.5)
    assert caught.value.reason == "timed out after 0.5 s (whole download)"
    assert time.monotonic() - started < 3


def fifty_megabytes() -> Iterator[bytes]:
    chunk = b"<!-- padding -->" * 4096  # 64 KiB
    for _ in range(50_000_000 // len(chunk) + 1):
        yield chunk


async def test_huge_chunked_body_is_abandoned_at_the_cap(server: FeedServer) -> None:
    server.route("/huge", Reply(body=fifty_megabytes, headers={"Content-Type": RSS_TYPE}))
    transport = CountingTransport()
    started = time.monotonic()
    async with make_client(transport) as http:
        with pytest.raises(FetchError) as caught:
            await fetch_feed(http, server.url("/huge"))
    assert caught.value.reason == "response larger than 5 MB"
    # The client read at most the cap plus one network read (httpcore reads 64 KiB at a time)...
    assert feeds.DEFAULT_MAX_BYTES < transport.received <= feeds.DEFAULT_MAX_BYTES + 65536
    # ...and the server got to hand the kernel only a fraction of the 50 MB before the hang-up.
    await asyncio.sleep(0.2)  # let the server thread notice the hang-up
    assert server.bytes_sent.get("/huge", 0) < 25_000_000
    assert time.monotonic() - started < 5


async def test_declared_huge_body_is_refused_before_reading(server: FeedServer) -> None:
    server.route(
        "/huge",
        Reply(body=fifty_megabytes, headers={"Content-Length": str(50 * 2**20)}),
    )
    transport = CountingTransport()
    async with make_client(transport) as http:
        with pytest.raises(FetchError, match="response larger than 1 MB"):
            await fetch_feed(http, server.url("/huge"), max_bytes=1_000_000)
    assert transport.received == 0


async def test_redirect_loop(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.route("/a", Reply(status=302, headers={"Location": "/b"}))
    server.route("/b", Reply(status=301, headers={"Location": "/a"}))
    with pytest.raises(FetchError) as caught:
        await fetch_feed(client, server.url("/a"))
    assert caught.value.reason == "too many redirects"
    assert len(server.requests) == 6  # the first request and five redirects, then stop


async def test_redirect_is_followed_and_links_resolve_against_the_final_url(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    body = rss(item("Moved", "/news/1", description="x")).encode()
    server.route("/old", Reply(status=301, headers={"Location": "/new/feed.xml"}))
    server.route("/new/feed.xml", Reply(body=body, headers={"Content-Type": RSS_TYPE}))
    result = await fetch_feed(client, server.url("/old"))
    assert result.final_url == server.url("/new/feed.xml")
    assert result.feed is not None
    assert result.feed.entries[0].link == server.url("/news/1")


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with make_client() as http:
        with pytest.raises(FetchError, match="could not connect to 127.0.0.1"):
            await fetch_feed(http, f"http://127.0.0.1:{port}/feed")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed", "not a url", "http://[::1/feed"])
async def test_unusable_urls(client: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(FetchError):
        await fetch_feed(client, url)


async def test_304_to_an_unconditional_request_is_an_error(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.route("/feed", Reply(status=304))
    with pytest.raises(FetchError, match="HTTP 304"):
        await fetch_feed(client, server.url("/feed"))


# --- documents that are not (good) feeds -------------------------------------------------------

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body></body></html>"
)


async def test_html_page_is_not_a_feed(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.route("/feed", Reply(body=HTML_PAGE, headers={"Content-Type": "text/html"}))
    with pytest.raises(ParseError) as caught:
        await fetch_feed(client, server.url("/feed"))
    assert caught.value.reason == "not a feed: the server sent an HTML page"


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/html; charset=utf-8"])
async def test_html_page_detected_whatever_the_content_type(content_type: str | None) -> None:
    with pytest.raises(ParseError, match="HTML page"):
        await parse_feed_bytes(HTML_PAGE, content_type=content_type)


async def test_malformed_feed_without_entries(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.route("/feed", Reply(body=b'<rss version="2.0"><channel><title>x</title>'))
    with pytest.raises(ParseError) as caught:
        await fetch_feed(client, server.url("/feed"))
    assert caught.value.reason.startswith("malformed feed: ")
    assert "no element found" in caught.value.reason


async def test_malformed_feed_that_still_has_entries_is_accepted() -> None:
    body = rss(item("Kept", guid="k", description="fine")).replace("</channel>", "").encode()
    feed = await parse_feed_bytes(body)
    assert [e.title for e in feed.entries] == ["Kept"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not a feed: the document is empty"),
        (b"   \n", "not a feed: the document is empty"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "JSON"),
        (b"just some text", "not a feed: the document is not XML"),
        (b"<rss><channel><title>x</title></chan", "malformed feed: "),
        (b"<?xml version='1.0'?><opml><body/></opml>", "not a feed: no RSS, Atom or RDF"),
    ],
)
async def test_other_non_feeds(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        await parse_feed_bytes(body)


async def test_empty_but_valid_feed_has_no_entries() -> None:
    feed = await parse_feed_bytes(rss(title="Quiet day").encode())
    assert feed.title == "Quiet day" and feed.entries == [] and feed.skipped == []


async def test_billion_laughs_is_harmless() -> None:
    lol = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    body = f'<?xml version="1.0"?><!DOCTYPE rss [{lol}]>' + rss(item("&lol9;", guid="x"))[22:]
    started = time.monotonic()
    try:
        feed = await parse_feed_bytes(body.encode())
    except ParseError:
        pass
    else:
        assert all(len(e.title) <= feeds.TITLE_LIMIT for e in feed.entries)
    assert time.monotonic() - started < 5


async def test_deeply_nested_markup_is_harmless() -> None:
    nested = "<div>" * 50_000 + "deep" + "</div>" * 50_000
    body = rss(item("Deep", guid="d", description=nested.replace("<", "&lt;")))
    feed = await parse_feed_bytes(body.encode())
    assert feed.entries[0].summary == "deep"


async def test_unexpected_exceptions_become_parse_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("feedparser bug")

    monkeypatch.setattr(feedparser, "parse", explode)
    with pytest.raises(ParseError, match="could not parse the feed"):
        await parse_feed_bytes(SIMPLE)


async def test_feedparser_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real_parse = feedparser.parse

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    await parse_feed_bytes(SIMPLE)
    assert threads and threads[0] is not threading.main_thread()


async def test_body_is_never_taken_for_a_file_name(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(SIMPLE)
    with pytest.raises(ParseError):
        await parse_feed_bytes(str(secret).encode())


# --- encodings ---------------------------------------------------------------------------------

KO_TITLE = "대통령, 앙카라 도착 · 국빈 방문 첫날"
KO_SUMMARY = "정상회담 & 만찬"


def korean_feed(declaration: str) -> bytes:
    text = rss(
        item(
            KO_TITLE,
            "https://news.example.kr/1",
            "ko-1",
            "&lt;p&gt;정상회담 &amp;amp; 만찬&lt;/p&gt;",
        ),
        title="연합뉴스",
        declaration=declaration,
    )
    return text.encode("euc-kr")


async def test_euc_kr_declared_in_the_document() -> None:
    feed = await parse_feed_bytes(korean_feed(' encoding="EUC-KR"'), content_type=RSS_TYPE)
    assert feed.title == "연합뉴스"
    assert feed.entries[0].title == KO_TITLE
    assert feed.entries[0].summary == KO_SUMMARY


async def test_euc_kr_from_the_content_type_only(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.route(
        "/ko", Reply(body=korean_feed(""), headers={"Content-Type": f"{RSS_TYPE}; charset=EUC-KR"})
    )
    result = await fetch_feed(client, server.url("/ko"))
    assert result.feed is not None
    assert result.feed.entries[0].title == KO_TITLE
    assert result.feed.entries[0].summary == KO_SUMMARY


async def test_euc_kr_declared_but_served_as_bare_text_xml() -> None:
    # RFC 3023 says us-ascii here; feedparser flags it but decodes EUC-KR, and we accept that.
    feed = await parse_feed_bytes(korean_feed(' encoding="EUC-KR"'), content_type="text/xml")
    assert feed.entries[0].title == KO_TITLE


async def test_turkish_iso_8859_9() -> None:
    title = "Cumhurbaşkanı Erdoğan, İstanbul'da ağırladı"
    body = rss(item(title, guid="tr-1"), declaration=' encoding="ISO-8859-9"').encode("iso-8859-9")
    feed = await parse_feed_bytes(body)
    assert feed.entries[0].title == title


# --- normalisation -----------------------------------------------------------------------------


async def test_entry_fields() -> None:
    body = rss(
        item(
            "Talks &amp; &lt;b&gt;deals&lt;/b&gt;",
            "https://news.example/a?utm_source=rss&id=3",
            "guid-1",
            "&lt;p&gt;Line&lt;br/&gt;two&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;",
            "Tue, 01 Apr 2025 18:30:00 +0900",
        )
    ).encode()
    (entry,) = (await parse_feed_bytes(body)).entries
    assert entry == FeedEntry(
        id="guid-1",
        title="Talks & deals",
        link="https://news.example/a?utm_source=rss&id=3",
        summary="Line two",
        published=datetime(2025, 4, 1, 9, 30, tzinfo=UTC),
        guid="guid-1",
    )


async def test_identity_falls_back_from_guid_to_link_to_text_hash() -> None:
    body = rss(
        item("With guid", "https://news.example/1", "g-1"),
        item("Link only", "HTTPS://News.Example:443/2?b=2&a=1&utm_medium=x#top"),
        item("Text only", description="No link at all"),
    ).encode()
    by_title = {e.title: e for e in (await parse_feed_bytes(body)).entries}
    assert by_title["With guid"].id == "g-1"
    assert by_title["Link only"].id == "https://news.example/2?a=1&b=2"
    assert by_title["Link only"].guid is None
    text_hash = hashlib.sha256(b"Text only\nNo link at all").hexdigest()
    assert by_title["Text only"].id == f"sha256:{text_hash}"
    assert by_title["Text only"].link is None


async def test_empty_and_duplicate_entries_are_skipped_with_a_reason() -> None:
    body = rss(
        item("First", guid="same"),
        item(extra="<category>nothing else</category>"),
        item("Second copy", guid="same"),
    ).encode()
    feed = await parse_feed_bytes(body)
    assert [e.title for e in feed.entries] == ["First"]
    assert feed.skipped == [
        ("entry #2", "no title, link or summary"),
        ("same", "same id as an earlier entry"),
    ]


async def test_non_web_links_are_dropped() -> None:
    body = rss(item("Click", "javascript:alert(1)", description="x")).encode()
    (entry,) = (await parse_feed_bytes(body)).entries
    assert entry.link is None
    assert entry.id.startswith("sha256:")


async def test_atom_content_used_when_there_is_no_summary() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">Atom &lt;i&gt;news&lt;/i&gt;</title>
<id>urn:feed</id><updated>2025-04-01T00:00:00Z</updated>
<entry><id>urn:e1</id><title>Atom entry</title><updated>2025-04-01T12:00:00+03:00</updated>
<link href="https://news.example/atom/1"/>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Body <em>text</em></p></div>
</content></entry></feed>"""
    feed = await parse_feed_bytes(body)
    assert feed.title == "Atom news"
    (entry,) = feed.entries
    assert entry.summary == "Body text"
    assert entry.published == datetime(2025, 4, 1, 9, 0, tzinfo=UTC)  # from <updated>


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Mon, 31 Mar 2025 23:15:00 -0500", datetime(2025, 4, 1, 4, 15, tzinfo=UTC)),
        ("2025-04-01T10:00:00+03:00", datetime(2025, 4, 1, 7, 0, tzinfo=UTC)),
        ("Thu, 01 Jan 1970 00:00:00 GMT", None),
        ("Sat, 01 Jan 2150 00:00:00 GMT", None),
        ("yesterday-ish", None),
    ],
)
async def test_dates_are_utc_and_garbage_is_dropped(
    pub_date: str, expected: datetime | None
) -> None:
    body = rss(item("Dated", guid="d", pub_date=pub_date)).encode()
    (entry,) = (await parse_feed_bytes(body)).entries
    assert entry.published == expected
    if entry.published is not None:
        assert entry.published.tzinfo is UTC


async def test_long_text_is_capped() -> None:
    body = rss(item("word " * 300, guid="long", description="x" * 5000)).encode()
    (entry,) = (await parse_feed_bytes(body)).entries
    assert len(entry.title) <= feeds.TITLE_LIMIT and entry.title.endswith("…")
    assert len(entry.summary) == feeds.SUMMARY_LIMIT and entry.summary.endswith("…")


async def test_read_feed_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(SIMPLE)
    assert len((await read_feed_file(path)).entries) == 2
    with pytest.raises(FetchError, match="could not read missing.xml"):
        await read_feed_file(tmp_path / "missing.xml")
    with pytest.raises(FetchError, match="file larger than 100 bytes"):
        await read_feed_file(path, max_bytes=100)


def test_error_tree() -> None:
    assert issubclass(FetchError, FeedError) and issubclass(ParseError, FeedError)
    error = FetchError("server returned HTTP 429", retry_after=5.0, status_code=429)
    assert (error.reason, error.retry_after, str(error)) == (
        "server returned HTTP 429",
        5.0,
        "server returned HTTP 429",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com", "http://example.com/"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&UTM_Campaign=y", "https://example.com/a"),
        (
            "https://example.com/a?z=1&a=2&utm_medium=rss&m=%20x",
            "https://example.com/a?a=2&m=%20x&z=1",
        ),
        ("https://user@Example.com:443/a", "https://user@example.com/a"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("/relative/path?b=1&a=2", "/relative/path?a=2&b=1"),
        ("http://[::1/broken", "http://[::1/broken"),
    ],
)
def test_canonical_link(url: str, expected: str) -> None:
    assert canonical_link(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("a &amp; b &lt; c &gt; &eacute; &#8364; &#x20AC;", "a & b < c > é € €"),
        ('<p>unfinished <a href="x', "unfinished"),
        ("<script>var x = '<p>';</script>Shown<style>p { color: red }</style>", "Shown"),
        ("  lots\n\tof   \u00a0 space  ", "lots of space"),
        ("<p>one</p><p>two</p><br/>three<li>four", "one two three four"),
        ("&lt;b&gt;double-escaped&lt;/b&gt;", "double-escaped"),
        ("2 < 3 and 5 > 4", "2 < 3 and 5 > 4"),
        ("nul\x00 bell\x07 ok", "nul bell ok"),
        ("<![if !supportLists]>x<![endif]>", "x"),
        ("<![bogus section", ""),
        ("<!-- hidden -->visible", "visible"),
        ("", ""),
    ],
)
def test_plain_text(text: str, expected: str) -> None:
    assert plain_text(text, 100) == expected


def test_plain_text_cuts_at_a_word_boundary() -> None:
    assert plain_text("The president arrived in Ankara", 30) == "The president arrived in…"
    assert plain_text("abcdefghijklmnopqrstuvwxyz", 10) == "abcdefghi…"
    assert len(plain_text("x " * 1000, 500)) <= 500


# --- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_and_caps() -> None:
    delays = [next_delay(n, 600) for n in range(8)]
    assert delays == [600, 1200, 2400, 4800, 9600, 19200, 21600, 21600]
    assert next_delay(10_000, 600) == 6 * 3600  # no overflow


def test_backoff_respects_retry_after() -> None:
    assert next_delay(1, 600, retry_after=3600) == 3600
    assert next_delay(5, 600, retry_after=10) == 19200
    assert next_delay(20, 600, retry_after=86400) == 86400  # beyond the cap: the server knows


def test_backoff_jitter_stays_within_ten_percent_and_the_cap() -> None:
    rng = random.Random(7)
    for failures in range(10):
        plain = next_delay(failures, 600)
        jittered = next_delay(failures, 600, rng=rng)
        assert 0.9 * plain <= jittered <= min(1.1 * plain, 6 * 3600)
    values = {round(jittered_interval(1000, rng)) for _ in range(200)}
    assert min(values) >= 900 and max(values) <= 1100 and len(values) > 50


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        next_delay(1, 0)


def test_should_pause_after_two_days_of_failures() -> None:
    now = datetime(2025, 4, 3, 12, 0, tzinfo=UTC)
    assert not should_pause(None, now)
    assert not should_pause(now - timedelta(days=1, hours=23), now)
    assert should_pause(now - timedelta(days=2), now)
    assert should_pause(now - timedelta(hours=2), now, window=timedelta(hours=1))

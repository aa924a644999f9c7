"""`visitbot scan`: the polling pipeline on one source, as JSON lines or a table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer, Reply

REPO = Path(__file__).resolve().parents[1]

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local news</title>
<item><title>South Korea, Türkiye sign nuclear energy MoU as Lee meets Erdoğan in Ankara</title>
<link>https://News.Example.com/a?utm_source=rss#top</link>
<pubDate>Mon, 24 Nov 2025 15:00:00 +0300</pubDate></item>
<item><title>이재명 대통령, UAE 국빈 방문…바라카 원전 방문</title><link>https://example.com/b</link>
<pubDate>Tue, 18 Nov 2025 10:00:00 +0900</pubDate></item>
<item><title>Cumhurbaşkanı Erdoğan, Güney Kore Cumhurbaşkanı Lee ile görüştü</title>
<guid isPermaLink="false">tr-1</guid><pubDate>Mon, 24 Nov 2025 18:00:00 +0300</pubDate></item>
<item><title>Weather in Seoul &amp; Busan</title><link>https://example.com/c</link></item>
</channel></rss>
"""


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "scan", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.route(
            "/feed.xml", Reply(body=FEED.encode(), headers={"Content-Type": "application/rss+xml"})
        )
        srv.route(
            "/html",
            Reply(body=b"<html><body>hi</body></html>", headers={"Content-Type": "text/html"}),
        )
        yield srv


def test_scan_url_as_json(server: FeedServer) -> None:
    result = scan(server.url("/feed.xml"), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(r) for r in rows] == [
        {"id", "title", "link", "published", "relevant", "visit", "kind", "sectors", "lang"}
    ] * 4
    signed, uae, talks, weather = rows
    assert signed["relevant"] and signed["kind"] == "agreement" and "energy" in signed["sectors"]
    assert signed["visit"] == "lee-jae-myung-turkiye-2025" and weather["visit"] is None
    assert (
        signed["id"] == "https://news.example.com/a"
    )  # canonical: host lower-cased, utm and fragment gone
    assert signed["published"] == "2025-11-24T12:00:00Z"
    assert not uae["relevant"] and uae["lang"] == "ko"
    assert talks["relevant"] and talks["kind"] == "agenda" and talks["lang"] == "tr"
    assert talks["id"] == "tr-1"
    assert weather["published"] is None and weather["title"] == "Weather in Seoul & Busan"
    assert not weather["relevant"]


def test_scan_file_as_table(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(FEED, encoding="utf-8")
    result = scan(str(path))
    assert result.returncode == 0, result.stderr
    assert "4 entries, 2 about the visit" in result.stdout
    assert "agreement" in result.stdout


@pytest.mark.parametrize(
    ("source", "fragment"),
    [("/html", "not a feed"), ("/missing", "HTTP 404"), ("file", "cannot")],
)
def test_scan_failures_exit_1_with_one_line(server: FeedServer, source: str, fragment: str) -> None:
    target = "/nonexistent/feed.xml" if source == "file" else server.url(source)
    result = scan(target, "--json")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr

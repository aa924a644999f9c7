"""Every document of feedparser's own test corpus through `parse_feed_bytes`.

About 2,100 well-formed, ill-formed, oddly encoded and hostile feeds. Whatever they contain, the
parser must either refuse the document with a `ParseError` or return entries that are plain,
capped text with a usable identity; no other exception may escape, and nothing may hang.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC
from pathlib import Path

import pytest

from jobs import feeds
from jobs.feeds import FeedEntry, ParsedFeed, ParseError, parse_feed_bytes

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/feedparser-tests"

# Many corpus files name the HTTP header they were served with in their leading comment.
_HEADER = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
PER_FILE_TIMEOUT = 10.0


def content_type_of(body: bytes) -> str | None:
    match = _HEADER.search(body[:2048])
    return match.group(1).decode("latin-1") if match else None


def check_entry(entry: FeedEntry) -> None:
    assert isinstance(entry, FeedEntry)
    assert isinstance(entry.id, str) and entry.id
    assert entry.title or entry.link or entry.summary
    for text, limit in ((entry.title, feeds.TITLE_LIMIT), (entry.summary, feeds.SUMMARY_LIMIT)):
        assert isinstance(text, str) and len(text) <= limit
        assert not _TAG.search(text), f"markup left in {text!r}"
        assert not _BAD_CHARS.search(text), f"control characters left in {text!r}"
        assert text == " ".join(text.split()), f"whitespace not folded in {text!r}"
    assert entry.link is None or entry.link.lower().startswith(("http://", "https://"))
    assert entry.published is None or entry.published.tzinfo is UTC
    assert entry.guid is None or isinstance(entry.guid, str)


def check_feed(feed: ParsedFeed) -> None:
    assert isinstance(feed, ParsedFeed)
    assert len(feed.title) <= feeds.TITLE_LIMIT and not _TAG.search(feed.title)
    for entry in feed.entries:
        check_entry(entry)
    assert len({entry.id for entry in feed.entries}) == len(feed.entries)
    for label, reason in feed.skipped:
        assert isinstance(label, str) and label
        assert isinstance(reason, str) and reason


async def test_every_corpus_document_parses_or_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feed corpus not found at {CORPUS} (shared/ must sit beside the repository)")
    paths = sorted(path for path in CORPUS.rglob("*") if path.is_file())
    assert len(paths) > 1000, "the corpus looks truncated"

    ok = refused = entries = skipped = 0
    reasons: dict[str, int] = {}
    failures: list[str] = []
    started = time.monotonic()
    for path in paths:
        name = str(path.relative_to(CORPUS))
        body = path.read_bytes()
        try:
            feed = await asyncio.wait_for(
                parse_feed_bytes(body, content_type=content_type_of(body)), PER_FILE_TIMEOUT
            )
        except ParseError as error:
            assert error.reason, name
            refused += 1
            kind = error.reason.split(":", 1)[0]
            reasons[kind] = reasons.get(kind, 0) + 1
            continue
        except Exception as error:  # the point of the test: report every such file
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        try:
            check_feed(feed)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
            continue
        ok += 1
        entries += len(feed.entries)
        skipped += len(feed.skipped)
    elapsed = time.monotonic() - started

    with capsys.disabled():
        print(
            f"\nfeed corpus: {len(paths)} files in {elapsed:.1f} s: {ok} ok, {refused} ParseError "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))}), "
            f"{entries} entries, {skipped} skipped"
        )
    assert not failures, "\n".join(failures[:50])
    assert ok > refused  # most of the corpus is well-formed feeds
    assert elapsed < 45

"""Feed I/O: fetch a feed over HTTP, parse it with feedparser, normalise its entries.

This module knows nothing of Telegram or of the database. It turns a URL (or a file) into plain,
size-capped `FeedEntry` values with a stable identity, or into one `FeedError` whose ``reason`` is
short enough to show an operator. Everything a hostile or broken server can do — huge bodies,
redirect loops, stalls, HTML error pages, bad encodings, malformed XML — ends in a `FeedError`;
nothing else escapes `fetch_feed`, `parse_feed_bytes` or `read_feed_file` (cancellation aside).

Why it is built this way:

* One `httpx.AsyncClient` for the whole app (see `make_client`), injected, so connections are
  pooled and tests can hand in a client pointed at a local server.
* Conditional GET (ETag / Last-Modified) and a body hash, so an unchanged feed costs the server a
  304 and us no parsing at all.
* The body is streamed and capped, so a misconfigured server cannot make us buffer 50 MB.
* feedparser is synchronous and CPU-bound; it runs in a worker thread so the bot's event loop keeps
  answering users while a big feed is parsed.
* feedparser is given bytes wrapped in a stream, never bare bytes or str: given a string it would
  treat it as a URL or a file name and go and fetch or open it.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import io
import ipaddress
import logging
import math
import re
import socket
import time
import xml.sax
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import feedparser  # type: ignore[import-untyped]
import httpcore
import httpx

from storage.textfold import strip_bidi

__all__ = [
    "DEFAULT_MAX_BYTES",
    "USER_AGENT",
    "FeedEntry",
    "FeedError",
    "FetchError",
    "FetchResult",
    "ParseError",
    "ParsedFeed",
    "Validators",
    "canonical_link",
    "fetch_feed",
    "make_client",
    "parse_feed_bytes",
    "plain_text",
    "read_feed_file",
]

log = logging.getLogger(__name__)

USER_AGENT = "visitbot/0.1 (+https://github.com/visitbot; news alerts for a state visit)"
"""Names the bot and how to reach its authors, as polite crawlers do."""

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)

DEFAULT_MAX_BYTES = 5_000_000
"""Largest body we read. Real news feeds are well under 1 MB; anything bigger is a mistake."""

DEFAULT_TOTAL_TIMEOUT = 60.0
"""Deadline for one whole download. The read timeout alone would let a server that trickles one
byte every few seconds hold a poll open forever."""

PARSE_TIMEOUT = 30.0
"""How long we wait for feedparser. The worker thread cannot be killed, but the poll moves on."""

MAX_RETRY_AFTER = 24 * 3600.0
"""A Retry-After longer than a day is taken as a day: the feed is paused after two days anyway."""

TITLE_LIMIT = 500
SUMMARY_LIMIT = 2000
MAX_ENTRIES = 1000
"""Entries kept per document. News feeds carry tens; thousands are an archive dump, not news."""

_MAX_ID_LENGTH = 1024
_MAX_LINK_LENGTH = 2048
_MIN_YEAR, _MAX_YEAR = 1990, 2100


# --- errors ----------------------------------------------------------------------------------


class FeedError(Exception):
    """Any failure to get entries out of a feed.

    ``reason`` is a short English sentence fit to show an operator ("server returned HTTP 500").
    ``retry_after`` is the number of seconds the server asked us to wait, if it asked.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class FetchError(FeedError):
    """The document could not be downloaded (network, timeout, HTTP status, size, redirects)."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.status_code = status_code


class ParseError(FeedError):
    """The document was downloaded but is not a usable feed."""


# --- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validators:
    """What we remember about the last good response, to make the next request cheap."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One news item, reduced to plain text.

    ``id`` is stable across polls: the guid, else the canonical link, else a hash of the text.
    """

    id: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    guid: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document. ``skipped`` holds ``(which entry, why)`` for entries left out."""

    title: str
    entries: list[FeedEntry]
    skipped: list[tuple[str, str]]


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful poll.

    ``status`` is "not_modified" (HTTP 304), "unchanged" (same body hash as last time; not
    parsed) or "changed" (parsed; ``feed`` is set). ``validators`` are to be stored and passed to
    the next `fetch_feed`.
    """

    status: Literal["not_modified", "unchanged", "changed"]
    validators: Validators
    feed: ParsedFeed | None
    final_url: str
    elapsed: float
    nbytes: int


# --- fetching --------------------------------------------------------------------------------


def make_client(
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    connect_timeout: float = 10.0,
    read_timeout: float = 20.0,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """The app's one HTTP client for feeds; the caller owns it and must close it.

    Redirects are followed (feeds move) but at most 5 deep, so a loop fails fast. Requests made
    with ``public_only`` go through `GuardedTransport`: resolved once, every address checked, and
    the connection made to a checked address. `resolver` replaces DNS (tests).
    """
    resolve = resolver or system_resolver
    return httpx.AsyncClient(
        transport=transport or GuardedTransport(resolve),
        headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT},
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=10.0, pool=10.0),
        follow_redirects=True,
        max_redirects=5,
        event_hooks={"request": [_refuse_private_hosts(resolve)]},
    )


# --- which hosts a feed may point at ---------------------------------------------------------

PUBLIC_ONLY = "visitbot_public_only"
"""Request extension: only public addresses. httpx copies a request's extensions to the requests
of its redirects, so a public feed cannot redirect the fetch to an internal address either."""

Resolver = Callable[[str], Awaitable[list[str]]]
"""A host name to its addresses (as text), in the order to try them."""

# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address it reaches.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Deprecated IPv4-compatible addresses (::a.b.c.d), still routed by some stacks.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


async def system_resolver(host: str) -> list[str]:
    """The operating system's answer for `host` (an IP literal is its own answer)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_address(address: str) -> bool:
    """Any address that is not plainly on the public internet, by one complete rule.

    The standard library's `is_global` (which also covers carrier-grade NAT 100.64.0.0/10,
    used by cloud metadata services and VPNs), plus what it lets through: multicast, the
    deprecated site-local fec0::/10, and IPv6 addresses that carry an IPv4 address inside
    (mapped, IPv4-compatible, 6to4 2002::/16, Teredo, NAT64 64:ff9b::/96), whose embedded
    address must pass the same rule.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if not ip.is_global or ip.is_multicast:
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return False
    if ip.is_site_local:
        return True
    embedded: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        embedded.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)  # (server, client)
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return any(forbidden_address(str(v4)) for v4 in embedded)


async def resolves_publicly(host: str, resolver: Resolver | None = None) -> bool:
    """True when `host` resolves, and only to public addresses."""
    try:
        addresses = await (resolver or system_resolver)(host)
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and not any(forbidden_address(a) for a in addresses)


def _refused(host: str) -> FetchError:
    return FetchError(f"refused: {host} is not a public address (private, loopback or link-local)")


def _refuse_private_hosts(resolver: Resolver) -> Callable[[httpx.Request], Awaitable[None]]:
    """Request hook: the name check, before httpx picks a connection.

    `GuardedTransport` checks again the addresses it connects to, which is what defeats DNS
    rebinding; this early check also covers requests httpx sends another way (a proxy from the
    environment, a transport handed in by a test).
    """

    async def hook(request: httpx.Request) -> None:
        if request.extensions.get(PUBLIC_ONLY) and not await resolves_publicly(
            request.url.host, resolver
        ):
            raise _refused(request.url.host)

    return hook


class PinningBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, resolving each host once and connecting to a checked address.

    httpcore hands `connect_tcp` the URL's host; it keeps that host for the Host header and
    for TLS (SNI and the certificate check), so only the socket goes to the pinned address.
    """

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolver(host)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        if any(forbidden_address(a) for a in addresses):
            raise _refused(host)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("feeds are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Two connection pools: trusted feeds (plain httpx), and `PUBLIC_ONLY` requests.

    Separate pools, so a connection opened for an operator's feed (which may be internal) is
    never reused for an admin's feed, and every public-only connection was made by
    `PinningBackend` to an address it checked.
    """

    def __init__(self, resolver: Resolver) -> None:
        self._trusted = httpx.AsyncHTTPTransport()
        self._public = httpx.AsyncHTTPTransport()
        # httpx has no setting for httpcore's network backend; its pool is swapped for one with
        # the same defaults and ours (httpx's handle_async_request only uses `_pool`).
        self._public._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PinningBackend(resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._public if request.extensions.get(PUBLIC_ONLY) else self._trusted
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        await self._trusted.aclose()
        await self._public.aclose()


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    previous: Validators = Validators(),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    public_only: bool = False,
) -> FetchResult:
    """Download ``url`` and parse it unless it is unchanged since ``previous``.

    With ``public_only`` (feeds added by admins), every host on the way, redirects included, must
    resolve to public addresses; the check runs before each connection.

    Raises `FetchError` or `ParseError` (both `FeedError`), and nothing else.
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(total_timeout):
            response_or_result = await _download(
                client, url, previous, max_bytes, started, public_only
            )
    except FeedError:
        raise
    except TimeoutError as exc:
        raise FetchError(f"timed out after {_secs(total_timeout)} (whole download)") from exc
    except httpx.HTTPError as exc:
        raise _translate_httpx_error(exc, client, url) from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid feed URL: {exc}") from exc
    except Exception as exc:  # the contract: nothing but FeedError leaves this function
        log.exception("unexpected error fetching %s", url)
        raise FetchError(f"unexpected error while fetching ({type(exc).__name__})") from exc

    if isinstance(response_or_result, FetchResult):
        return response_or_result
    body, content_type, final_url, etag, last_modified = response_or_result

    body_hash = hashlib.sha256(body).hexdigest()
    validators = Validators(etag=etag, last_modified=last_modified, body_hash=body_hash)
    if previous.body_hash is not None and body_hash == previous.body_hash:
        return FetchResult(
            "unchanged", validators, None, final_url, time.monotonic() - started, len(body)
        )
    feed = await parse_feed_bytes(body, content_type=content_type, base_url=final_url)
    return FetchResult(
        "changed", validators, feed, final_url, time.monotonic() - started, len(body)
    )


_Downloaded = tuple[bytes, str | None, str, str | None, str | None]


async def _download(
    client: httpx.AsyncClient,
    url: str,
    previous: Validators,
    max_bytes: int,
    started: float,
    public_only: bool = False,
) -> FetchResult | _Downloaded:
    """The HTTP part of `fetch_feed`: a 304 result, or (body, content type, url, validators)."""
    headers: dict[str, str] = {}
    if previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified

    extensions = {PUBLIC_ONLY: True} if public_only else None
    async with client.stream("GET", url, headers=headers, extensions=extensions) as response:
        status = response.status_code
        final_url = str(response.url)
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")

        if status == 304:
            if not headers:
                raise FetchError(
                    "server returned HTTP 304 to a request that was not conditional",
                    status_code=status,
                )
            validators = Validators(
                etag=etag or previous.etag,
                last_modified=last_modified or previous.last_modified,
                body_hash=previous.body_hash,
            )
            elapsed = time.monotonic() - started
            return FetchResult("not_modified", validators, None, final_url, elapsed, 0)

        if not 200 <= status < 300:
            retry_after = None
            if status in (429, 503):
                retry_after = _parse_retry_after(
                    response.headers.get("retry-after"), response.headers.get("date")
                )
            reason = f"server returned HTTP {status}"
            if retry_after is not None:
                reason += f", asked to retry after {_secs(retry_after)}"
            raise FetchError(reason, retry_after=retry_after, status_code=status)

        body = await _read_capped(response, max_bytes)
        return body, response.headers.get("content-type"), final_url, etag, last_modified


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """Read the (decompressed) body, giving up as soon as it exceeds ``max_bytes``."""
    too_big = FetchError(f"response larger than {_size(max_bytes)}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _translate_httpx_error(exc: httpx.HTTPError, client: httpx.AsyncClient, url: str) -> FetchError:
    """A user-facing `FetchError` for an httpx exception."""
    timeout = client.timeout
    host = _host_of(exc, url)
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError(f"timed out after {_secs(timeout.connect)} connecting to {host}")
    if isinstance(exc, httpx.TimeoutException):
        seconds = timeout.read if isinstance(exc, httpx.ReadTimeout) else None
        return FetchError(f"timed out after {_secs(seconds)}" if seconds else "timed out")
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchError("too many redirects")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError("unsupported URL: only http and https feeds can be fetched")
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"could not connect to {host}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError("the server broke the connection or sent an invalid HTTP response")
    if isinstance(exc, httpx.DecodingError):
        return FetchError("the server sent a corrupt compressed response")
    if isinstance(exc, httpx.ProxyError):
        return FetchError("the HTTP proxy refused or failed the request")
    if isinstance(exc, httpx.NetworkError):
        return FetchError(f"network error talking to {host}")
    return FetchError(f"HTTP error ({type(exc).__name__})")


def _host_of(exc: httpx.HTTPError, url: str) -> str:
    try:
        return exc.request.url.host or url
    except RuntimeError:  # no request attached
        return url


def _parse_retry_after(value: str | None, server_date: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date, clamped to [0, 1 day].

    An HTTP date is measured against the server's own Date header when there is one, so a server
    whose clock is off does not make us wait too long or not at all.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        now = _http_date(server_date) if server_date else None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _secs(seconds: float | None) -> str:
    return f"{seconds:g} s" if seconds is not None else "the time limit"


def _size(nbytes: int) -> str:
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:g} MB"
    if nbytes >= 1_000:
        return f"{nbytes / 1_000:g} kB"
    return f"{nbytes} bytes"


# --- files -----------------------------------------------------------------------------------


async def read_feed_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedFeed:
    """Parse a feed stored in a file (fixtures, offline mode). Raises `FeedError` only."""
    try:
        body = await asyncio.to_thread(_read_file_capped, path, max_bytes)
    except OSError as exc:
        raise FetchError(f"could not read {path.name}: {exc.strerror or exc}") from exc
    return await parse_feed_bytes(body)


def _read_file_capped(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as handle:
        body = handle.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise FetchError(f"file larger than {_size(max_bytes)}")
    return body


# --- parsing ---------------------------------------------------------------------------------


async def parse_feed_bytes(
    body: bytes, *, content_type: str | None = None, base_url: str = ""
) -> ParsedFeed:
    """Parse and normalise a feed document in a worker thread. Raises `ParseError` only.

    ``content_type`` is the HTTP Content-Type (its charset decides the encoding when present);
    ``base_url`` is where the document came from, to resolve relative links.
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_parse_sync, body, content_type, base_url), PARSE_TIMEOUT
        )
    except TimeoutError as exc:
        raise ParseError(f"the feed took longer than {_secs(PARSE_TIMEOUT)} to parse") from exc


_HTML_ROOT = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_JSON_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*[{\[]")
_NOT_MARKUP = re.compile(rb"^(?:\xef\xbb\xbf)?\s*[^<\s\x00\xfe\xff]")  # UTF-16/32 start otherwise
_BENIGN_BOZO: tuple[type[Exception], ...] = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)
_HTML_PAGE = "not a feed: the server sent an HTML page"


def _parse_sync(body: bytes, content_type: str | None, base_url: str) -> ParsedFeed:
    """`parse_feed_bytes` in the worker thread; turns every failure into a `ParseError`."""
    try:
        return _parse_document(body, content_type, base_url)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError("malformed feed: elements nested too deeply") from exc
    except Exception as exc:  # the contract: nothing but ParseError leaves parsing
        log.exception("unexpected error parsing %s", base_url or "a feed document")
        raise ParseError(f"could not parse the feed ({type(exc).__name__})") from exc


def _parse_document(body: bytes, content_type: str | None, base_url: str) -> ParsedFeed:
    if not body.strip():
        raise ParseError("not a feed: the document is empty")
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    if base_url:
        headers["content-location"] = base_url
    # A stream, never bare bytes: feedparser would try to open bytes as a file name.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)

    raw_entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    problem: BaseException | None = parsed.get("bozo_exception") if parsed.get("bozo") else None
    head = body[:4096]
    html_root = _HTML_ROOT.match(head) is not None
    media_type = _media_type(content_type) if content_type else ""
    html_type = media_type in ("text/html", "application/xhtml+xml")

    if html_root and html_type:
        raise ParseError(_HTML_PAGE)
    if not raw_entries:
        if not version:
            if html_root or html_type:
                raise ParseError(_HTML_PAGE)
            if _JSON_START.match(head):
                raise ParseError("not a feed: the server sent JSON (JSON Feed is not supported)")
            if _NOT_MARKUP.match(head):
                raise ParseError("not a feed: the document is not XML")
            if problem is not None and not isinstance(problem, _BENIGN_BOZO):
                raise ParseError(f"malformed feed: {_bozo_message(problem)}")
            raise ParseError("not a feed: no RSS, Atom or RDF document found")
        if problem is not None and not isinstance(problem, _BENIGN_BOZO):
            raise ParseError(f"malformed feed: {_bozo_message(problem)}")
    elif problem is not None:
        log.info(
            "feed %s has a problem but yields entries, accepted: %s",
            base_url or "(bytes)",
            _bozo_message(problem),
        )

    feed_meta = parsed.get("feed")
    feed_title = ""
    if isinstance(feed_meta, dict):
        feed_title = plain_text(_str(dict.get(feed_meta, "title")), TITLE_LIMIT)
    entries, skipped = _normalise_entries(raw_entries)
    if skipped:
        log.info(
            "skipped %d of %d entries in %s, e.g. %s: %s",
            len(skipped),
            len(raw_entries),
            base_url or "(bytes)",
            *skipped[0],
        )
        for label, reason in skipped:
            log.debug("skipped entry %s in %s: %s", label, base_url or "(bytes)", reason)
    return ParsedFeed(title=feed_title, entries=entries, skipped=skipped)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _bozo_message(problem: BaseException) -> str:
    """feedparser's complaint, with the position for XML syntax errors."""
    if isinstance(problem, xml.sax.SAXParseException):
        where = f" (line {problem.getLineNumber()}, column {problem.getColumnNumber()})"
        message = f"{problem.getMessage()}{where}"
    else:
        message = str(problem) or type(problem).__name__
    return message if len(message) <= 200 else message[:199] + "…"


# --- normalisation ---------------------------------------------------------------------------


class _Skip(Exception):
    """An entry that is left out, with the reason."""


def _normalise_entries(raw_entries: list[Any]) -> tuple[list[FeedEntry], list[tuple[str, str]]]:
    entries: list[FeedEntry] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries):
        if index >= MAX_ENTRIES:
            skipped.append(
                (
                    f"entries {MAX_ENTRIES + 1}-{len(raw_entries)}",
                    f"the feed has more than {MAX_ENTRIES} entries",
                )
            )
            break
        label = f"entry #{index + 1}"
        try:
            if not isinstance(raw, dict):
                raise _Skip("not an entry")
            label = _label(raw, index)
            entry = _normalise_entry(raw)
            if entry.id in seen:
                raise _Skip("same id as an earlier entry")
        except _Skip as skip:
            skipped.append((label, str(skip)))
            continue
        except Exception as exc:  # one odd entry must not sink the feed
            log.exception("could not normalise %s", label)
            skipped.append((label, f"could not be read ({type(exc).__name__})"))
            continue
        seen.add(entry.id)
        entries.append(entry)
    return entries, skipped


def _label(raw: dict[str, Any], index: int) -> str:
    for key in ("id", "link", "title"):
        value = _str(dict.get(raw, key)).strip()
        if value:
            return value if len(value) <= 120 else value[:119] + "…"
    return f"entry #{index + 1}"


def _normalise_entry(raw: dict[str, Any]) -> FeedEntry:
    # dict.get, not raw.get: FeedParserDict.get maps and falls back between keys with warnings.
    title = plain_text(_str(dict.get(raw, "title")), TITLE_LIMIT)
    summary_html = _str(dict.get(raw, "summary"))
    if not summary_html.strip():
        summary_html = _first_content(dict.get(raw, "content"))
    summary = plain_text(summary_html, SUMMARY_LIMIT)
    link = _web_link(_str(dict.get(raw, "link")))
    if not (title or link or summary):
        raise _Skip("no title, link or summary")

    guid = _str(dict.get(raw, "id")).strip() or None
    if guid is not None and len(guid) > _MAX_ID_LENGTH:
        guid = "sha256:" + hashlib.sha256(guid.encode("utf-8", "replace")).hexdigest()
    if guid is not None:
        identity = guid
    elif link is not None:
        identity = canonical_link(link)
    else:
        text = f"{title}\n{summary}".encode("utf-8", "replace")
        identity = "sha256:" + hashlib.sha256(text).hexdigest()

    published = _utc(dict.get(raw, "published_parsed")) or _utc(dict.get(raw, "updated_parsed"))
    return FeedEntry(
        id=identity, title=title, link=link, summary=summary, published=published, guid=guid
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _first_content(content: object) -> str:
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                value = _str(part.get("value"))
                if value.strip():
                    return value
    return ""


def _web_link(link: str) -> str | None:
    """``link`` if it is an absolute http(s) URL of sane length; None otherwise."""
    link = link.strip()
    if not link or len(link) > _MAX_LINK_LENGTH or any(ch.isspace() for ch in link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return link


def _utc(value: object) -> datetime | None:
    """An aware UTC datetime from feedparser's UTC struct_time; None for missing or absurd dates."""
    if not isinstance(value, tuple) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            return None
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


# --- links and text --------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def canonical_link(url: str) -> str:
    """A form of ``url`` under which the same article gets the same identity.

    Scheme and host are lower-cased, the default port, the fragment and ``utm_*`` tracking
    parameters are removed, and the remaining query parameters are sorted (kept byte-for-byte, not
    re-encoded). A string that is not a URL comes back stripped and otherwise unchanged.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if not parts.netloc:
        return urlunsplit((scheme, "", parts.path, _clean_query(parts.query), ""))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        host, port = (
            (hostport[: close + 1], hostport[close + 2 :]) if close != -1 else (hostport, "")
        )
    else:
        host, _, port = hostport.partition(":")
    host = host.lower().rstrip(".")
    if port in ("", _DEFAULT_PORTS.get(scheme)):
        port = ""
    netloc = f"{userinfo}{at}{host}{':' + port if port else ''}"
    path = parts.path or ("/" if scheme in _DEFAULT_PORTS else "")
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


def _clean_query(query: str) -> str:
    params = [p for p in query.split("&") if p and not p.lower().startswith("utm_")]
    return "&".join(sorted(params))


_SKIPPED_ELEMENTS = frozenset({"script", "style", "template", "noscript"})
# fmt: off
_BLOCK_ELEMENTS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# fmt: on
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LOOKS_LIKE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_FLAT_TAG = re.compile(r"<[^<>]*(?:>|$)")
_UNFINISHED_TAG = re.compile(r"<[A-Za-z!/?][^<>]*$")  # html.parser hands these back as text


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping script/style content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skipping += 1
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:  # <br/>, <hr/>; a self-closed <script/> has no content
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _strip_markup(text: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # html.parser asserts on some broken markup, e.g. "<![foo"
        return _FLAT_TAG.sub(" ", text)
    return "".join(parser.parts)


def plain_text(html_or_text: str, limit: int) -> str:
    """Plain text of an HTML fragment (or of text), at most ``limit`` characters.

    Tags are dropped (script and style with their content), entities decoded, control characters
    and bidi overrides (which would let a title read in another order than it is written)
    removed and whitespace folded to single spaces. Markup that is still there after one pass —
    feeds often escape their HTML twice — is stripped once more, so users never see raw tags.
    Longer text is cut at a word boundary where possible and ends with "…".
    """
    text = _strip_markup(html_or_text)
    if _LOOKS_LIKE_TAG.search(text):
        text = _strip_markup(text)
    text = " ".join(_CONTROL.sub(" ", strip_bidi(_UNFINISHED_TAG.sub("", text))).split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text.rfind(" ", 0, limit)
    if cut < limit * 0.8:
        cut = limit - 1
    return text[:cut].rstrip() + "…"

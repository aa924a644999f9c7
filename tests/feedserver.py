"""A real HTTP server on 127.0.0.1 for feed tests, scripted per path.

Tests talk to it over real sockets, so timeouts, streaming, size caps, redirects and conditional
GET are exercised the way they happen in production, not through a mock transport.

    with FeedServer() as server:
        server.route("/feed", Reply(body=b"<rss>...</rss>", etag='"v1"'))
        url = server.url("/feed")
        ...
        assert server.requests_to("/feed")[0].headers["user-agent"].startswith("visitbot/")

`CountingTransport` wraps httpx's transport to count the body bytes the client actually received.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx


@dataclass
class Reply:
    """What the server answers on one path.

    ``body`` is bytes (sent with Content-Length) or a callable returning an iterable of chunks
    (sent with chunked encoding, unless ``headers`` sets Content-Length). ``delay`` waits before
    the status line; ``chunk_delay`` waits before each chunk. With ``etag`` / ``last_modified``
    set, they are sent, and a request whose If-None-Match / If-Modified-Since matches gets a 304.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Callable[[], Iterable[bytes]] = b""
    delay: float = 0.0
    chunk_delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]


Route = Reply | Callable[[RecordedRequest], Reply]


class FeedServer:
    """A threaded HTTP/1.1 server on an ephemeral port of 127.0.0.1; use it as a context manager.

    ``host`` picks another loopback address (127.0.0.2 ...): another host to the poller, which
    is polite per host name, or a "public" server for the private-address guard.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.bytes_sent: dict[str, int] = {}
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def route(self, path: str, reply: Route) -> None:
        """Answer GETs of ``path`` (query string ignored) with ``reply``."""
        self.routes[path] = reply

    def url(self, path: str) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def __enter__(self) -> FeedServer:
        self._httpd = _Server((self.host, 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopped.set()  # wakes handlers sleeping in a delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- called from handler threads ---

    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path.split("?", 1)[0])
        if route is None:
            return Reply(status=404, body=b"not found")
        return route(request) if callable(route) else route

    def _count(self, path: str, nbytes: int) -> None:
        with self._lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + nbytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a stalled client must not block shutdown

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: FeedServer
    ) -> None:
        super().__init__(address, handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-body is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Like nginx's tcp_nodelay: without it, keep-alive responses written in two parts stall on
    # Nagle's algorithm and delayed ACKs (40 ms each), which would dominate local benchmarks.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest(self.command, self.path, headers)
        reply = owner._record(request)
        if reply.delay and owner.stopped.wait(reply.delay):
            return
        try:
            self._answer(owner, request, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer(self, owner: FeedServer, request: RecordedRequest, reply: Reply) -> None:
        validators = {}
        if reply.etag is not None:
            validators["ETag"] = reply.etag
        if reply.last_modified is not None:
            validators["Last-Modified"] = reply.last_modified
        if reply.status == 200 and _not_modified(request.headers, reply):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return

        self.send_response_only(reply.status)
        headers = {"Server": "feedserver", "Date": self.date_time_string()}
        headers.update(validators)
        headers.update(reply.headers)  # a scripted Date replaces the real one
        for name, value in headers.items():
            self.send_header(name, value)
        path = request.path.split("?", 1)[0]
        if isinstance(reply.body, bytes):
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            owner._count(path, len(reply.body))
            return

        chunked = not any(name.lower() == "content-length" for name in reply.headers)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in reply.body():
            if reply.chunk_delay and owner.stopped.wait(reply.chunk_delay):
                self.close_connection = True  # the client sees the body cut off, at once
                return
            if not chunk:
                continue
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            owner._count(path, len(chunk))
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


def _not_modified(headers: dict[str, str], reply: Reply) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if reply.etag is None:
            return False
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or reply.etag.removeprefix("W/") in tags
    if_modified_since = headers.get("if-modified-since")
    return (
        if_modified_since is not None
        and reply.last_modified is not None
        and if_modified_since == reply.last_modified
    )


class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, counting the response body bytes handed to the client."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.received = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CountingStream(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CountingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, owner: CountingTransport) -> None:
        self.inner = inner
        self.owner = owner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.owner.received += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()

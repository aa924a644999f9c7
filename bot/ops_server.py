"""The operator's HTTP endpoint: `/healthz` and `/metrics` on a local address (off by default).

Why a tiny asyncio server
-------------------------
It runs on the bot's own event loop (`asyncio.start_server`), so a health check sees the real
state of the real loop: if the loop is blocked, the check times out, which is exactly what a
supervisor should learn. It is independent of the update source, so it works the same in
polling and webhook mode, and it is started by a start-up hook (`bot.lifecycle`) like any
other feature. It speaks just enough HTTP/1.1 for probes and Prometheus (GET/HEAD,
`Connection: close`); it is meant for 127.0.0.1 or a private network, never for the internet.

Health
------
Healthy (200) when the database answers a trivial query within a timeout, the job queue's scheduler
is running and the updater (polling or webhook) is running; otherwise 503 with the failing checks
named in the JSON body. The ages of the last successful feed poll and the last delivery are
reported but do not fail the check: a news site being down, or a quiet day without alerts, is
not something a restart would fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from bot.logging_setup import redact
from bot.metrics import CONTENT_TYPE, Metrics
from bot.services import Services
from bot.webhook import webhook_server_of
from storage.alerts import last_delivery_at
from storage.db import to_db_time
from storage.feeds import last_feed_success

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
MAX_HEADER_LINES = 100
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


async def health_report(app: Any, svc: Services) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body) for `/healthz`."""
    checks: dict[str, dict[str, Any]] = {}
    database_ok = False
    try:
        await asyncio.wait_for(svc.db.ping(), DB_TIMEOUT_SECONDS)
        database_ok = True
        checks["database"] = {"ok": True}
    except TimeoutError:
        checks["database"] = {"ok": False, "error": f"no answer within {DB_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": redact(str(exc)) or type(exc).__name__}
    job_queue = app.job_queue
    scheduler_running = bool(job_queue is not None and job_queue.scheduler.running)
    checks["job_queue"] = {"ok": scheduler_running}
    webhook = webhook_server_of(app)
    updater_running = bool(app.updater is not None and app.updater.running) or bool(
        webhook is not None and webhook.running
    )
    checks["updater"] = {"ok": updater_running}

    now = svc.now()
    feed_at: dt.datetime | None = None
    delivery_at: dt.datetime | None = None
    if database_ok:
        with contextlib.suppress(Exception):
            feed_at = await last_feed_success(svc.db)
            delivery_at = await last_delivery_at(svc.db)
    failing = [name for name, check in checks.items() if not check["ok"]]
    body: dict[str, Any] = {
        "status": "unhealthy" if failing else "ok",
        "failing": failing,
        "checks": checks,
        "mode": "webhook" if svc.settings.webhook_url else "polling",
        "last_feed_poll": _age(feed_at, now),
        "last_delivery": _age(delivery_at, now),
    }
    return not failing, body


def _age(when: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    if when is None:
        return {"at": None, "age_seconds": None}
    age = round(max(0.0, (now - when).total_seconds()), 1)
    return {"at": to_db_time(when), "age_seconds": age}


class OpsServer:
    """`/healthz` and `/metrics` for one running Application."""

    def __init__(
        self, app: Any, svc: Services, metrics: Metrics | None, host: str, port: int
    ) -> None:
        self.app = app
        self.svc = svc
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        # The connection handlers still running; `stop` ends them. asyncio's Server.close does
        # not, and a handler left waiting for a slow client's headers when the loop closes is
        # reported as "Task was destroyed but it is pending!", one per connection.
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:  # say which setting to change, not just "address in use"
            raise OSError(
                exc.errno,
                f"cannot listen on {self.host}:{self.port} for /healthz and /metrics "
                f"({exc.strerror or exc}); check OPS_LISTEN and OPS_PORT",
            ) from exc
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # the real port when 0 was asked for
        log.info("ops endpoint on http://%s:%d (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._stopping = True
            self._server.close()
            open_now = list(self._connections)
            for task in open_now:
                task.cancel()
            await asyncio.gather(*open_now, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        try:
            status, content_type, body, head = await asyncio.wait_for(
                self._answer(reader), READ_TIMEOUT_SECONDS + DB_TIMEOUT_SECONDS * 4
            )
            writer.write(
                (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
                    f"Content-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    "Cache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n"
                ).encode("ascii")
                + (b"" if head else body)
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # a client that vanished or dawdled gets nothing
        except asyncio.CancelledError:
            # `stop` ends a connection by cancelling its handler. The handler then ends
            # normally: Python 3.11's stream server reports a handler task that ends cancelled
            # as an error ("Exception in callback ... CancelledError").
            if not self._stopping:
                raise
        except Exception:
            log.exception("ops endpoint failed to answer")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes, bool]:
        try:
            request_line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_SECONDS)
            for _ in range(MAX_HEADER_LINES):  # headers are read and ignored
                line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_SECONDS)
                if line in (b"\r\n", b"\n", b""):
                    break
        except ValueError:  # a line longer than the stream's limit (64 KiB): not a probe
            return 431, "text/plain", b"request line or header too long\n", False
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3:
            return 400, "text/plain", b"bad request\n", False
        method, target, _ = parts
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET and HEAD\n", False
        path = urlsplit(target).path
        if path == "/healthz":
            healthy, report = await health_report(self.app, self.svc)
            body = json.dumps(report).encode() + b"\n"
            return (200 if healthy else 503), "application/json", body, head
        if path == "/metrics" and self.metrics is not None:
            return 200, CONTENT_TYPE, await self.metrics.render(self.svc.db), head
        return 404, "text/plain", b"not found: try /healthz or /metrics\n", head


def ops_server_of(svc: Services) -> OpsServer | None:
    return svc.ops if isinstance(svc.ops, OpsServer) else None

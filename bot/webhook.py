"""The webhook listener: Telegram's POSTs in, checked before they cost anything.

Why not PTB's own server
------------------------
PTB's webhook server (tornado, `telegram.ext._utils.webhookhandler`) reads the whole body, of
any size, before it looks at the secret, and cannot be configured otherwise. This one, also on
tornado and on the bot's event loop, streams the body (`stream_request_body`) and decides in
`prepare()`, from the headers alone:

* 403 without `X-Telegram-Bot-Api-Secret-Token` carrying WEBHOOK_SECRET (compared in constant
  time); the body is never read.
* 413 when Content-Length announces more than `MAX_BODY_BYTES` (1 MB; Telegram's updates are
  a few KB); a chunked body is cut off at the same limit.

Then 400 to a body that is not an update (not JSON, not an object with an integer
`update_id`, or one PTB cannot read), and 200 once the update is stored in the inbox
(bot/inbox.py) and queued for the Application. Telegram takes the 200 as delivered, so the
inbox is what makes an update survive a crash right after it.

Like `Updater.start_webhook`, `start_webhook_server` listens first and then calls setWebhook
(URL, secret, all update types, pending updates kept); switching back to polling deletes the
webhook when polling starts (PTB does that).
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from telegram import Update

from bot.inbox import inbox_of

log = logging.getLogger(__name__)

WEBHOOK_KEY = "webhook_server"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000
MAX_CONNECTIONS = 40  # what PTB asks Telegram for, too


@dataclass(frozen=True)
class WebhookConfig:
    listen: str
    port: int
    url_path: str
    webhook_url: str
    secret_token: str


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, server: WebhookServer) -> None:
        self.server = server
        self.chunks: list[bytes] = []
        self.size = 0

    def prepare(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.server.config.secret_token.encode()):
            self._refuse(403, "wrong or missing secret token")
            return
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            self._refuse(413, "body larger than 1 MB")
            return
        self.request.connection.set_max_body_size(MAX_BODY_BYTES)  # type: ignore[union-attr]

    def _refuse(self, status: int, why: str) -> None:
        self.set_status(status)
        self.set_header("Connection", "close")  # the body, if any, is never read
        self.finish(f"{why}\n")

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= MAX_BODY_BYTES:
            self.chunks.append(chunk)

    async def post(self) -> None:
        if self.size > MAX_BODY_BYTES:
            self._refuse(413, "body larger than 1 MB")
            return
        update = self._update(b"".join(self.chunks))
        if update is None:
            self.set_status(400)
            self.finish("not a Telegram update\n")
            return
        raw, parsed = update
        inbox = inbox_of(self.server.app)
        if inbox is not None:
            await inbox.store([raw])  # an error answers 500: Telegram sends the update again
        await self.server.app.update_queue.put(parsed)
        self.set_status(200)
        self.finish()

    def _update(self, body: bytes) -> tuple[dict[str, Any], Update] | None:
        try:
            raw = json.loads(body)
        except ValueError:
            return None
        if not isinstance(raw, dict) or type(raw.get("update_id")) is not int:
            return None
        try:
            parsed = Update.de_json(raw, self.server.app.bot)
        except Exception:  # a field of the wrong shape: PTB's classes raise all sorts
            return None
        return (raw, parsed) if parsed is not None else None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(f"{self._reason}\n")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError):
            return  # 405 and the like: the client's problem, not worth a traceback
        log.error("webhook handler failed", exc_info=(typ, value, tb))


class WebhookServer:
    """Listens on WEBHOOK_LISTEN:WEBHOOK_PORT at WEBHOOK_URL's path; stop with `stop()`."""

    def __init__(self, app: Any, config: WebhookConfig) -> None:
        self.app = app
        self.config = config
        self.port = config.port
        self._http: tornado.httpserver.HTTPServer | None = None

    @property
    def running(self) -> bool:
        return self._http is not None

    async def start(self) -> None:
        path = self.config.url_path.strip("/")
        routes = tornado.web.Application(
            [(rf"/{path}/?" if path else r"/", _UpdateHandler, {"server": self})],
            log_function=lambda handler: None,
        )
        try:
            sockets = tornado.netutil.bind_sockets(self.config.port, self.config.listen)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {self.config.listen}:{self.config.port} for the webhook "
                f"({exc.strerror or exc}); check WEBHOOK_LISTEN and WEBHOOK_PORT",
            ) from exc
        self._http = tornado.httpserver.HTTPServer(
            routes, max_body_size=MAX_BODY_BYTES, max_buffer_size=MAX_BODY_BYTES + 65536
        )
        self._http.add_sockets(sockets)
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            http.stop()
            await http.close_all_connections()


async def start_webhook_server(app: Any, config: WebhookConfig) -> WebhookServer:
    """Listen, then tell Telegram where to send updates (setWebhook), as PTB's Updater does."""
    server = WebhookServer(app, config)
    await server.start()
    app.bot_data[WEBHOOK_KEY] = server
    try:
        await app.bot.set_webhook(
            url=config.webhook_url,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
            max_connections=MAX_CONNECTIONS,
            secret_token=config.secret_token,
        )
    except BaseException:
        await stop_webhook_server(app)
        raise
    log.info("webhook set: %s, listening on %s:%d", config.webhook_url, config.listen, server.port)
    return server


async def stop_webhook_server(app: Any) -> None:
    server = app.bot_data.pop(WEBHOOK_KEY, None)
    if isinstance(server, WebhookServer):
        await server.stop()


def webhook_server_of(app: Any) -> WebhookServer | None:
    found = app.bot_data.get(WEBHOOK_KEY)
    return found if isinstance(found, WebhookServer) else None

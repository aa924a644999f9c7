"""Structured logs that never contain the bot token, at any level, in any format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bot.app import build_application, running
from bot.config import Settings
from bot.logging_setup import REDACTED, redact, setup_logging
from bot.standin import BotApiStandin, InjectedError
from tests.conftest import USER_ID, Clock

TOKEN = "7123456789:AAHrealistic_Token-Value_1234567890abcdef"
SECRET_PART = TOKEN.split(":", 1)[1]
WEBHOOK_SECRET = "hook_secret-value-42"


class _EchoPathHandler(BaseHTTPRequestHandler):
    """Answers every request with a Bot API error that quotes the request path (and token)."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"ok": False, "error_code": 500, "description": f"upstream failed for {self.path}"}
        ).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoPathHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "apscheduler")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("log_format", ["text", "keyvalue", "json"])
async def test_token_never_appears_in_a_debug_session(
    log_format: str,
    settings: Settings,
    clock: Clock,
    echo_server: str,
    restore_logging: None,
) -> None:
    out = io.StringIO()
    setup_logging("DEBUG", log_format, secrets=[TOKEN, WEBHOOK_SECRET], stream=out)
    log = logging.getLogger("tests.session")

    standin = BotApiStandin(rate_limits=False, token=TOKEN)
    standin.add_user(USER_ID, first_name="Reader", language_code="en")
    app = build_application(
        settings,
        request=standin.request(),
        get_updates_request=standin.request(),
        clock=clock,
        token=TOKEN,
    )
    async with running(app):
        standin.send_text(USER_ID, "/start")
        await standin.wait_for_messages(USER_ID, 1)
        standin.inject_errors("sendMessage", InjectedError.server_error(500))
        standin.send_text(USER_ID, "/status")  # the handler fails: PTB logs the error
        standin.send_text(USER_ID, "/status")
        await standin.wait_for_messages(USER_ID, 2)

    # httpx at DEBUG (not quietened) logs the full request URL, token included.
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    async with httpx.AsyncClient() as client:
        await client.post(f"{echo_server}/bot{TOKEN}/getMe")
        # An error whose message and traceback carry the token in a URL.
        try:
            response = await client.get(f"{echo_server}/bot{TOKEN}/sendMessage")
            response.raise_for_status()
        except httpx.HTTPStatusError:
            log.exception("request failed")
    log.debug("token %s and %r and webhook secret %s", TOKEN, {"token": TOKEN}, WEBHOOK_SECRET)
    log.info("stack", stack_info=True, extra={"note": "no token here"})

    written = out.getvalue()
    assert "HTTP Request: POST" in written, "httpx did log the URL (redacted)"
    assert "Traceback" in written and "HTTPStatusError" in written
    assert REDACTED in written
    assert TOKEN not in written
    assert SECRET_PART not in written
    assert WEBHOOK_SECRET not in written
    if log_format == "json":
        records = [json.loads(line) for line in written.splitlines()]
        assert {"ts", "level", "logger", "msg"} <= set(records[0])
        assert any("exc" in r and "HTTPStatusError" in r["exc"] for r in records)
    if log_format == "keyvalue":
        assert all(line.startswith("ts=") and " level=" in line for line in written.splitlines())


def test_token_never_appears_in_cli_output_at_debug(tmp_path: Path, echo_server: str) -> None:
    """`visitbot run` against a Bot API that fails with the URL (token) in its error."""
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "keyvalue",
        "TELEGRAM_API_BASE_URL": f"{echo_server}/bot",
        "DATABASE_PATH": str(tmp_path / "v.db"),
        "FEED_URLS": "http://127.0.0.1:9/closed.xml",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "level=DEBUG" in output and "Traceback" in output
    assert f"/bot{REDACTED}/getMe" in output, "the failing URL is logged, redacted"
    assert TOKEN not in output and SECRET_PART not in output
    assert done.stderr.strip().splitlines()[-1].startswith("visitbot: cannot reach the Bot API")


def test_log_level_is_honoured_and_httpx_quietened(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging("WARNING", "text", stream=out)
    logging.getLogger("bot.x").info("hidden")
    logging.getLogger("bot.x").warning("shown")
    assert "hidden" not in out.getvalue() and "shown" in out.getvalue()
    setup_logging("DEBUG", "text", stream=out)  # reconfiguring replaces, does not duplicate
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    logging.getLogger("bot.x").debug("once")
    assert out.getvalue().count("once") == 1


def test_redact_catches_token_shapes_it_was_not_told_about() -> None:
    other = "5550001112:AAFanother-Token_abcdefghijklmnopqrstuv"
    assert redact(f"GET https://api.telegram.org/bot{other}/getMe") == (
        f"GET https://api.telegram.org/bot{REDACTED}/getMe"
    )
    assert other not in redact(f"token={other}")
    assert redact("/bot123:TEST/getMe") == f"/bot{REDACTED}/getMe"
    assert redact("nothing secret 12:30") == "nothing secret 12:30"


def test_url_credentials_are_redacted_in_log_lines_and_tracebacks(
    restore_logging: None,
) -> None:
    """Feed URLs may carry `user:password@`; no log line, message or traceback shows them."""
    out = io.StringIO()
    setup_logging("DEBUG", "json", stream=out)
    url = "https://reader:s3cr%40t-pw@feeds.example/rss?x=1"
    log = logging.getLogger("jobs.polling")
    log.warning("feed %s failed (%d in a row): %s", url, 2, "server returned HTTP 500")
    try:
        raise httpx.ConnectError(f"cannot connect for {url}")
    except httpx.ConnectError:
        log.exception("unexpected error fetching %s", "http://only-user@127.0.0.1:9/a.xml")
    written = out.getvalue()
    assert "s3cr" not in written and "reader" not in written and "only-user" not in written
    records = [json.loads(line) for line in written.splitlines()]
    assert records[0]["msg"] == (
        f"feed https://{REDACTED}@feeds.example/rss?x=1 failed (2 in a row): "
        "server returned HTTP 500"
    )
    assert f"https://{REDACTED}@feeds.example/rss" in records[1]["exc"]
    assert redact("mailto:a@b.example and https://host/@user") == (
        "mailto:a@b.example and https://host/@user"
    ), "an @ outside a URL's authority is not a credential"


def test_url_credentials_never_appear_in_cli_errors(tmp_path: Path) -> None:
    """`visitbot scan` of a feed URL with credentials that cannot be reached."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "scan", "http://alice:hunter2@127.0.0.1:9/feed.xml"],
        env={**os.environ, "DATABASE_PATH": str(tmp_path / "v.db")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "hunter2" not in done.stderr + done.stdout and "alice" not in done.stderr
    assert done.stderr.strip() == (
        "visitbot: cannot scan http://[REDACTED]@127.0.0.1:9/feed.xml: "
        "could not connect to 127.0.0.1"
    )

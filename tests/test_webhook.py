"""Webhook mode over real HTTP on 127.0.0.1: signed updates are handled, unsigned ones refused.

The bot talks to the Bot API stand-in (which answers setWebhook like Telegram); the test plays
Telegram's side of the webhook by POSTing update JSON to the bot's webhook server
(bot/webhook.py), and an attacker's by sending oversized or malformed requests.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import WebhookParams, build_application, running_webhook
from bot.config import ConfigError, Settings, load_settings
from bot.ops_server import ops_server_of
from bot.services import Services
from bot.standin import BotApiStandin
from bot.webhook import SECRET_HEADER
from tests.botprocess import start_visitbot, wait_for
from tests.conftest import USER_ID, Clock, with_settings
from tests.opshelpers import free_port, sample, scrape
from tests.standin_http import StandinHttpServer

SECRET = "s3cret_Token-for-tests"
HOOK_URL = "https://bot.example.org/visitbot/hook"


@asynccontextmanager
async def webhook_bot(
    settings: Settings, clock: Clock
) -> AsyncIterator[tuple[BotApiStandin, Any, str]]:
    """A bot in webhook mode on a free local port; yields (stand-in, app, local hook URL)."""
    port = free_port()
    configured = with_settings(
        settings,
        webhook_url=HOOK_URL,
        webhook_secret=SECRET,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        ops_port=0,
    )
    standin = BotApiStandin(rate_limits=False)
    standin.add_user(USER_ID, first_name="Reader", language_code="en")
    app = build_application(
        configured,
        request=standin.request(),
        get_updates_request=standin.request(),
        clock=clock,
        token=standin.token,
    )
    params = WebhookParams.from_settings(configured)
    async with running_webhook(app, params):
        yield standin, app, f"http://127.0.0.1:{port}/{params.url_path}"


async def post(url: str, update: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            url,
            content=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", **headers},
        )


async def test_signed_update_is_handled_and_unsigned_or_wrongly_signed_are_rejected(
    settings: Settings, clock: Clock
) -> None:
    async with webhook_bot(settings, clock) as (standin, app, hook):
        assert standin.webhook_url == HOOK_URL  # setWebhook was called with the public URL
        assert standin.calls["getUpdates"] == 0

        unsigned = standin.send_text(USER_ID, "/status")
        response = await post(hook, unsigned, {})
        assert response.status_code == 403
        wrong = standin.send_text(USER_ID, "/status")
        response = await post(hook, wrong, {"X-Telegram-Bot-Api-Secret-Token": "not-it"})
        assert response.status_code == 403

        signed = standin.send_text(USER_ID, "/start")
        response = await post(hook, signed, {"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200
        replies = await standin.wait_for_messages(USER_ID, 1)
        assert len(standin.messages_to(USER_ID)) == 1, "only the signed update got an answer"
        assert replies[0].text

        svc = app.bot_data["services"]
        assert isinstance(svc, Services)
        ops = ops_server_of(svc)
        assert ops is not None
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{ops.port}/healthz")
        assert health.status_code == 200
        assert health.json()["mode"] == "webhook"
        metrics = await scrape(ops.port)
        assert sample(metrics, "visitbot_updates_handled_total", command="start") == 1
        assert sample(metrics, "visitbot_updates_handled_total", command="status") == 0


def test_webhook_settings_are_validated_by_name() -> None:
    def load(**env: str) -> Settings:
        return load_settings(environ=env, dotenv=None)

    configured = load(WEBHOOK_URL=HOOK_URL, WEBHOOK_SECRET=SECRET, WEBHOOK_PORT="8080")
    assert configured.webhook_path == "visitbot/hook"
    assert configured.webhook_listen == "127.0.0.1" and configured.webhook_port == 8080
    assert load().webhook_url is None and load().ops_port is None
    cases = {
        "WEBHOOK_SECRET": {"WEBHOOK_URL": HOOK_URL},
        "WEBHOOK_URL": {"WEBHOOK_URL": "http://plain.example.org/hook", "WEBHOOK_SECRET": "x"},
    }
    for name, env in cases.items():
        with pytest.raises(ConfigError, match=name):
            load(**env)
    for bad in ("has space", "a" * 257, "semi;colon", "ünïcode"):
        with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
            load(WEBHOOK_URL=HOOK_URL, WEBHOOK_SECRET=bad)
    assert load(WEBHOOK_URL=HOOK_URL, WEBHOOK_SECRET="A" * 256).webhook_secret == "A" * 256
    for name, value in (
        ("WEBHOOK_PORT", "0"),
        ("WEBHOOK_PORT", "http"),
        ("OPS_PORT", "65536"),
        ("WEBHOOK_LISTEN", "not a host"),
        ("OPS_LISTEN", "-bad-"),
        ("LOG_FORMAT", "xml"),
        ("BACKUP_INTERVAL_HOURS", "0"),
        ("BACKUP_INTERVAL_HOURS", "nan"),
        ("BACKUP_KEEP", "0"),
        ("BACKUP_KEEP", "many"),
    ):
        with pytest.raises(ConfigError, match=name):
            load(**{name: value})
    with pytest.raises(ConfigError, match="OPS_PORT"):
        load(WEBHOOK_URL=HOOK_URL, WEBHOOK_SECRET=SECRET, OPS_PORT="8443")
    ops = load(OPS_PORT="9100", OPS_LISTEN="0.0.0.0", LOG_FORMAT="JSON", BACKUP_DIR="/b")
    assert (ops.ops_listen, ops.ops_port, ops.log_format) == ("0.0.0.0", 9100, "json")
    assert ops.backup_dir is not None and ops.backup_keep == 7


async def raw_exchange(url: str, head: str, body: bytes = b"", timeout: float = 3.0) -> bytes:
    """Send exactly `head` (+ `body`) to the webhook and read the answer until it is closed.

    b"" when the server reset the connection instead (it stopped reading an oversized body).
    """
    parts = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parts.host, parts.port)
    try:
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_the_secret_is_checked_before_the_body_is_read(
    settings: Settings, clock: Clock
) -> None:
    """A huge body announced without the secret is refused at once, without reading it."""
    async with webhook_bot(settings, clock) as (standin, app, hook):
        path = httpx.URL(hook).path
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bot.example.org\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n"
        )
        refused = await raw_exchange(hook, head + "\r\n", b"{")  # 1 byte of the 50 MB sent
        assert status_of(refused) == 403
        wrong = await raw_exchange(hook, head + f"{SECRET_HEADER}: nope\r\n\r\n", b"{")
        assert status_of(wrong) == 403
        too_big = await raw_exchange(hook, head + f"{SECRET_HEADER}: {SECRET}\r\n\r\n", b"{")
        assert status_of(too_big) == 413
        # Chunked, so no Content-Length to refuse up front: cut off at 1 MB all the same.
        chunked = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        body = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 20 + b"0\r\n\r\n"
        answer = await raw_exchange(hook, chunked, body)
        assert answer == b"" or status_of(answer) in (400, 413)
        await asyncio.sleep(0.2)
        assert standin.sent == [] and app.update_queue.empty()


async def test_a_body_that_is_not_an_update_gets_400(settings: Settings, clock: Clock) -> None:
    signed = {SECRET_HEADER: SECRET}
    async with webhook_bot(settings, clock) as (standin, app, hook):
        async with httpx.AsyncClient() as client:
            for body in (
                b"not json",
                b"[1, 2]",
                b'{"message": {}}',
                b'{"update_id": "7"}',
                b'{"update_id": true}',
                b'{"update_id": 7, "message": "not a message"}',
            ):
                response = await client.post(hook, content=body, headers=signed)
                assert response.status_code == 400, body
            assert (await client.get(hook, headers=signed)).status_code == 405
            ok = await client.post(
                hook, content=json.dumps(standin.send_text(USER_ID, "/start")), headers=signed
            )
            assert ok.status_code == 200
        await standin.wait_for_messages(USER_ID, 1)
        assert len(standin.messages_to(USER_ID)) == 1


async def test_a_webhook_update_is_stored_before_200_and_handled_once(
    settings: Settings, clock: Clock
) -> None:
    """Telegram retries an update it got no 200 for; the inbox recognises it by update_id."""
    async with webhook_bot(settings, clock) as (standin, app, hook):
        update = standin.send_text(USER_ID, "/start")
        for _ in range(2):
            response = await post(hook, update, {SECRET_HEADER: SECRET})
            assert response.status_code == 200
        await standin.wait_for_messages(USER_ID, 1)
        await asyncio.sleep(0.3)
        assert len(standin.messages_to(USER_ID)) == 1
        svc = app.bot_data["services"]
        rows = await svc.db.fetchall("SELECT update_id, handled_at FROM update_inbox")
        assert [(r["update_id"], r["handled_at"] is not None) for r in rows] == [
            (update["update_id"], True)
        ]


async def test_visitbot_run_in_webhook_mode_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The real process: our webhook server, setWebhook, an update handled, a clean stop."""
    standin = BotApiStandin(rate_limits=False)
    standin.add_user(USER_ID, first_name="Reader", language_code="en")
    port = free_port()
    log = tmp_path / "bot.log"
    async with StandinHttpServer(standin) as server:
        bot = await start_visitbot(
            server.base_url,
            standin.token,
            tmp_path / "v.db",
            log,
            WEBHOOK_URL=HOOK_URL,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_PORT=str(port),
        )
        try:
            await wait_for(lambda: "webhook set" in log.read_text(), 30, log.read_text())
            assert standin.webhook_url == HOOK_URL and standin.calls["getUpdates"] == 0
            update = standin.send_text(USER_ID, "/start")
            hook = f"http://127.0.0.1:{port}/visitbot/hook"
            response = await post(hook, update, {SECRET_HEADER: SECRET})
            assert response.status_code == 200
            await standin.wait_for_messages(USER_ID, 1, timeout=20)
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)
    assert bot.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()

"""Webhook mode over real HTTP on 127.0.0.1: signed updates are handled, unsigned ones refused.

The bot talks to the Bot API stand-in (which answers setWebhook like Telegram); the test plays
Telegram's side of the webhook by POSTing update JSON to PTB's own webhook server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from bot.app import WebhookParams, build_application, running_webhook
from bot.config import ConfigError, Settings, load_settings
from bot.ops_server import ops_server_of
from bot.services import Services
from bot.standin import BotApiStandin
from tests.conftest import USER_ID, Clock, with_settings
from tests.opshelpers import free_port, sample, scrape

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

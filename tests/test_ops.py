"""The ops endpoint over real HTTP: /healthz and /metrics of a running bot on the stand-in."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update

from bot.config import Settings
from bot.metrics import command_label, metrics_of
from bot.ops_server import ops_server_of
from bot.standin import BotApiStandin, InjectedError
from jobs.polling import Poller
from storage import subscriptions
from storage.alerts import create_alert
from storage.db import to_db_time
from tests.botprocess import start_visitbot, wait_for
from tests.conftest import USER_ID, BotHarness, Clock, running_bot, with_settings
from tests.feedserver import FeedServer, Reply
from tests.opshelpers import free_port, sample, scrape, wait_until
from tests.standin_http import StandinHttpServer

RSS = (
    b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>T</title>"
    b"<item><guid>a1</guid><title>Weather</title><link>http://x/a1</link></item>"
    b"</channel></rss>"
)


def ops_port(bot: BotHarness) -> int:
    server = ops_server_of(bot.services)
    assert server is not None, "OPS_PORT is set, the endpoint must be running"
    return server.port


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


@pytest.fixture
def ops_settings(settings: Settings) -> Settings:
    return with_settings(settings, ops_port=0)  # 0: any free port, read back from the server


async def test_endpoint_is_off_by_default(bot: BotHarness) -> None:
    assert bot.services.settings.ops_port is None
    assert ops_server_of(bot.services) is None


async def test_healthz_reports_checks_and_ages_then_503_when_the_database_is_gone(
    ops_settings: Settings, clock: Clock
) -> None:
    async with running_bot(ops_settings, clock) as bot:
        port = ops_port(bot)
        svc = bot.services
        await svc.db.execute(
            "UPDATE feeds SET last_success_at = ?", (to_db_time(clock.now.replace(hour=8)),)
        )
        response = await get(port, "/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["failing"] == []
        assert body["checks"] == {
            "database": {"ok": True},
            "job_queue": {"ok": True},
            "updater": {"ok": True},
        }
        assert body["mode"] == "polling"
        assert body["last_feed_poll"]["age_seconds"] == 3600.0
        assert body["last_delivery"] == {"at": None, "age_seconds": None}

        await svc.db.close()  # the database is gone

        response = await get(port, "/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["failing"] == ["database"]
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["error"]
        assert body["checks"]["job_queue"] == {"ok": True}
        metrics = await scrape(port)  # still answers, and says the database is down
        assert sample(metrics, "visitbot_database_up") == 0.0


async def test_healthz_503_when_the_database_does_not_answer(
    ops_settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(ops_settings, clock) as bot:
        monkeypatch.setattr("bot.ops_server.DB_TIMEOUT_SECONDS", 0.2)
        async with bot.services.db.transaction():  # holds the connection: queries wait
            response = await get(ops_port(bot), "/healthz")
        assert response.status_code == 503
        assert response.json()["failing"] == ["database"]
        assert "no answer" in response.json()["checks"]["database"]["error"]


async def test_metrics_move_after_a_command_and_a_delivery(
    ops_settings: Settings, clock: Clock
) -> None:
    async with running_bot(ops_settings, clock) as bot:
        port = ops_port(bot)
        before = await scrape(port)
        await bot.ask(USER_ID, "/start")
        after = await scrape(port)
        name = "visitbot_updates_handled_total"
        assert sample(after, name, command="start") == sample(before, name, command="start") + 1
        sent = sample(after, "visitbot_bot_api_responses_total", method="sendMessage", status="200")
        assert sent >= 1

        svc = bot.services
        await subscriptions.subscribe(
            svc.db,
            visit_id=svc.visit_id,
            chat_id=USER_ID,
            chat_type="private",
            title="",
            set_by=USER_ID,
            topics="all",
            now=clock.now,
        )
        async with svc.db.transaction() as tx:
            await create_alert(
                tx,
                visit_id=svc.visit_id,
                kind="broadcast",
                payload={"text": "Metrics check"},
                now=clock.now,
            )
        worker = svc.delivery
        assert worker is not None
        await bot.standin.wait_for_messages(USER_ID, len(bot.standin.messages_to(USER_ID)) + 1)
        await worker.wait_idle()
        delivered = await scrape(port)
        assert (
            sample(delivered, "visitbot_deliveries_total", outcome="sent")
            == sample(after, "visitbot_deliveries_total", outcome="sent") + 1
        )
        assert (
            sample(delivered, "visitbot_alerts_created_total", kind="broadcast")
            == sample(after, "visitbot_alerts_created_total", kind="broadcast") + 1
        )
        assert sample(delivered, "visitbot_outbox_depth") == 0
        assert sample(delivered, "visitbot_last_delivery_timestamp_seconds") > 0
        assert sample(delivered, "visitbot_database_up") == 1

        health = (await get(port, "/healthz")).json()
        assert health["last_delivery"]["age_seconds"] is not None


async def test_429s_are_counted_at_the_request_layer(ops_settings: Settings, clock: Clock) -> None:
    async with running_bot(ops_settings, clock) as bot:
        bot.standin.inject_errors("sendMessage", InjectedError.retry_after(1))
        await bot.ask(USER_ID, "/status")  # the rate limiter waits and retries: one reply
        metrics = await scrape(ops_port(bot))
        assert sample(metrics, "visitbot_telegram_429_total", method="sendMessage") == 1
        assert (
            sample(metrics, "visitbot_bot_api_errors_total", method="sendMessage", error_code="429")
            == 1
        )


async def test_feed_polls_are_counted_by_outcome_with_latency(
    settings: Settings, clock: Clock
) -> None:
    with FeedServer() as server:
        server.route("/feed.xml", Reply(body=RSS))
        configured = with_settings(settings, ops_port=0, feed_urls=(server.url("/feed.xml"),))
        async with running_bot(configured, clock) as bot:
            poller: Any = bot.services.poller
            assert isinstance(poller, Poller)
            await poller.poll_due()  # or the job's first tick got there first: same counters
            port = ops_port(bot)
            counters = metrics_of(bot.app)
            assert counters is not None
            await wait_until(
                lambda: counters.value("visitbot_feed_polls_total", {"outcome": "changed"}) >= 1
            )
            metrics = await scrape(port)
            assert sample(metrics, "visitbot_feed_polls_total", outcome="changed") == 1
            assert sample(metrics, "visitbot_feed_poll_seconds_count") == 1
            assert sample(metrics, "visitbot_last_feed_success_timestamp_seconds") > 0
            health = (await get(port, "/healthz")).json()
            assert health["last_feed_poll"]["age_seconds"] == 0.0


async def test_unknown_paths_and_methods(ops_settings: Settings, clock: Clock) -> None:
    async with running_bot(ops_settings, clock) as bot:
        port = ops_port(bot)
        assert (await get(port, "/")).status_code == 404
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/healthz", content=b"x")
        assert response.status_code == 405
        # a client that connects and says nothing does not hold anything up
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await get(port, "/healthz")).status_code == 200
        writer.close()
        del reader
        # an overlong header is answered, not logged as a failure of the endpoint
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/healthz", headers={"X-Long": "a" * 70_000}
            )
        assert response.status_code == 431


def test_command_labels_are_bounded() -> None:
    def message(text: str) -> Update:
        return Update.de_json(
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 1, "type": "private"},
                    "text": text,
                },
            },
            None,
        )

    assert command_label(message("/start")) == "start"
    assert command_label(message("/Facts@visitbot bridge")) == "facts"
    assert command_label(message("/no_such_command")) == "other"
    assert command_label(message("hello")) == "text"
    assert command_label(message("/")) == "other"
    assert command_label(object()) == "other"


async def test_a_taken_ops_port_is_reported_by_setting_name(
    settings: Settings, clock: Clock
) -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OSError, match="OPS_PORT"):
            async with running_bot(with_settings(settings, ops_port=port), clock):
                pass
    finally:
        blocker.close()
        await blocker.wait_closed()


@pytest.mark.slow
async def test_stopping_with_open_connections_logs_no_destroyed_tasks(tmp_path: Path) -> None:
    """A real `visitbot run`, SIGTERMed while probes hold connections open without a request."""
    standin = BotApiStandin()
    port = free_port()
    log = tmp_path / "bot.log"
    async with StandinHttpServer(standin) as server:
        bot = await start_visitbot(
            server.base_url, standin.token, tmp_path / "v.db", log, OPS_PORT=str(port)
        )
        try:
            await wait_for(lambda: "visitbot ready" in log.read_text(), 30, log.read_text())
            idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
            idle[0][1].write(b"GET /healthz HTTP/1.1\r\n")  # half a request: waits for headers
            await idle[0][1].drain()
            async with httpx.AsyncClient() as client:  # the endpoint still answers meanwhile
                ok = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert ok.status_code == 200
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 20)
        for _, writer in idle:
            writer.close()
    output = log.read_text()
    assert bot.returncode == 0, output
    assert "Task was destroyed" not in output and "ERROR" not in output, output

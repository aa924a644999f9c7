"""Updates are not lost when the process dies between fetching and handling them.

The end-to-end case is a real `visitbot run` against the HTTP stand-in: an admin's /stats is
fetched, Telegram is told so (the next getUpdates' offset), and the reply is held at the
stand-in, so the handler is provably in the middle of its work when the process is SIGKILLed.
The restarted process must answer it (once). The in-process tests show the deduplication by
update_id and the pruning.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from pathlib import Path
from typing import Any

from telegram import Update

from bot.inbox import KEEP_HANDLED, MAX_REPLAYS
from bot.standin import BotApiStandin
from storage import inbox as store
from storage.db import Database
from tests.botprocess import start_visitbot, wait_for
from tests.conftest import ADMIN_ID, BotHarness
from tests.standin_http import StandinHttpServer

OWNER = 4242


class HoldingStandin(BotApiStandin):
    """The stand-in, except that sendMessage to `hold_chat` never completes while it is set.

    The held call is not recorded as sent: for the bot it is a request still in flight.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hold_chat: int | None = None
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(
        self, url: str, params: dict[str, Any], read_timeout: float | None = None
    ) -> tuple[int, bytes]:
        if (
            url.lower().endswith("/sendmessage")
            and self.hold_chat is not None
            and str(params.get("chat_id")) == str(self.hold_chat)
        ):
            self.held.set()
            await self.release.wait()
            return 502, b'{"ok":false,"error_code":502,"description":"Bad Gateway"}'
        return await super().handle(url, params, read_timeout)


async def test_a_command_fetched_before_a_crash_is_answered_after_the_restart(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "visitbot.db"
    log = tmp_path / "bot.log"
    standin = HoldingStandin(rate_limits=False)
    standin.add_user(OWNER, first_name="Owner", language_code="en")
    async with StandinHttpServer(standin) as server:
        first = await start_visitbot(
            server.base_url, standin.token, db_path, log, ADMIN_IDS=str(OWNER)
        )
        try:
            await wait_for(lambda: "visitbot ready" in log.read_text(), 30, log.read_text())
            standin.hold_chat = OWNER
            standin.send_text(OWNER, "/stats")
            # Fetched, confirmed to Telegram (no longer pending there), and being handled.
            await asyncio.wait_for(standin.held.wait(), 20)
            await wait_for(lambda: not standin.pending_updates, 10, "never confirmed")
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        standin.hold_chat = None
        standin.release.set()
        assert standin.messages_to(OWNER) == [], "the first process never got to answer"

        second = await start_visitbot(
            server.base_url, standin.token, db_path, log, ADMIN_IDS=str(OWNER)
        )
        try:
            await wait_for(
                lambda: bool(standin.messages_to(OWNER)), 30, f"lost: {log.read_text()[-3000:]}"
            )
            await asyncio.sleep(1.0)  # a second answer would show up now
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 20)
    output = log.read_text()
    assert second.returncode == 0, output[-3000:]
    [reply] = standin.messages_to(OWNER)
    assert "Alerts and deliveries" in reply.text
    assert "handling 1 update(s) received before the last stop" in output
    async with await Database.open(db_path) as db:
        rows = await db.fetchall("SELECT update_id, handled_at, replays FROM update_inbox")
    assert [(r["handled_at"] is not None, r["replays"]) for r in rows] == [(True, 1)]


async def test_an_update_sent_again_is_handled_once(bot: BotHarness) -> None:
    """Telegram may send an update again (the crash came before the offset was confirmed)."""
    app: Any = bot.app
    update = bot.standin.send_text(ADMIN_ID, "/status")
    await bot.standin.wait_for_messages(ADMIN_ID, 1)
    await app.update_queue.put(Update.de_json(update, app.bot))  # the same update_id again
    follow_up = bot.standin.send_text(ADMIN_ID, "/status")
    await bot.standin.wait_for_messages(ADMIN_ID, 2)
    await asyncio.sleep(0.3)
    assert len(bot.standin.messages_to(ADMIN_ID)) == 2, "the repeat was skipped"
    handled = await bot.services.db.fetchall(
        "SELECT update_id FROM update_inbox WHERE handled_at IS NOT NULL ORDER BY update_id"
    )
    assert [r["update_id"] for r in handled] == [update["update_id"], follow_up["update_id"]]


async def test_replays_are_bounded_and_handled_rows_pruned(tmp_path: Path) -> None:
    now = dt.datetime(2025, 11, 24, 12, tzinfo=dt.UTC)
    async with await Database.open(tmp_path / "v.db") as db:
        await store.store_updates(db, [{"update_id": 7, "message": {}}, {"update_id": 8}], now)
        await store.store_updates(db, [{"update_id": 7, "other": True}], now)  # ignored
        for _ in range(MAX_REPLAYS):
            pending, given_up = await store.take_unhandled(db, now, max_replays=MAX_REPLAYS)
            assert [u["update_id"] for u in pending] == [7, 8] and given_up == []
            assert pending[0] == {"update_id": 7, "message": {}}
        pending, given_up = await store.take_unhandled(db, now, max_replays=MAX_REPLAYS)
        assert (pending, given_up) == ([], [7, 8])  # a poison update stops being replayed
        assert await store.is_handled(db, 7)
        assert await store.prune_handled(db, now) == 0
        assert await store.prune_handled(db, now + KEEP_HANDLED) == 2
        assert not await store.is_handled(db, 7)

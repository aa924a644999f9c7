"""A real `visitbot run` process against the HTTP stand-in (tests/standin_http.py).

The environment is cleaned of the developer's own bot settings, feeds point at a closed port,
and the working directory is the database's folder, so no stray `.env` is read.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def start_visitbot(
    base_url: str, token: str, db_path: Path, log: Path, **env: str
) -> asyncio.subprocess.Process:
    """`python -m bot.cli run` with stdout and stderr appended to `log`; `env` adds settings."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "TELEGRAM_", "ADMIN_", "FEED_", "VISIT_", "WEBHOOK_", "OPS_"))
    }
    clean.update(
        BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=base_url,
        DATABASE_PATH=str(db_path),
        FEED_URLS="http://127.0.0.1:9/none.xml",
        POLL_INTERVAL_SECONDS="3600",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="INFO",
    )
    clean.update(env)
    handle = log.open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=str(db_path.parent),
            env=clean,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
        )
    finally:
        handle.close()  # the child has its own copy


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 20 ms; `TimeoutError(what)` when it stays false."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)

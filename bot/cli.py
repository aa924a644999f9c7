"""The `visitbot` command: run | console | scan | db backup|check|migrate | visit check|new.

Configuration problems end in one clear line on stderr and exit status 2, never a traceback;
an operation that fails (a backup, a check that finds damage, a damaged database at start-up,
another visitbot already running on the same database) exits with status 1.

`run`, `console` and `db migrate` hold the database's lock (`storage.lock`) for the life of the
process, taken before anything touches the file: a second process on the same DATABASE_PATH
stops with one line instead of delivering the first one's outbox again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot import visit_commands
from bot.app import WebhookParams, build_application, running
from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import redact, setup_logging
from bot.standin.console import run_console
from jobs.feeds import FeedError, fetch_feed, make_client, read_feed_file
from jobs.pipeline import classify, followed_visits
from storage.backup import BackupError, backup_database, check_database, list_backups
from storage.db import Database, DatabaseDamaged, DatabaseError, damaged, is_damage
from storage.lock import AlreadyRunning, DatabaseLock
from storage.visit import Catalog, LoadedVisit

EXIT_CONFIG = 2
EXIT_FAILURE = 1
NO_TOKEN = (
    "BOT_TOKEN is not set. Create a bot with @BotFather, then put BOT_TOKEN=<token> in .env "
    "or the environment. To try the bot offline, run: visitbot console"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visitbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="run the bot on Telegram (long polling, or a webhook when WEBHOOK_URL is set)"
    )
    console = commands.add_parser("console", help="talk to the bot offline in this terminal")
    console.add_argument(
        "--user-id", type=int, help="act as this Telegram user id (default: a local admin)"
    )
    console.add_argument(
        "--language", default="en", help="the console user's Telegram language_code (en, ko, tr)"
    )
    scan = commands.add_parser(
        "scan", help="run the feed pipeline on a URL or file and print what it detects"
    )
    scan.add_argument("source", help="a feed URL (http/https) or a file path")
    scan.add_argument("--json", action="store_true", help="one JSON object per entry")
    db = commands.add_parser("db", help="database maintenance (safe while the bot runs)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    backup = db_commands.add_parser(
        "backup", help="copy DATABASE_PATH to PATH with SQLite's online backup API, then check it"
    )
    backup.add_argument("path", type=Path, help="the backup file to create (must not exist)")
    check = db_commands.add_parser("check", help="integrity check and migration state")
    check.add_argument(
        "path", type=Path, nargs="?", help="the database file (default: DATABASE_PATH)"
    )
    db_commands.add_parser("migrate", help="apply pending migrations to DATABASE_PATH")
    visit_commands.add_parser(commands)
    return parser


def _fail(message: str, code: int) -> int:
    # Error text can quote a URL or an exception from the network layer: redact it like logs.
    print(f"visitbot: {redact(' '.join(message.split()))}", file=sys.stderr)
    return code


def _configure_logging(settings: Settings, *, quiet: bool) -> None:
    level = logging.WARNING if quiet and settings.log_level == "INFO" else settings.log_level
    setup_logging(
        level,
        settings.log_format,
        secrets=(s for s in (settings.bot_token, settings.webhook_secret) if s),
    )
    if quiet:
        # The console usually runs offline: feeds that cannot be reached would print a warning
        # into the conversation on every poll. /feeds shows their state instead.
        logging.getLogger("jobs.polling").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "visit":  # prepares visit files: needs no configuration
        return visit_commands.main(args)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        if args.command == "run":
            return run(settings)
        if args.command == "console":
            _configure_logging(settings, quiet=True)
            lock = DatabaseLock(settings.database_path).acquire()
            asyncio.run(_preflight(settings.database_path))
            asyncio.run(run_console(settings, user_id=args.user_id, language_code=args.language))
            lock.release()
            return 0
        if args.command == "scan":
            return scan(settings, args.source, as_json=args.json)
        if args.command == "db":
            _configure_logging(settings, quiet=True)
            return database_command(
                settings, args.db_command, args.path if "path" in args else None
            )
    except AlreadyRunning as exc:
        return _fail(str(exc), EXIT_FAILURE)
    except DatabaseDamaged as exc:
        return _fail(damage_message(settings, exc), EXIT_FAILURE)
    except DatabaseError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except KeyboardInterrupt:
        return 0
    return _fail(f"unknown command {args.command}", EXIT_CONFIG)


def run(settings: Settings) -> int:
    if not settings.bot_token:
        return _fail(NO_TOKEN, EXIT_CONFIG)
    _configure_logging(settings, quiet=False)

    # Held until the process exits (the OS releases it on a crash too): see storage.lock.
    lock = DatabaseLock(settings.database_path).acquire()
    # Migrations and a quick integrity check before Telegram is contacted: a damaged file is
    # reported in one line, not as a traceback out of post_init.
    asyncio.run(_preflight(settings.database_path))
    app = build_application(settings)
    try:
        # run_polling and serve_webhook stop gracefully on SIGINT/SIGTERM.
        if settings.webhook_url:
            params = WebhookParams.from_settings(settings)
            logging.getLogger(__name__).info(
                "webhook mode: listening on %s:%d/%s for %s",
                params.listen,
                params.port,
                params.url_path,
                params.webhook_url,
            )
            asyncio.run(serve_webhook(app, params))
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    except InvalidToken:
        return _fail("Telegram rejected BOT_TOKEN; check it with @BotFather", EXIT_CONFIG)
    except NetworkError as exc:
        return _fail(
            f"cannot reach the Bot API at {settings.api_base_url} ({exc}); "
            "check the network or TELEGRAM_API_BASE_URL",
            EXIT_FAILURE,
        )
    except TelegramError as exc:  # e.g. setWebhook refused the URL
        return _fail(f"the Bot API refused to start the bot: {exc}", EXIT_FAILURE)
    except OSError as exc:  # a port that is taken or not ours to bind (webhook, ops endpoint)
        return _fail(f"cannot start: {exc}", EXIT_FAILURE)
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        # Damage the start-up check did not see, found by a query in post_init.
        return _fail(damage_message(settings, damaged(settings.database_path, exc)), EXIT_FAILURE)
    finally:
        lock.release()
    return 0


async def serve_webhook(app: Any, params: Any) -> None:
    """Webhook mode until SIGINT/SIGTERM: our webhook server (bot/webhook.py), not PTB's."""

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(app, webhook=params):
        await stop.wait()


async def _preflight(path: Path) -> None:
    """Open (creating or migrating) the database and quick-check it, then close it again."""

    async with await Database.open(path) as db:
        await db.quick_check()


def damage_message(settings: Settings, exc: DatabaseDamaged) -> str:
    """What is wrong, how to look closer, and where the newest automatic backup is."""

    advice = f"{exc}; run visitbot db check {settings.database_path}"
    if settings.backup_dir is None:
        return f"{advice} and restore a backup (BACKUP_DIR is not set)"
    found = list_backups(settings.backup_dir)
    if not found:
        return f"{advice}; no automatic backup in {settings.backup_dir}"
    return f"{advice} and restore the latest backup, {found[-1]} (see README: Backups)"


def database_command(settings: Settings, command: str, path: Path | None) -> int:
    """`visitbot db backup PATH | check [PATH] | migrate`."""

    try:
        if command == "backup":
            assert path is not None
            report = backup_database(settings.database_path, path)
            print(
                f"backup written to {path} (integrity ok, schema version {report.schema_version})"
            )
            return 0
        if command == "check":
            report = check_database(path or settings.database_path)
            print("\n".join(report.lines()))
            return 0 if report.ok else EXIT_FAILURE
        if command == "migrate":
            if not settings.database_path.is_file():
                return _fail(
                    f"database {settings.database_path} does not exist (visitbot run creates it)",
                    EXIT_FAILURE,
                )
            # Not under a running bot: it would go on with the schema it started with.
            with DatabaseLock(settings.database_path):
                return asyncio.run(_migrate(settings.database_path))
    except BackupError as exc:
        return _fail(str(exc), EXIT_FAILURE)
    return _fail(f"unknown db command {command}", EXIT_CONFIG)


async def _migrate(path: Path) -> int:

    async with await Database.open(path, migrate=False) as db:
        applied = await db.migrate()
        version = await db.schema_version()
    if applied:
        print(f"applied migrations {', '.join(f'{v:04d}' for v in applied)}; now at {version}")
    else:
        print(f"already up to date (schema version {version})")
    return 0


def scan(settings: Settings, source: str, *, as_json: bool) -> int:
    """Exactly the polling job's pipeline (fetch or read, parse, classify) on one source."""

    async def load() -> list[dict[str, object]]:
        if source.startswith(("http://", "https://")):
            async with make_client() as client:
                result = await fetch_feed(client, source)
            entries = result.feed.entries if result.feed else []
        else:
            entries = (await read_feed_file(Path(source))).entries
        catalog = Catalog(LoadedVisit(n, v) for n, v in enumerate(settings.visits, 1))
        return [item.as_json() for item in classify(followed_visits(catalog), entries)]

    logging.basicConfig(level=logging.ERROR)
    try:
        rows = asyncio.run(load())
    except FeedError as exc:
        return _fail(f"cannot scan {source}: {exc.reason}", EXIT_FAILURE)
    except OSError as exc:
        return _fail(f"cannot read {source}: {exc.strerror or exc}", EXIT_FAILURE)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(_table(rows))
    return 0


def _table(rows: list[dict[str, object]]) -> str:
    """A readable table: relevance, kind, sectors, language, date, title."""
    lines = [f"{'rel':3}  {'kind':9}  {'lang':4}  {'published':10}  {'sectors':24}  title"]
    for row in rows:
        published = str(row["published"] or "")[:10]
        sectors = ",".join(row["sectors"]) if isinstance(row["sectors"], list) else ""
        lines.append(
            f"{'yes' if row['relevant'] else 'no':3}  {row['kind']!s:9}  {row['lang']!s:4}  "
            f"{published:10}  {sectors[:24]:24}  {str(row['title'])[:100]}"
        )
    relevant = sum(1 for r in rows if r["relevant"])
    lines.append(f"{len(rows)} entries, {relevant} about the visit")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

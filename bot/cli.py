"""The `visitbot` command: run | console | scan.

Configuration problems end in one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.config import ConfigError, Settings, load_settings
from storage.db import DatabaseError

EXIT_CONFIG = 2
EXIT_FAILURE = 1
NO_TOKEN = (
    "BOT_TOKEN is not set. Create a bot with @BotFather, then put BOT_TOKEN=<token> in .env "
    "or the environment. To try the bot offline, run: visitbot console"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visitbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot on Telegram (long polling)")
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
    return parser


def _fail(message: str, code: int) -> int:
    print(f"visitbot: {message}", file=sys.stderr)
    return code


def _configure_logging(settings: Settings, *, quiet: bool) -> None:
    level = logging.WARNING if quiet and settings.log_level == "INFO" else settings.log_level
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        if args.command == "run":
            return run(settings)
        if args.command == "console":
            _configure_logging(settings, quiet=True)
            from bot.console import run_console

            asyncio.run(run_console(settings, user_id=args.user_id, language_code=args.language))
            return 0
        if args.command == "scan":
            return scan(settings, args.source, as_json=args.json)
    except DatabaseError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except KeyboardInterrupt:
        return 0
    return _fail(f"unknown command {args.command}", EXIT_CONFIG)


def run(settings: Settings) -> int:
    if not settings.bot_token:
        return _fail(NO_TOKEN, EXIT_CONFIG)
    _configure_logging(settings, quiet=False)
    from bot.app import build_application

    app = build_application(settings)
    try:
        # run_polling installs SIGINT/SIGTERM handlers and shuts down gracefully on either.
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    except InvalidToken:
        return _fail("Telegram rejected BOT_TOKEN; check it with @BotFather", EXIT_CONFIG)
    except NetworkError as exc:
        return _fail(
            f"cannot reach the Bot API at {settings.api_base_url} ({exc}); "
            "check the network or TELEGRAM_API_BASE_URL",
            EXIT_FAILURE,
        )
    return 0


def scan(settings: Settings, source: str, *, as_json: bool) -> int:
    """Exactly the polling job's pipeline (fetch or read, parse, classify) on one source."""
    import json

    from jobs.detection import detector_for
    from jobs.feeds import FeedError, fetch_feed, make_client, read_feed_file
    from jobs.pipeline import classify

    async def load() -> list[dict[str, object]]:
        if source.startswith(("http://", "https://")):
            async with make_client() as client:
                result = await fetch_feed(client, source)
            entries = result.feed.entries if result.feed else []
        else:
            entries = (await read_feed_file(Path(source))).entries
        return [item.as_json() for item in classify(detector_for(settings.visit), entries)]

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

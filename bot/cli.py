"""The `visitbot` command: run | console | scan.

Configuration problems end in one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

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


if __name__ == "__main__":
    raise SystemExit(main())

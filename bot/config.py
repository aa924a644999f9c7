"""Settings from the environment and a `.env` file (the environment wins).

Every problem is a `ConfigError` naming the variable, so the CLI can print one clear line and
exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from storage.visit import Visit, VisitFileError, load_visit

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_PATH = Path("data/visitbot.db")
DEFAULT_POLL_INTERVAL = 300


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    api_base_url: str
    admin_ids: frozenset[int]
    database_path: Path
    feed_urls: tuple[str, ...] | None  # None: the built-in default feeds
    poll_interval_seconds: int
    visit_file: Path | None  # None: the bundled visit
    log_level: str
    visit: Visit
    allow_private_feeds: bool = False  # /addfeed may use private/loopback addresses


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines and `#` comments are ignored, quotes stripped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Merge `.env` under the environment and validate every value."""
    env: dict[str, str] = read_dotenv(dotenv) if dotenv else {}
    env.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    return Settings(
        bot_token=get("BOT_TOKEN"),
        api_base_url=_url("TELEGRAM_API_BASE_URL", get("TELEGRAM_API_BASE_URL"))
        or DEFAULT_API_BASE_URL,
        admin_ids=_admin_ids(get("ADMIN_IDS")),
        database_path=Path(get("DATABASE_PATH") or DEFAULT_DATABASE_PATH),
        feed_urls=_feed_urls(get("FEED_URLS")),
        poll_interval_seconds=_interval(get("POLL_INTERVAL_SECONDS")),
        visit_file=Path(v) if (v := get("VISIT_FILE")) else None,
        log_level=_log_level(get("LOG_LEVEL")),
        visit=_visit(get("VISIT_FILE")),
        allow_private_feeds=_flag("ALLOW_PRIVATE_FEEDS", get("ALLOW_PRIVATE_FEEDS")),
    )


def _url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _admin_ids(value: str | None) -> frozenset[int]:
    if value is None:
        return frozenset()
    ids = set()
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"ADMIN_IDS must be comma-separated numeric Telegram user ids, got {part!r}"
            ) from None
    return frozenset(ids)


def _feed_urls(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    urls = tuple(u.strip() for u in value.replace("\n", ",").split(",") if u.strip())
    for url in urls:
        _url("FEED_URLS", url)
    return urls


def _interval(value: str | None) -> int:
    if value is None:
        return DEFAULT_POLL_INTERVAL
    try:
        seconds = int(value)
    except ValueError:
        raise ConfigError(
            f"POLL_INTERVAL_SECONDS must be a whole number of seconds >= 1, got {value!r}"
        ) from None
    if seconds < 1:
        raise ConfigError(f"POLL_INTERVAL_SECONDS must be >= 1, got {seconds}")
    return seconds


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _log_level(value: str | None) -> str:
    level = (value or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(
            f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {value!r}"
        )
    return level


def _visit(value: str | None) -> Visit:
    try:
        return load_visit(Path(value) if value else None)
    except VisitFileError as exc:
        raise ConfigError(f"VISIT_FILE: {exc}") from None

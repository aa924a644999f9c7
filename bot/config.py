"""Settings from the environment and a `.env` file (the environment wins).

Every problem is a `ConfigError` naming the variable, so the CLI can print one clear line and
exit with status 2 instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from storage.visit import Visit, VisitFileError, load_visit, load_visits

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_PATH = Path("data/visitbot.db")
DEFAULT_POLL_INTERVAL = 300
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1"
DEFAULT_WEBHOOK_PORT = 8443
DEFAULT_OPS_LISTEN = "127.0.0.1"
DEFAULT_BACKUP_INTERVAL_HOURS = 24.0
DEFAULT_BACKUP_KEEP = 7
DEFAULT_DELIVERY_RETENTION_DAYS = 7.0
LOG_FORMATS = ("text", "keyvalue", "json")
# Telegram's rule for setWebhook's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# Whole numbers and decimals in ASCII only: int() and float() also accept other scripts' digits
# ("٨٠٨٠"), which an operator never means and a log reader cannot check.
_WHOLE = re.compile(r"^[0-9]{1,18}$")
_DECIMAL = re.compile(r"^([0-9]{1,9}(\.[0-9]{0,9})?|\.[0-9]{1,9})$")


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
    visit_file: Path | None  # set: follow just this visit
    log_level: str
    visits: tuple[Visit, ...]  # every visit followed: VISIT_FILE, else all of VISITS_DIR
    allow_private_feeds: bool = False  # /addfeed may use private/loopback addresses
    # --- production (deployment section of the README)
    webhook_url: str | None = None  # None: long polling
    webhook_secret: str | None = None  # required with webhook_url
    webhook_listen: str = DEFAULT_WEBHOOK_LISTEN
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    ops_listen: str = DEFAULT_OPS_LISTEN
    ops_port: int | None = None  # None: no /healthz and /metrics endpoint
    log_format: str = "text"
    backup_dir: Path | None = None  # None: no automatic backups
    backup_interval_hours: float = DEFAULT_BACKUP_INTERVAL_HOURS
    backup_keep: int = DEFAULT_BACKUP_KEEP

    visits_dir: Path | None = None  # None: the bundled visits
    # --- audiences of any size (README: "Paid broadcasts", "Capacity")
    delivery_retention_days: float = DEFAULT_DELIVERY_RETENTION_DAYS
    paid_broadcast: bool = False  # direct alerts with allow_paid_broadcast (up to 1,000/s)
    # The most one alert may spend, counted in billed messages: 0.1 Star each, so this is the
    # cap in tenths of a Star (PAID_BROADCAST_MAX_STARS_PER_ALERT × 10). 0 when paid is off.
    paid_broadcast_max_messages: int = 0

    @property
    def paid_broadcast_max_stars(self) -> float:
        return self.paid_broadcast_max_messages / 10

    @property
    def visit(self) -> Visit:
        """The first visit (by start): the only one with VISIT_FILE, and for tools and tests."""
        return min(self.visits, key=lambda v: (v.starts_on, v.slug))

    @property
    def webhook_path(self) -> str:
        """The local path the webhook listens on: WEBHOOK_URL's path, so a reverse proxy can
        forward requests unchanged."""
        return urlsplit(self.webhook_url or "").path.strip("/")


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

    database_path = Path(get("DATABASE_PATH") or DEFAULT_DATABASE_PATH)
    backup_dir = get("BACKUP_DIR")
    if backup_dir and Path(backup_dir).resolve() == database_path.resolve().parent:
        # Retention deletes old backups in BACKUP_DIR by name; the live database must not be
        # among the files it looks at.
        raise ConfigError("BACKUP_DIR must not be the folder of DATABASE_PATH")
    return Settings(
        bot_token=get("BOT_TOKEN"),
        api_base_url=_url("TELEGRAM_API_BASE_URL", get("TELEGRAM_API_BASE_URL"))
        or DEFAULT_API_BASE_URL,
        admin_ids=_admin_ids(get("ADMIN_IDS")),
        database_path=database_path,
        # Set but empty means "no feeds"; only an unset FEED_URLS keeps the built-in list.
        feed_urls=_feed_urls(env.get("FEED_URLS")),
        poll_interval_seconds=_interval(get("POLL_INTERVAL_SECONDS")),
        visit_file=Path(v) if (v := get("VISIT_FILE")) else None,
        visits_dir=Path(v) if (v := get("VISITS_DIR")) else None,
        log_level=_log_level(get("LOG_LEVEL")),
        visits=_visits(get("VISIT_FILE"), get("VISITS_DIR")),
        allow_private_feeds=_flag("ALLOW_PRIVATE_FEEDS", get("ALLOW_PRIVATE_FEEDS")),
        **_production(get),
        **_audience(get),
    )


def _audience(get: Callable[[str], str | None]) -> dict[str, Any]:
    """Outbox retention and paid broadcasts, each validated by name."""
    retention = get("DELIVERY_RETENTION_DAYS")
    days = DEFAULT_DELIVERY_RETENTION_DAYS
    if retention is not None:
        days = float(retention) if _DECIMAL.match(retention) else -1.0
        if not 0 < days <= 3660:
            raise ConfigError(
                f"DELIVERY_RETENTION_DAYS must be a number of days > 0, got {retention!r}"
            )
    paid = _flag("PAID_BROADCAST", get("PAID_BROADCAST"))
    cap = get("PAID_BROADCAST_MAX_STARS_PER_ALERT")
    messages = 0
    if cap is not None:
        # Tenths of a Star, exactly: one billed message costs 0.1 Star.
        whole, _, tenths = cap.partition(".")
        valid = _DECIMAL.match(cap) is not None and len(tenths.rstrip("0")) <= 1
        messages = int(whole or "0") * 10 + int((tenths.rstrip("0") or "0")[:1]) if valid else 0
        if messages < 1:
            raise ConfigError(
                "PAID_BROADCAST_MAX_STARS_PER_ALERT must be a number of Stars >= 0.1 with at"
                f" most one decimal (one message beyond the free rate costs 0.1 Star), got {cap!r}"
            )
    if paid and cap is None:
        raise ConfigError(
            "PAID_BROADCAST_MAX_STARS_PER_ALERT is required when PAID_BROADCAST is true"
            " (the most Stars one alert may spend, e.g. 500)"
        )
    return {
        "delivery_retention_days": days,
        "paid_broadcast": paid,
        "paid_broadcast_max_messages": messages if paid else 0,
    }


def _production(get: Callable[[str], str | None]) -> dict[str, Any]:
    """Webhook, ops endpoint, log format and backup settings, each validated by name."""
    webhook_url = get("WEBHOOK_URL")
    secret = get("WEBHOOK_SECRET")
    if webhook_url is not None:
        parts = _split("WEBHOOK_URL", webhook_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigError(
                f"WEBHOOK_URL must be an https:// URL (Telegram only calls HTTPS webhooks), "
                f"got {webhook_url!r}"
            )
        if secret is None:
            raise ConfigError(
                "WEBHOOK_SECRET is required when WEBHOOK_URL is set "
                "(1-256 characters: A-Z, a-z, 0-9, _ and -)"
            )
    if secret is not None and not _WEBHOOK_SECRET.match(secret):
        raise ConfigError(
            "WEBHOOK_SECRET must be 1-256 characters from A-Z, a-z, 0-9, _ and - "
            f"(Telegram's rule), got {len(secret)} characters including others"
        )
    webhook_listen = _host("WEBHOOK_LISTEN", get("WEBHOOK_LISTEN")) or DEFAULT_WEBHOOK_LISTEN
    webhook_port = _port("WEBHOOK_PORT", get("WEBHOOK_PORT")) or DEFAULT_WEBHOOK_PORT
    ops_listen = _host("OPS_LISTEN", get("OPS_LISTEN")) or DEFAULT_OPS_LISTEN
    ops_port = _port("OPS_PORT", get("OPS_PORT"))
    if webhook_url is not None and ops_port == webhook_port and ops_listen == webhook_listen:
        raise ConfigError(f"OPS_PORT must differ from WEBHOOK_PORT ({webhook_port})")
    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be text, keyvalue or json, got {get('LOG_FORMAT')!r}")
    backup_dir = get("BACKUP_DIR")
    interval = get("BACKUP_INTERVAL_HOURS")
    keep = get("BACKUP_KEEP")
    return {
        "webhook_url": webhook_url,
        "webhook_secret": secret,
        "webhook_listen": webhook_listen,
        "webhook_port": webhook_port,
        "ops_listen": ops_listen,
        "ops_port": ops_port,
        "log_format": log_format,
        "backup_dir": Path(backup_dir) if backup_dir else None,
        "backup_interval_hours": _hours(interval),
        "backup_keep": _keep(keep),
    }


def _host(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.match(value):
            raise ConfigError(
                f"{name} must be an IP address or host name to listen on, got {value!r}"
            ) from None
    return value


def _port(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    port = int(value) if _WHOLE.match(value) else 0
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be a TCP port number from 1 to 65535, got {value!r}")
    return port


def _hours(value: str | None) -> float:
    if value is None:
        return DEFAULT_BACKUP_INTERVAL_HOURS
    hours = float(value) if _DECIMAL.match(value) else -1.0
    if not 0 < hours <= 24 * 366:
        raise ConfigError(f"BACKUP_INTERVAL_HOURS must be a number of hours > 0, got {value!r}")
    return hours


def _keep(value: str | None) -> int:
    if value is None:
        return DEFAULT_BACKUP_KEEP
    keep = int(value) if _WHOLE.match(value) else 0
    if keep < 1:
        raise ConfigError(f"BACKUP_KEEP must be a whole number of backups >= 1, got {value!r}")
    return keep


def _split(name: str, value: str) -> SplitResult:
    """`urlsplit` whose ValueErrors (`http://[::1`, a port of 99999) name the variable."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is what raises for a bad one
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL ({exc}), got {value!r}") from None
    return parts


def _url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = _split(name, value)
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
        if not _WHOLE.match(part):
            raise ConfigError(
                f"ADMIN_IDS must be comma-separated numeric Telegram user ids, got {part!r}"
            )
        ids.add(int(part))
    return frozenset(ids)


def _feed_urls(value: str | None) -> tuple[str, ...] | None:
    """None (unset) keeps the built-in feeds; set but empty is an operator's "no feeds"."""
    if value is None:
        return None
    urls = tuple(u.strip() for u in value.replace("\n", ",").split(",") if u.strip())
    for url in urls:
        _url("FEED_URLS", url)
    return urls


def _interval(value: str | None) -> int:
    if value is None:
        return DEFAULT_POLL_INTERVAL
    if not _WHOLE.match(value.removeprefix("-")):
        raise ConfigError(
            f"POLL_INTERVAL_SECONDS must be a whole number of seconds >= 1, got {value!r}"
        )
    seconds = int(value)
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


def _visits(file: str | None, directory: str | None) -> tuple[Visit, ...]:
    """VISIT_FILE alone when set, else every visit file of VISITS_DIR (default: the bundled)."""
    try:
        if file:
            return (load_visit(Path(file)),)
        if directory and not Path(directory).is_dir():
            raise ConfigError(f"VISITS_DIR: {directory} is not a folder")
        return load_visits(Path(directory) if directory else None)
    except VisitFileError as exc:
        raise ConfigError(f"{'VISIT_FILE' if file else 'VISITS_DIR'}: {exc}") from None

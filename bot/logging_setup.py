"""Logging for operators: one line per record as text, key=value or JSON, never the token.

Why redaction sits on the handler
---------------------------------
The bot token is part of every Bot API URL (`https://api.telegram.org/bot<token>/getMe`), so
it turns up in httpx's request log, in exception messages and in tracebacks of network errors,
from loggers we do not own. A filter on a *logger* only sees records logged on that logger, not
those propagated from its children; a filter on the root *handler* sees every record that is
written anywhere. `RedactingFilter` formats the message, the exception text and the stack
first, removes the secrets from the result, and leaves the record holding only redacted text,
so every formatter (ours or a later one) writes redacted output.

Besides the configured secrets (BOT_TOKEN, WEBHOOK_SECRET) anything shaped like a token in a Bot
API URL path (`/bot123456:AA...`) is redacted too, so a token from another source (an old
.env, a test) does not leak either. So are the credentials of any URL
(`https://user:password@host/feed` becomes `https://[REDACTED]@host/feed`): feed URLs come from
FEED_URLS and /addfeed and appear in poll logs and error messages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

REDACTED = "[REDACTED]"
FORMATS = ("text", "keyvalue", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# /bot<id>:<secret> in a URL path, and bare tokens as @BotFather issues them.
_URL_TOKEN = re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+")
_BARE_TOKEN = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}")
# scheme://userinfo@ of any URL; userinfo stops at the first character that ends an authority.
_URL_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@\[\]]+@")
# Libraries whose routine chatter is not worth an operator's attention at INFO.
QUIETENED = ("httpx", "httpcore", "apscheduler", "hpack")

_secrets: tuple[str, ...] = ()


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` without the secrets, URL credentials and anything shaped like a bot token."""
    for secret in _secrets if secrets is None else secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _URL_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)
    return _BARE_TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record so that its message, exception and stack text are redacted."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what we can rather than lose the record
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def _iso(record: logging.LogRecord) -> str:
    stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": _iso(record),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (+ exc, stack)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return json.dumps(_fields(record), ensure_ascii=False)


_BARE = re.compile(r"^[^\s\"=\\]+$")


def _kv_value(value: object) -> str:
    text = str(value)
    if text and _BARE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # quoted, with \n and \" escaped


class KeyValueFormatter(logging.Formatter):
    """logfmt-style `ts=… level=INFO logger=bot.app msg="…"`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return " ".join(f"{k}={_kv_value(v)}" for k, v in _fields(record).items())


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "keyvalue":
        return KeyValueFormatter()
    return logging.Formatter(TEXT_FORMAT)


class _VisitbotHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so reconfiguring replaces it."""


def setup_logging(
    level: str | int,
    log_format: str = "text",
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Configure the root logger once for the process (again: replaces the previous setup)."""
    global _secrets
    secret_list = tuple(s for s in secrets if s)
    _secrets = secret_list
    handler = _VisitbotHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RedactingFilter(secret_list))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _VisitbotHandler):
            root.removeHandler(old)
    # First in line: the filter rewrites the shared record, so handlers added by others (a test's
    # capture handler) also receive the redacted text.
    root.handlers.insert(0, handler)
    root.setLevel(level)
    for name in QUIETENED:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler

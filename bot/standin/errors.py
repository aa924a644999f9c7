"""Bot API error answers, and the faults a test can inject into the next calls of a method.

Errors are answered the way Telegram answers them (``{"ok": false, "error_code": ...}`` with the
same HTTP status) so PTB raises its real exceptions. This module also defines the JSON shape
everything in the stand-in is made of.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError, TimedOut

__all__ = ["ApiError", "FaultQueue", "InjectedError", "JSONDict", "bad", "encode", "parse_error"]

JSONDict = dict[str, Any]

encode = json.JSONEncoder(separators=(",", ":")).encode
"""Compact JSON (no spaces after separators), like Telegram's answers."""


class ApiError(Exception):
    """A Bot API error response (``{"ok": false, ...}``) raised inside request handlers."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> bytes:
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return encode(body).encode()


def bad(description: str) -> ApiError:
    """A 400 "Bad Request: ..." error."""
    return ApiError(400, "Bad Request: " + description)


def parse_error(description: str) -> ApiError:
    """The 400 error Telegram answers to invalid HTML (or entities)."""
    return ApiError(400, "Bad Request: can't parse entities: " + description)


@dataclass(frozen=True, slots=True)
class InjectedError:
    """A fault returned by the next call of a method, see :meth:`BotApiStandin.inject_errors`.

    ``kind`` is ``"response"`` (an error JSON with ``error_code``), ``"timeout"`` (do_request
    raises :class:`telegram.error.TimedOut`) or ``"network"`` (raises
    :class:`telegram.error.NetworkError`).  With ``processed=True`` the request still takes
    effect before the error is reported (a message delivered but the answer lost).
    """

    kind: str
    error_code: int = 0
    description: str = ""
    parameters: JSONDict | None = None
    processed: bool = False

    @classmethod
    def response(
        cls,
        error_code: int,
        description: str,
        parameters: JSONDict | None = None,
        *,
        processed: bool = False,
    ) -> InjectedError:
        return cls("response", error_code, description, parameters, processed)

    @classmethod
    def retry_after(cls, seconds: int) -> InjectedError:
        return cls.response(
            429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
        )

    @classmethod
    def server_error(cls, code: int = 500, description: str | None = None) -> InjectedError:
        default = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        return cls.response(code, description or default.get(code, "Internal Server Error"))

    @classmethod
    def timeout(cls, *, processed: bool = False) -> InjectedError:
        return cls("timeout", processed=processed)

    @classmethod
    def network(cls, message: str = "httpx.ConnectError: connection reset") -> InjectedError:
        return cls("network", description=message)

    @property
    def status(self) -> int:
        """The code counted in ``errors_returned``: 0 for transport faults (no HTTP answer)."""
        return 0 if self.kind in ("timeout", "network") else self.error_code

    def answer(self) -> tuple[int, bytes]:
        """(HTTP status, payload) of the error response, or raise the transport fault."""
        if self.kind == "timeout":
            raise TimedOut("Timed out (injected by the Bot API stand-in)")
        if self.kind == "network":
            raise NetworkError(self.description)
        exc = ApiError(self.error_code, self.description, self.parameters)
        return self.error_code, exc.payload()


class FaultQueue:
    """The injected faults still waiting, per canonical Bot API method name, in order."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[str, collections.deque[InjectedError]] = {}

    def add(self, method: str, errors: Iterable[InjectedError]) -> None:
        self._pending.setdefault(method, collections.deque()).extend(errors)

    def take(self, method: str) -> InjectedError | None:
        """The fault for this call of ``method`` (removed from the queue), if any."""
        pending = self._pending.get(method)
        return pending.popleft() if pending else None

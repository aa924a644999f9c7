"""`BotApiStandin`: the fake Telegram server, answering one Bot API call at a time.

The class only composes: the state (``state.py``), the Bot API methods (``methods.py``) and the
outside world (``driver.py``) are its base classes; this module adds the request entry point
(:meth:`BotApiStandin.handle`) and fault injection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from bot.standin.adapter import StandinRequest
from bot.standin.driver import Driver
from bot.standin.errors import ApiError, InjectedError, JSONDict, bad, encode
from bot.standin.flood import FloodModel
from bot.standin.methods import BotApiMethods

__all__ = ["BotApiStandin"]

_LOGGER = logging.getLogger("bot.standin")  # one logger for the whole stand-in

_OK_PREFIX: Final = b'{"ok":true,"result":'


class BotApiStandin(Driver, BotApiMethods):
    """The fake Telegram server state; one per test or console session.

    Observe what the bot did through :attr:`sent` (every sent message and every edit, in
    order), :meth:`messages_to`, :meth:`wait_for_messages`, :meth:`subscribe`,
    :attr:`commands`, :attr:`answered_callbacks`, :attr:`inline_answers`, :attr:`deleted`,
    :attr:`chat_actions`, :attr:`calls` and :attr:`errors_returned`.
    """

    def __init__(
        self,
        *,
        bot_id: int = 1000,
        bot_username: str = "visitbot",
        token: str = "123:TEST",
        rate_limits: bool = True,
        clock: Callable[[], float] = time.monotonic,
        privacy_mode: bool = True,
        flood_model: FloodModel = "strict",
        keep_messages: bool = True,
    ) -> None:
        super().__init__(
            bot_id=bot_id,
            bot_username=bot_username,
            token=token,
            rate_limits=rate_limits,
            clock=clock,
            privacy_mode=privacy_mode,
            flood_model=flood_model,
            keep_messages=keep_messages,
        )
        self._handlers = self._method_table()

    # -----------------------------------------------------------------------------------------
    # plumbing
    # -----------------------------------------------------------------------------------------

    def request(self, *, read_timeout: float | None = 5.0) -> StandinRequest:
        """A new :class:`StandinRequest` bound to this server.

        Use one for ``ApplicationBuilder.request()`` and another one for
        ``.get_updates_request()`` (PTB requires distinct objects).
        """
        return StandinRequest(self, read_timeout=read_timeout)

    async def handle(
        self, url: str, params: JSONDict, read_timeout: float | None = None
    ) -> tuple[int, bytes]:
        """Answer one Bot API call: returns (HTTP status, JSON payload)."""
        slash = url.rfind("/")
        key = url[slash + 1 :].lower()
        if not url.endswith(self._token_path, 0, slash):
            self.errors_returned[(key, 401)] += 1
            return 401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}'
        entry = self._handlers.get(key)
        if entry is None:
            if key != "getupdates":
                self.calls[url[slash + 1 :]] += 1
                self.errors_returned[(url[slash + 1 :], 404)] += 1
                return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
            method, handler = "getUpdates", None
        else:
            method, handler = entry
        self.calls[method] += 1

        injected = self._faults.take(method)
        if injected is not None and not injected.processed:
            return self._raise_injected(method, injected)
        try:
            if handler is None:
                result = await self._get_updates(params, read_timeout)
            else:
                result = handler(params)
        except ApiError as exc:
            if injected is not None:
                return self._raise_injected(method, injected)
            self.errors_returned[(method, exc.error_code)] += 1
            return exc.error_code, exc.payload()
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # Malformed parameters: Telegram answers 400; log it, it may be a stand-in gap.
            _LOGGER.warning("Bot API stand-in: %s(%r) failed: %r", method, params, exc)
            self.errors_returned[(method, 400)] += 1
            return 400, bad(f"invalid parameters ({exc!r})").payload()
        if injected is not None:
            return self._raise_injected(method, injected)
        return 200, _OK_PREFIX + encode(result).encode() + b"}"

    @property
    def _token_path(self) -> str:
        return "/bot" + self.token

    def _raise_injected(self, method: str, injected: InjectedError) -> tuple[int, bytes]:
        self.errors_returned[(method, injected.status)] += 1
        return injected.answer()

    def inject_errors(self, method: str, *errors: InjectedError) -> None:
        """Make the next ``len(errors)`` calls of ``method`` fail, in order.

        ``method`` is the Bot API name (``"sendMessage"``; case-insensitive).  Transport errors
        (timeout, network) are counted in :attr:`errors_returned` with error code 0.
        """
        entry = self._handlers.get(method.lower())
        canonical = (
            entry[0] if entry else ("getUpdates" if method.lower() == "getupdates" else method)
        )
        self._faults.add(canonical, errors)

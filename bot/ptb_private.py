"""The python-telegram-bot internals visitbot depends on, imported in this one place only.

Why they are needed
-------------------
Two classes wrap or replace PTB's request layer by subclassing
:class:`telegram.request.BaseRequest`: ``WrappingRequest`` below (the base of
``bot.metrics.CountingRequest``, which counts every Bot API response, and
``bot.inbox.InboxRequest``, which stores updates before PTB confirms them) and
``bot.standin.StandinRequest`` (answers from the in-process Bot API stand-in).
Their ``do_request`` must repeat PTB's signature for ``mypy --strict``, and that signature types
the four timeouts as ``ODVInput[float]`` with ``DEFAULT_NONE`` as the default. The stand-in also
has to tell "no timeout given" (a :class:`DefaultValue`) from an explicit ``None``. PTB does not
export these names publicly; they live in ``telegram._utils``, which may change in any release.

What to check on a PTB upgrade
------------------------------
* the three imports below still resolve (``make test`` fails at import time otherwise);
* ``BaseRequest.do_request`` still takes ``url, method, request_data, read_timeout,
  write_timeout, connect_timeout, pool_timeout`` with ``ODVInput[float]`` timeouts;
* ``BaseRequest.DEFAULT_NONE is DEFAULT_NONE`` (PTB passes this object for "not given");
* PTB still passes ``DEFAULT_NONE`` for a timeout the caller did not set (the stand-in then
  applies its own ``read_timeout``, which is what times out a long poll).
"""

from __future__ import annotations

from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

__all__ = ["DEFAULT_NONE", "DefaultValue", "ODVInput", "WrappingRequest"]


class WrappingRequest(BaseRequest):
    """Passes every call to the request object it wraps; a subclass looks at each answer
    (`answered`) or failure (`failed`) without repeating PTB's signature."""

    __slots__ = ("_inner",)

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def inner(self) -> BaseRequest:
        return self._inner

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await self._inner.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except Exception as exc:
            self.failed(url, exc)
            raise
        await self.answered(url, status, payload)
        return status, payload

    async def answered(self, url: str, status: int, payload: bytes) -> None:
        """Telegram answered `url` (its last segment is the Bot API method)."""

    def failed(self, url: str, exc: Exception) -> None:
        """The request did not get an answer (a network error, a timeout)."""

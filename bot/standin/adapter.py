"""`StandinRequest`: PTB's request layer answered by the stand-in instead of HTTP.

This is the only class that knows PTB's request interface; everything else in the package
speaks Bot API (method names, parameter dicts, status codes and JSON bytes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.request import BaseRequest, RequestData

from bot.ptb_private import DefaultValue, ODVInput
from bot.standin.errors import JSONDict

if TYPE_CHECKING:  # the server imports this module to create requests
    from bot.standin.server import BotApiStandin

__all__ = ["StandinRequest"]


class StandinRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` answering from a :class:`BotApiStandin`."""

    __slots__ = ("_closed", "_read_timeout", "_server")

    def __init__(self, server: BotApiStandin, *, read_timeout: float | None = 5.0) -> None:
        self._server = server
        self._read_timeout = read_timeout
        self._closed = False

    @property
    def server(self) -> BotApiStandin:
        return self._server

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self._closed = False

    async def shutdown(self) -> None:
        self._closed = True

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._closed:
            raise RuntimeError("This StandinRequest is not initialized!")
        params: JSONDict = request_data.parameters if request_data is not None else {}
        effective = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        return await self._server.handle(url, params, effective)

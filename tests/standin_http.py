"""The Bot API stand-in served over real HTTP on 127.0.0.1, for tests that run the bot as a
separate process (`python -m bot.cli run` with TELEGRAM_API_BASE_URL pointing here).

PTB's HTTPXRequest posts `application/x-www-form-urlencoded` bodies: string parameters as they
are, every other value JSON-encoded (`RequestData.json_parameters`). This server decodes those
back into the Python values `BotApiStandin.handle` expects, so the stand-in's checks apply
unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.standin import BotApiStandin

_TEXT_KEYS = frozenset({"text", "caption", "description", "title", "query", "url"})


def decode_params(raw: list[tuple[str, str]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw:
        decoded: Any = value
        if key not in _TEXT_KEYS and (value[:1] in "[{" or value in ("true", "false")):
            with contextlib.suppress(ValueError):
                decoded = json.loads(value)
        params[key] = decoded
    return params


class StandinHttpServer:
    """`async with StandinHttpServer(standin) as server:` serves at `server.base_url`."""

    def __init__(self, standin: BotApiStandin) -> None:
        self.standin = standin
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> StandinHttpServer:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                params = self._params(headers.get("content-type", ""), body)
                status, payload = await self.standin.handle(urlsplit(target).path, params, 10.0)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:  # e.g. TimedOut injected by the stand-in: drop the connection
            del exc
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    def _params(content_type: str, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if content_type.startswith("application/json"):
            data = json.loads(body)
            return data if isinstance(data, dict) else {}
        return decode_params(parse_qsl(body.decode(), keep_blank_values=True))

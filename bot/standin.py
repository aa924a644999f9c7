"""An in-process stand-in for the Telegram Bot API, plugged into PTB's request layer.

Why this exists
---------------
The offline console (``visitbot console``, where the terminal plays the chat) and the whole
test suite drive a *real* :class:`telegram.ext.Application`.  Instead of mocking PTB objects we
replace only the bottom-most layer, :class:`telegram.request.BaseRequest`, with
:class:`StandinRequest`.  Every Bot API call PTB makes (``getMe``, ``getUpdates``,
``sendMessage`` ...) ends up in :class:`BotApiStandin`, which keeps the state a Telegram server
would keep (users, chats, message ids, the update queue, command lists) and answers with
Telegram-shaped JSON and HTTP status codes.  PTB therefore parses real responses and raises its
real exceptions (``BadRequest``, ``Forbidden``, ``RetryAfter``, ``ChatMigrated``, ``TimedOut``,
``NetworkError``), so handler code, error handlers, retry logic and the updater are exercised
exactly as in production.

The stand-in is deliberately strict where Telegram is strict and the bot is likely to get it
wrong: HTML parse mode validation, the 4096 character limit after entity parsing, empty texts,
``callback_data`` size, "message is not modified" on no-op edits, blocked users, migrated
groups, deleted chats and flood control (HTTP 429).  Faults can be injected per method
(:meth:`BotApiStandin.inject_errors`) to test retry paths.

Concurrency model
-----------------
Everything runs on the single asyncio event loop that runs the application; there are no
threads and no locks.  All request handlers except ``getUpdates`` are synchronous functions
called from :meth:`StandinRequest.do_request` without any ``await`` in between, so every API
call is atomic with respect to other tasks.  ``getUpdates`` long-polls by awaiting a future
that is resolved when an update is queued (no busy looping, no sleeps); it is cancellable, as
PTB cancels the pending poll when the updater stops.  The "outside world" methods
(:meth:`BotApiStandin.send_text`, :meth:`BotApiStandin.press_button` ...) are plain
synchronous methods and must be called from the event loop's thread (or before the loop runs);
a console reading stdin in an executor must hand the text back to the loop first.

Rate limits use the injected ``clock`` (default :func:`time.monotonic`) so tests can be
deterministic; long-poll and :meth:`BotApiStandin.wait_for_messages` timeouts use the event
loop's clock.  Message ``date`` fields are integer :func:`time.time` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.ptb_private import DefaultValue, ODVInput

__all__ = [
    "ApiError",
    "BotApiStandin",
    "InjectedError",
    "SentMessage",
    "StandinRequest",
    "parse_html",
]

_LOGGER = logging.getLogger(__name__)

JSONDict = dict[str, Any]

MAX_TEXT_LENGTH: Final = 4096
MAX_CALLBACK_DATA: Final = 64
_SERVICE_USER: Final[JSONDict] = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
_DEFAULT_ALLOWED: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_OK_PREFIX: Final = b'{"ok":true,"result":'
_COMMAND_RE: Final = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_BOT_COMMAND_NAME_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


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
        return _ENCODE(body).encode()


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


def _parse_error(description: str) -> ApiError:
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


# ---------------------------------------------------------------------------------------------
# Observed messages
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the bot sent (``edited=False``) or a new version of it after an edit.

    ``text`` is the plain text after entity parsing (what the user sees), ``html`` the raw
    text as the bot sent it when ``parse_mode`` was HTML (else ``None``), ``entities`` the
    Telegram message entities (UTF-16 offsets) and ``reply_markup`` the markup as JSON dict.
    """

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    html: str | None = None
    reply_markup: JSONDict | None = None
    date: int = 0
    edited: bool = False
    reply_to_message_id: int | None = None

    @property
    def buttons(self) -> list[list[JSONDict]]:
        """The inline keyboard rows (empty if there is none)."""
        if self.reply_markup is None:
            return []
        rows: list[list[JSONDict]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    @property
    def callback_data(self) -> list[str]:
        """All ``callback_data`` values of the inline keyboard, row by row."""
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]


# ---------------------------------------------------------------------------------------------
# Text parsing
# ---------------------------------------------------------------------------------------------


def _u16(s: str) -> int:
    """Length of ``s`` in UTF-16 code units (Telegram's unit for offsets and lengths)."""
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) >> 1


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode())


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_SPECIAL_RE: Final = re.compile(r"[<&]")
_HTML_ENTITY_RE: Final = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z]+));")
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_START_TAG_RE: Final = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z][\w-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_END_TAG_RE: Final = re.compile(r"</([^>]*)>")
_ATTR_RE: Final = re.compile(r"([a-zA-Z][\w-]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_TAG_NAME_RE: Final = re.compile(r"[^\s>]*")


def _decode_entity(text: str, pos: int, source: str, base: int) -> tuple[str, int]:
    """Decode the HTML entity at ``text[pos]`` (an ``&``); returns (char, end position)."""
    m = _HTML_ENTITY_RE.match(text, pos)
    if m is not None:
        dec, hexa, name = m.groups()
        if name is not None:
            ch = _NAMED_ENTITIES.get(name)
            if ch is not None:
                return ch, m.end()
        else:
            code = int(dec) if dec is not None else int(hexa, 16)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), m.end()
    raise _parse_error(
        f'Character "&" must be escaped as "&amp;" or start a supported entity '
        f"(&lt; &gt; &amp; &quot; &#N;) at byte offset {_byte_offset(source, base + pos)}"
    )


def _decode_attr(value: str, source: str, base: int) -> str:
    if "&" not in value:
        return value
    out: list[str] = []
    pos = 0
    while (amp := value.find("&", pos)) >= 0:
        out.append(value[pos:amp])
        ch, pos = _decode_entity(value, amp, source, base)
        out.append(ch)
    out.append(value[pos:])
    return "".join(out)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML like the Bot API does; returns (plain text, entities).

    Raises :class:`ApiError` (400, "Bad Request: can't parse entities: ...") on invalid input.
    Stricter than Telegram in one point: a bare ``&`` that does not start a valid entity is an
    error (Telegram keeps it literally), so the bot is forced to escape user input properly.
    """
    if "<" not in text and "&" not in text:  # a bare '>' is allowed, like on Telegram
        return text, []
    out: list[str] = []
    entities: list[JSONDict] = []
    # stack entries: (tag name, utf16 start, entity dict, byte offset source position)
    stack: list[tuple[str, int, JSONDict, int]] = []
    pos16 = 0
    pos = 0
    n = len(text)
    search = _SPECIAL_RE.search
    while pos < n:
        m = search(text, pos)
        if m is None:
            chunk = text[pos:]
            out.append(chunk)
            pos16 += _u16(chunk)
            break
        i = m.start()
        if i > pos:
            chunk = text[pos:i]
            out.append(chunk)
            pos16 += _u16(chunk)
        if text[i] == "&":
            ch, pos = _decode_entity(text, i, text, 0)
            out.append(ch)
            pos16 += 2 if ord(ch) > 0xFFFF else 1
            continue
        # a tag
        if text.startswith("</", i):
            em = _END_TAG_RE.match(text, i)
            if em is None:
                raise _parse_error(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
            name = em.group(1).strip().lower()
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
            open_name, start16, entity, _src = stack[-1]
            if name != open_name:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</'
                    f'{open_name}>", found "</{name}>"'
                )
            stack.pop()
            length = pos16 - start16
            if entity.get("type") == "code" and stack and stack[-1][0] == "pre":
                language = entity.pop("_language", None)
                if language:
                    stack[-1][2]["language"] = language
                entity = {}  # code inside pre only sets the language
            if entity and length > 0:
                entity.pop("_language", None)
                entity["offset"] = start16
                entity["length"] = length
                entities.append(entity)
            pos = em.end()
            continue
        sm = _START_TAG_RE.match(text, i)
        if sm is None:
            nm = _TAG_NAME_RE.match(text, i + 1)
            raw_name = nm.group(0).lower() if nm else ""
            if raw_name not in _HTML_TAGS:
                raise _parse_error(
                    f'Unsupported start tag "{raw_name}" at byte offset {_byte_offset(text, i)}'
                )
            if text.find(">", i) < 0:
                raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(text, i)}")
            raise _parse_error(
                f'Invalid attributes in the tag "{raw_name}" at byte offset {_byte_offset(text, i)}'
            )
        name = sm.group(1).lower()
        etype = _HTML_TAGS.get(name)
        if etype is None:
            raise _parse_error(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
            )
        attrs: dict[str, str] = {}
        if sm.group(2):
            for am in _ATTR_RE.finditer(sm.group(2)):
                value = am.group(2) or am.group(3) or am.group(4) or ""
                attrs[am.group(1).lower()] = _decode_attr(value, text, i)
        entity = {"type": etype}
        if name == "a":
            href = attrs.get("href")
            if not href:
                raise _parse_error(
                    f'Tag "a" must have attribute "href" at byte offset {_byte_offset(text, i)}'
                )
            entity["url"] = href
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise _parse_error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
        elif name == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise _parse_error(
                    f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            entity["custom_emoji_id"] = emoji_id
        elif name == "blockquote":
            if "expandable" in attrs:
                entity["type"] = "expandable_blockquote"
        elif name == "code":
            cls = attrs.get("class", "")
            if cls.startswith("language-"):
                entity["_language"] = cls[9:]
        stack.append((name, pos16, entity, i))
        pos = sm.end()
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _strip(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim leading/trailing whitespace like Telegram does, fixing entity offsets."""
    stripped = text.strip()
    if len(stripped) == len(text) or not stripped:
        return stripped, entities
    if not entities:
        return stripped, entities
    lead = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    fixed: list[JSONDict] = []
    for e in entities:
        start = max(0, e["offset"] - lead)
        end = min(total, e["offset"] + e["length"] - lead)
        if end > start:
            fixed.append({**e, "offset": start, "length": end - start})
    return stripped, fixed


def _command_entities(text: str) -> list[JSONDict]:
    if "/" not in text:
        return []
    ascii_text = text.isascii()
    result: list[JSONDict] = []
    for m in _COMMAND_RE.finditer(text):
        start, end = m.span()
        if ascii_text:
            offset, length = start, end - start
        else:
            offset, length = _u16(text[:start]), _u16(m.group(0))
        result.append({"type": "bot_command", "offset": offset, "length": length})
    return result


# ---------------------------------------------------------------------------------------------
# Server state
# ---------------------------------------------------------------------------------------------


class _Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``capacity`` saved up."""

    __slots__ = ("capacity", "last", "rate", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.last = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if there is one), refilling first."""
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.last = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _Chat:
    __slots__ = (
        "admins",
        "blocked",
        "bot_is_admin",
        "creator",
        "id",
        "info",
        "kind",
        "members",
        "migrated_to",
        "next_message_id",
        "removed",
        "started",
    )

    def __init__(self, chat_id: int, kind: str, info: JSONDict) -> None:
        self.id = chat_id
        self.kind = kind  # "private", "group" or "supergroup"
        self.info = info  # the Chat JSON object
        self.next_message_id = 1
        self.blocked = False
        self.started = True
        self.removed = False
        self.migrated_to: int | None = None
        self.admins: set[int] = set()
        self.creator: int | None = None
        self.members: set[int] = set()
        self.bot_is_admin = False


_Handler = Callable[[JSONDict], Any]


class BotApiStandin:
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
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.token = token
        self.rate_limits = rate_limits
        self.privacy_mode = privacy_mode
        self._clock = clock
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Visit Bot",
            "username": bot_username,
        }

        self.sent: list[SentMessage] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.answered_callbacks: list[JSONDict] = []
        self.inline_answers: list[JSONDict] = []
        self.deleted: list[tuple[int, int]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.errors_returned: collections.Counter[tuple[str, int]] = collections.Counter()
        self.webhook_url = ""

        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, _Chat] = {}
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._subscribers: list[Callable[[SentMessage], None]] = []
        self._msg_waiters: list[asyncio.Future[None]] = []

        self._updates: collections.deque[tuple[int, str, JSONDict]] = collections.deque()
        self._next_update_id = 1
        self._allowed: frozenset[str] = _DEFAULT_ALLOWED
        self._update_waiters: list[asyncio.Future[None]] = []
        self._poll_generation = 0

        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._inline_queries: dict[str, bool] = {}
        self._next_query_id = 1
        self._injected: dict[str, collections.deque[InjectedError]] = {}

        now = clock()
        self._global_bucket = _Bucket(30.0, 30.0, now)
        self._chat_buckets: dict[int, _Bucket] = {}

        h: dict[str, tuple[str, _Handler]] = {}
        self._handlers = h
        for name, handler in (
            ("getMe", self._get_me),
            ("logOut", self._true),
            ("close", self._true),
            ("deleteWebhook", self._delete_webhook),
            ("setWebhook", self._set_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("answerCallbackQuery", self._answer_callback_query),
            ("answerInlineQuery", self._answer_inline_query),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
            ("getChatMemberCount", self._get_chat_member_count),
            ("sendChatAction", self._send_chat_action),
        ):
            h[name.lower()] = (name, handler)

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

        injected: InjectedError | None = None
        pending = self._injected.get(method)
        if pending:
            injected = pending.popleft()
            if not injected.processed:
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
            return 400, _bad(f"invalid parameters ({exc!r})").payload()
        if injected is not None:
            return self._raise_injected(method, injected)
        return 200, _OK_PREFIX + _ENCODE(result).encode() + b"}"

    @property
    def _token_path(self) -> str:
        return "/bot" + self.token

    def _raise_injected(self, method: str, injected: InjectedError) -> tuple[int, bytes]:
        if injected.kind == "timeout":
            self.errors_returned[(method, 0)] += 1
            raise TimedOut("Timed out (injected by the Bot API stand-in)")
        if injected.kind == "network":
            self.errors_returned[(method, 0)] += 1
            raise NetworkError(injected.description)
        self.errors_returned[(method, injected.error_code)] += 1
        exc = ApiError(injected.error_code, injected.description, injected.parameters)
        return injected.error_code, exc.payload()

    def inject_errors(self, method: str, *errors: InjectedError) -> None:
        """Make the next ``len(errors)`` calls of ``method`` fail, in order.

        ``method`` is the Bot API name (``"sendMessage"``; case-insensitive).  Transport errors
        (timeout, network) are counted in :attr:`errors_returned` with error code 0.
        """
        entry = self._handlers.get(method.lower())
        canonical = (
            entry[0] if entry else ("getUpdates" if method.lower() == "getupdates" else method)
        )
        self._injected.setdefault(canonical, collections.deque()).extend(errors)

    # -----------------------------------------------------------------------------------------
    # the outside world acting
    # -----------------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "User",
        username: str | None = None,
        language_code: str = "en",
        started: bool = True,
    ) -> JSONDict:
        """Register a user and their private chat with the bot; returns the User dict.

        Telegram sends no update for this, so none is queued.  With ``started=False`` the user
        never pressed Start: sending to them fails with 403 "bot can't initiate conversation".
        """
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        info: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            info["username"] = username
        chat = self._chats.get(user_id)
        if chat is None:
            chat = self._chats[user_id] = _Chat(user_id, "private", info)
        else:
            chat.info = info
        chat.started = started
        return user

    def _user(self, user_id: int) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            user = self.add_user(user_id)
        return user

    def add_group(
        self,
        chat_id: int,
        *,
        title: str = "Group",
        supergroup: bool = False,
        admins: Iterable[int] = (),
        creator: int | None = None,
        bot_is_admin: bool = False,
    ) -> JSONDict:
        """Add the bot to a group (negative id); returns the queued ``my_chat_member`` update.

        ``admins`` get status "administrator", ``creator`` (optional) "creator".
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = "supergroup" if supergroup else "group"
        chat = _Chat(chat_id, kind, {"id": chat_id, "type": kind, "title": title})
        previous = self._chats.get(chat_id)
        if previous is not None:  # re-added: message ids continue
            chat.next_message_id = previous.next_message_id
        chat.admins = set(admins)
        chat.creator = creator
        chat.bot_is_admin = bot_is_admin
        chat.members = set(chat.admins)
        if creator is not None:
            chat.members.add(creator)
        for uid in chat.members:
            self._user(uid)
        self._chats[chat_id] = chat
        actor = self._users[creator] if creator is not None else None
        if actor is None and chat.admins:
            actor = self._users[min(chat.admins)]
        return self._queue(
            "my_chat_member",
            {
                "chat": chat.info,
                "from": actor or _SERVICE_USER,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self.bot_user},
                "new_chat_member": self._member_json(chat, self.bot_id),
            },
        )

    def send_text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> JSONDict:
        """The user writes ``text`` (to the private chat, or to group ``chat_id``).

        Returns the created Update.  Commands get ``bot_command`` entities like on Telegram.
        In groups with privacy mode on (and the bot not admin) only commands, replies to the
        bot and mentions of it reach the bot; other messages are returned but not queued.
        """
        user = self._user(user_id)
        cid = user_id if chat_id is None else chat_id
        chat = self._chats.get(cid)
        if chat is None or chat.removed:
            raise ValueError(f"chat {cid} does not exist (add_group first)")
        if chat.migrated_to is not None:
            raise ValueError(f"chat {cid} was migrated to {chat.migrated_to}")
        if chat.kind == "private":
            chat.started = True
            if chat.blocked:  # writing to a blocked bot means pressing "Restart": unblocks
                self.unblock(user_id)
        else:
            chat.members.add(user_id)
        mid = chat.next_message_id
        chat.next_message_id = mid + 1
        message: JSONDict = {
            "message_id": mid,
            "from": user,
            "chat": chat.info,
            "date": int(time.time()),
            "text": text,
        }
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        replied_to_bot = False
        if reply_to is not None:
            original = self._message_json(cid, reply_to)
            if original is None:
                raise ValueError(f"message {reply_to} not found in chat {cid}")
            message["reply_to_message"] = original
            replied_to_bot = original["from"]["id"] == self.bot_id
        self._user_messages[(cid, mid)] = message
        if (
            chat.kind != "private"
            and self.privacy_mode
            and not chat.bot_is_admin
            and not replied_to_bot
            and not entities
            and f"@{self.bot_username}".lower() not in text.lower()
        ):
            return {"update_id": None, "message": message}
        return self._queue("message", message)

    def edit_text(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> JSONDict:
        """The user edits one of their messages; queues an ``edited_message`` like Telegram."""
        cid = user_id if chat_id is None else chat_id
        original = self._user_messages.get((cid, message_id))
        if original is None or original["from"]["id"] != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {cid}")
        edited: JSONDict = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        entities = _command_entities(text)
        if entities:
            edited["entities"] = entities
        self._user_messages[(cid, message_id)] = edited
        return self._queue("edited_message", edited)

    def press_button(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        check: bool = True,
    ) -> str:
        """The user presses an inline button; queues a callback_query and returns its id.

        With ``check`` (default) the message must exist and carry a button with that
        ``callback_data``, otherwise :class:`ValueError` is raised (a test bug).
        """
        user = self._user(user_id)
        cid = user_id if chat_id is None else chat_id
        msg = self._bot_messages.get((cid, message_id))
        if check:
            if msg is None:
                raise ValueError(f"no bot message {message_id} in chat {cid}")
            if callback_data not in msg.callback_data:
                raise ValueError(
                    f"message {message_id} in chat {cid} has no button with callback_data "
                    f"{callback_data!r}; buttons: {msg.callback_data}"
                )
        query_id = str(8_000_000_000_000_000_000 + self._next_query_id)
        self._next_query_id += 1
        query: JSONDict = {
            "id": query_id,
            "from": user,
            "chat_instance": str(-abs(cid) * 7919),
            "data": callback_data,
        }
        if msg is not None:
            query["message"] = self._bot_message_json(msg)
        self._callback_queries[query_id] = False
        self._queue("callback_query", query)
        return query_id

    def inline_query(self, user_id: int, query: str) -> str:
        """The user types ``@bot query``; queues an inline_query and returns its id."""
        user = self._user(user_id)
        query_id = str(9_000_000_000_000_000_000 + self._next_query_id)
        self._next_query_id += 1
        self._inline_queries[query_id] = False
        self._queue(
            "inline_query",
            {"id": query_id, "from": user, "query": query, "offset": "", "chat_type": "sender"},
        )
        return query_id

    def _private_chat(self, user_id: int) -> _Chat:
        self._user(user_id)
        return self._chats[user_id]

    def block(self, user_id: int) -> JSONDict:
        """The user blocks the bot; returns the queued ``my_chat_member`` update."""
        chat = self._private_chat(user_id)
        chat.blocked = True
        return self._block_update(chat, "member", "kicked")

    def unblock(self, user_id: int) -> JSONDict:
        """The user unblocks the bot; returns the queued ``my_chat_member`` update."""
        chat = self._private_chat(user_id)
        chat.blocked = False
        return self._block_update(chat, "kicked", "member")

    def _block_update(self, chat: _Chat, old: str, new: str) -> JSONDict:
        def member(status: str) -> JSONDict:
            data: JSONDict = {"status": status, "user": self.bot_user}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return self._queue(
            "my_chat_member",
            {
                "chat": chat.info,
                "from": self._users[chat.id],
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def migrate_group(self, old_chat_id: int, new_chat_id: int) -> list[JSONDict]:
        """Upgrade a group to a supergroup; returns the two queued service-message updates."""
        old = self._chats.get(old_chat_id)
        if old is None or old.kind != "group":
            raise ValueError(f"{old_chat_id} is not a (basic) group")
        new = _Chat(
            new_chat_id,
            "supergroup",
            {"id": new_chat_id, "type": "supergroup", "title": old.info.get("title", "Group")},
        )
        new.admins, new.creator, new.members = set(old.admins), old.creator, set(old.members)
        new.bot_is_admin = old.bot_is_admin
        self._chats[new_chat_id] = new
        old.migrated_to = new_chat_id
        actor = self._users.get(old.creator) if old.creator is not None else None
        now = int(time.time())
        first = self._queue(
            "message",
            {
                "message_id": self._next_mid(old),
                "from": actor or _SERVICE_USER,
                "chat": old.info,
                "date": now,
                "migrate_to_chat_id": new_chat_id,
            },
        )
        second = self._queue(
            "message",
            {
                "message_id": self._next_mid(new),
                "from": actor or _SERVICE_USER,
                "chat": new.info,
                "date": now,
                "migrate_from_chat_id": old_chat_id,
            },
        )
        return [first, second]

    def remove_chat(self, chat_id: int) -> None:
        """The chat disappears: further calls about it fail with 400 "chat not found"."""
        chat = self._chats.get(chat_id)
        if chat is not None:
            chat.removed = True

    # -----------------------------------------------------------------------------------------
    # observing
    # -----------------------------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Everything the bot sent to (or edited in) ``chat_id``, in order."""
        return list(self._by_chat.get(chat_id, ()))

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The current state of a bot message (``None`` if unknown or deleted)."""
        return self._bot_messages.get((chat_id, message_id))

    def subscribe(self, callback: Callable[[SentMessage], None]) -> None:
        """Call ``callback`` for every message the bot sends or edits (synchronously)."""
        self._subscribers.append(callback)

    async def wait_for_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages (sends and edits) went to ``chat_id`` in total.

        Returns the first ``count`` of them (so the last element is the ``count``-th message);
        to wait for replies to a new action use ``before = len(messages_to(chat))`` and
        ``count=before + n``.  Raises :class:`TimeoutError` describing what did happen.
        """
        log = self._by_chat.get(chat_id)
        if log is None:
            log = self._by_chat[chat_id] = []
        if len(log) >= count:
            return log[:count]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(log) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(chat_id, count, timeout, log))
            fut: asyncio.Future[None] = loop.create_future()
            self._msg_waiters.append(fut)
            try:
                await asyncio.wait((fut,), timeout=remaining)
            finally:
                if not fut.done():
                    fut.cancel()
                    self._msg_waiters.remove(fut)
        return log[:count]

    def _timeout_report(
        self, chat_id: int, count: int, timeout: float, got: list[SentMessage]
    ) -> str:
        lines = [
            f"expected {count} message(s) to chat {chat_id} within {timeout}s, "
            f"got {len(got)}: {[m.text[:80] for m in got[-5:]]}"
        ]
        if self.sent:
            lines.append(
                "last messages to any chat: "
                + "; ".join(f"{m.chat_id}: {m.text[:60]!r}" for m in self.sent[-3:])
            )
        if self.errors_returned:
            lines.append(f"errors returned to the bot: {dict(self.errors_returned)}")
        if self._updates:
            lines.append(
                f"{len(self._updates)} update(s) not yet confirmed by getUpdates "
                "(is the application polling?)"
            )
        lines.append(f"API calls so far: {dict(self.calls)}")
        return "\n".join(lines)

    def commands_for(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The command list stored by setMyCommands for ``scope``/``language_code``."""
        return self.commands.get((self._scope_key(scope), language_code), [])

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed through getUpdates' ``offset``."""
        return [u for _, _, u in self._updates]

    # -----------------------------------------------------------------------------------------
    # internals: updates and message bookkeeping
    # -----------------------------------------------------------------------------------------

    def _queue(self, kind: str, payload: JSONDict) -> JSONDict:
        update_id = self._next_update_id
        self._next_update_id = update_id + 1
        update = {"update_id": update_id, kind: payload}
        self._updates.append((update_id, kind, update))
        self._wake(self._update_waiters)
        return update

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        if not waiters:
            return
        for fut in waiters:
            if not fut.done():
                with contextlib.suppress(RuntimeError):  # its event loop is closed
                    fut.set_result(None)
        waiters.clear()

    @staticmethod
    def _next_mid(chat: _Chat) -> int:
        mid = chat.next_message_id
        chat.next_message_id = mid + 1
        return mid

    def _record(self, msg: SentMessage) -> None:
        self._bot_messages[(msg.chat_id, msg.message_id)] = msg
        self.sent.append(msg)
        log = self._by_chat.get(msg.chat_id)
        if log is None:
            log = self._by_chat[msg.chat_id] = []
        log.append(msg)
        if self._msg_waiters:
            self._wake(self._msg_waiters)
        for callback in self._subscribers:
            try:
                callback(msg)
            except Exception:
                _LOGGER.exception("Bot API stand-in subscriber %r failed", callback)

    def _bot_message_json(self, msg: SentMessage) -> JSONDict:
        data: JSONDict = {
            "message_id": msg.message_id,
            "from": self.bot_user,
            "chat": self._chats[msg.chat_id].info,
            "date": msg.date,
            "text": msg.text,
        }
        if msg.entities:
            data["entities"] = msg.entities
        if msg.reply_markup is not None and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        if msg.edited:
            data["edit_date"] = int(time.time())
        return data

    def _message_json(self, chat_id: int, message_id: int) -> JSONDict | None:
        bot_msg = self._bot_messages.get((chat_id, message_id))
        if bot_msg is not None:
            return self._bot_message_json(bot_msg)
        return self._user_messages.get((chat_id, message_id))

    # -----------------------------------------------------------------------------------------
    # internals: validation helpers
    # -----------------------------------------------------------------------------------------

    def _chat_id(self, params: JSONDict, key: str = "chat_id") -> int:
        value = params.get(key)
        if isinstance(value, int):
            return value
        if value is None or value == "":
            raise _bad(f"{key} is empty")
        try:
            return int(value)
        except ValueError:
            raise _bad("chat not found") from None

    def _lookup_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None or chat.removed:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _writable_chat(self, chat_id: int) -> _Chat:
        chat = self._lookup_chat(chat_id)
        if chat.kind == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _rate_check(self, chat_id: int) -> None:
        if not self.rate_limits:
            return
        now = self._clock()
        bucket = self._chat_buckets.get(chat_id)
        if bucket is None:
            bucket = _Bucket(1.0, 3.0, now) if chat_id > 0 else _Bucket(20.0 / 60.0, 20.0, now)
            self._chat_buckets[chat_id] = bucket
        wait = max(self._global_bucket.wait(now), bucket.wait(now))
        if wait > 0:
            retry_after = max(1, int(-(-wait // 1)))
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        self._global_bucket.tokens -= 1
        bucket.tokens -= 1

    def _text(self, params: JSONDict) -> tuple[str, list[JSONDict], str | None, str | None]:
        """Validate text/parse_mode/entities; returns (plain, entities, parse_mode, html)."""
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        parse_mode = params.get("parse_mode")
        html: str | None = None
        if parse_mode:
            mode = str(parse_mode).lower()
            if mode == "html":
                plain, entities = parse_html(text)
                html = text
            elif mode in ("markdown", "markdownv2"):
                # Not validated by the stand-in: stored as sent.
                plain, entities = text, []
            else:
                raise _bad("unsupported parse_mode")
        else:
            plain = text
            raw = params.get("entities")
            entities = list(raw) if isinstance(raw, list) else []
        plain, entities = _strip(plain, entities)
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH / 2 and _u16(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return plain, entities, parse_mode, html

    @staticmethod
    def _markup(params: JSONDict, *, inline_only: bool = False) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            if inline_only:
                raise _bad("inline keyboard expected")
            if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                raise _bad("can't parse reply keyboard markup JSON object")
            return markup
        if not isinstance(rows, list):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for row in rows:
            if not isinstance(row, list):
                raise _bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None:
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
                    ):
                        raise _bad("BUTTON_DATA_INVALID")
                elif len(button) == 1:
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
        return markup

    # -----------------------------------------------------------------------------------------
    # API methods
    # -----------------------------------------------------------------------------------------

    def _true(self, params: JSONDict) -> bool:
        return True

    def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url", "")
        if url and not str(url).startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = str(url)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _get_updates(self, params: JSONDict, read_timeout: float | None) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed = frozenset(allowed) if allowed else _DEFAULT_ALLOWED
        updates = self._updates
        if offset > 0:
            while updates and updates[0][0] < offset:
                updates.popleft()
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        # A newer getUpdates terminates an older one that is still waiting, like Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake(self._update_waiters)

        result = self._collect(limit)
        if result or timeout <= 0:
            return result
        loop = asyncio.get_running_loop()
        timed_out_by_client = read_timeout is not None and read_timeout < timeout
        deadline = loop.time() + ((read_timeout or 0.0) if timed_out_by_client else timeout)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if timed_out_by_client:
                    raise TimedOut("Timed out")
                return []
            fut: asyncio.Future[None] = loop.create_future()
            self._update_waiters.append(fut)
            try:
                await asyncio.wait((fut,), timeout=remaining)
            finally:
                if not fut.done():
                    fut.cancel()
                    self._update_waiters.remove(fut)
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            result = self._collect(limit)
            if result:
                return result

    def _collect(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed
        updates = self._updates
        if any(kind not in allowed for _, kind, _ in updates):
            # Telegram never generates updates of types the bot did not ask for.
            kept = [entry for entry in updates if entry[1] in allowed]
            updates.clear()
            updates.extend(kept)
        if len(updates) <= limit:
            return [u for _, _, u in updates]
        return [updates[i][2] for i in range(limit)]

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._chat_id(params)
        chat = self._writable_chat(chat_id)
        plain, entities, parse_mode, html = self._text(params)
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        self._rate_check(chat_id)
        mid = chat.next_message_id
        chat.next_message_id = mid + 1
        date = int(time.time())
        self._record(
            SentMessage(
                chat_id, mid, plain, parse_mode, entities, html, markup, date, False, reply_to
            )
        )
        result: JSONDict = {
            "message_id": mid,
            "from": self.bot_user,
            "chat": chat.info,
            "date": date,
            "text": plain,
        }
        if entities:
            result["entities"] = entities
        if markup is not None and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        if reply_to is not None:
            original = self._message_json(chat_id, reply_to)
            if original is not None:
                result["reply_to_message"] = original
        return result

    def _reply_to(self, params: JSONDict, chat: _Chat) -> int | None:
        reply = params.get("reply_parameters")
        if reply is None:
            mid = params.get("reply_to_message_id")
            if mid is None:
                return None
            reply = {"message_id": mid, "allow_sending_without_reply": False}
        if not isinstance(reply, dict):
            raise _bad("can't parse reply parameters JSON object")
        mid = int(reply.get("message_id", 0))
        key = (chat.id, mid)
        if key in self._bot_messages or key in self._user_messages:
            return mid
        if reply.get("allow_sending_without_reply"):
            return None
        raise _bad("message to be replied not found")

    def _editable(self, params: JSONDict) -> tuple[_Chat, SentMessage]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._writable_chat(self._chat_id(params))
        mid = int(params.get("message_id") or 0)
        current = self._bot_messages.get((chat.id, mid))
        if current is None:
            if (chat.id, mid) in self._user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return chat, current

    def _edit_message_text(self, params: JSONDict) -> JSONDict:
        chat, current = self._editable(params)
        plain, entities, parse_mode, html = self._text(params)
        markup = self._markup(params, inline_only=True)
        if (
            plain == current.text
            and entities == current.entities
            and markup == current.reply_markup
        ):
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._rate_check(chat.id)
        new = replace(
            current,
            text=plain,
            entities=entities,
            parse_mode=parse_mode,
            html=html,
            reply_markup=markup,
            edited=True,
        )
        self._record(new)
        return self._bot_message_json(new)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        chat, current = self._editable(params)
        markup = self._markup(params, inline_only=True)
        if markup == current.reply_markup:
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._rate_check(chat.id)
        new = replace(current, reply_markup=markup, edited=True)
        self._record(new)
        return self._bot_message_json(new)

    def _delete_message(self, params: JSONDict) -> bool:
        chat = self._lookup_chat(self._chat_id(params))
        key = (chat.id, int(params.get("message_id") or 0))
        if key in self._bot_messages:
            del self._bot_messages[key]
        elif key in self._user_messages:
            if chat.kind != "private" and not chat.bot_is_admin:
                raise _bad("message can't be deleted")
            del self._user_messages[key]
        else:
            raise _bad("message to delete not found")
        self.deleted.append(key)
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):
            raise _bad(_QUERY_INVALID[len("Bad Request: ") :])
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.answered_callbacks.append(dict(params))
        return True

    def _answer_inline_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        if self._inline_queries.get(query_id, True):
            raise _bad(_QUERY_INVALID[len("Bad Request: ") :])
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > 50:
            raise _bad("RESULTS_TOO_MUCH")
        ids = [r.get("id") for r in results if isinstance(r, dict)]
        if len(set(ids)) != len(ids) or not all(ids):
            raise _bad("RESULT_ID_DUPLICATE")
        self._inline_queries[query_id] = True
        self.inline_answers.append(dict(params))
        return True

    @staticmethod
    def _scope_key(scope: object) -> str:
        if scope is None:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True, separators=(",", ":"))

    def _command_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        if isinstance(scope, str):
            scope = json.loads(scope)
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise _bad("can't parse BotCommandScope JSON object")
            if "chat_id" in scope:
                self._lookup_chat(self._chat_id(scope))
        language_code = str(params.get("language_code") or "")
        if language_code and not (len(language_code) == 2 and language_code.isalpha()):
            raise _bad("invalid language code specified")
        return self._scope_key(scope), language_code

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        stored: list[JSONDict] = []
        for cmd in commands:
            name = cmd.get("command", "") if isinstance(cmd, dict) else ""
            if not _BOT_COMMAND_NAME_RE.fullmatch(str(name)):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(cmd.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise _bad("command description is empty or too long")
            stored.append({"command": name, "description": description})
        key = self._command_key(params)
        if stored:
            self.commands[key] = stored
        else:
            self.commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.commands.get(self._command_key(params), [])

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True

    def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._lookup_chat(self._chat_id(params))
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member_json(self, chat: _Chat, user_id: int) -> JSONDict:
        user = self.bot_user if user_id == self.bot_id else self._users[user_id]
        if user_id == chat.creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins or (user_id == self.bot_id and chat.bot_is_admin):
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": user_id == self.bot_id,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
            }
        if user_id == self.bot_id or user_id in chat.members or chat.id == user_id:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._lookup_chat(self._chat_id(params))
        user_id = int(params.get("user_id") or 0)
        if user_id != self.bot_id and user_id not in self._users:
            raise _bad("user not found")
        if chat.kind == "private" and user_id not in (chat.id, self.bot_id):
            raise _bad("user not found")
        return self._member_json(chat, user_id)

    def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._lookup_chat(self._chat_id(params))
        if chat.kind == "private":
            raise _bad("there are no administrators in the private chat")
        ids = sorted(chat.admins)
        if chat.creator is not None:
            ids.insert(0, chat.creator)
        if chat.bot_is_admin:
            ids.append(self.bot_id)
        return [self._member_json(chat, uid) for uid in ids]

    def _get_chat_member_count(self, params: JSONDict) -> int:
        chat = self._lookup_chat(self._chat_id(params))
        return 2 if chat.kind == "private" else len(chat.members) + 1

    def _send_chat_action(self, params: JSONDict) -> bool:
        chat = self._writable_chat(self._chat_id(params))
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((chat.id, str(action)))
        return True


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

"""What the fake Telegram server remembers: users, chats, messages and the update queue.

All of it lives in :class:`StandinState`, the base class of :class:`BotApiStandin`; the Bot API
methods (``methods.py``) and the outside world (``driver.py``) read and change it through
``self``. The helpers here are the bookkeeping both sides share.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bot.standin.errors import FaultQueue, JSONDict
from bot.standin.flood import FloodControl, FloodModel

__all__ = ["DEFAULT_ALLOWED", "SERVICE_USER", "ChatRecord", "SentMessage", "StandinState"]

_LOGGER = logging.getLogger("bot.standin")  # one logger for the whole stand-in

PAID_MIN_BALANCE_STARS: Final = 10_000
"""The Bot API's minimum Stars balance for paid broadcasts (its FAQ says 100,000 and 100,000
monthly users to enable them in @BotFather; the stand-in checks the balance only)."""

SERVICE_USER: Final[JSONDict] = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
"""The sender of service messages without a human actor (Telegram's own account)."""
DEFAULT_ALLOWED: Final = frozenset(
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
"""The update types getUpdates delivers when the bot does not ask for specific ones."""


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
    billed: bool = False  # a paid broadcast beyond the free limit: 0.1 Star
    paid_broadcast: bool = False  # sent with allow_paid_broadcast
    # When flood control counted it, on its own clock (None with limits off): the time to
    # measure limits by, since any later reading can put two sends a second apart closer.
    counted_at: float | None = None

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


class ChatRecord:
    """A private chat, group, supergroup or channel as the server knows it."""

    __slots__ = (
        "admins",
        "blocked",
        "bot_can_post",
        "bot_is_admin",
        "bot_kicked",
        "bot_muted",
        "creator",
        "id",
        "info",
        "kind",
        "members",
        "migrated_to",
        "next_message_id",
        "removed",
        "started",
        "username",
    )

    def __init__(self, chat_id: int, kind: str, info: JSONDict) -> None:
        self.id = chat_id
        self.kind = kind  # "private", "group", "supergroup" or "channel"
        self.username: str | None = info.get("username")
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
        self.bot_kicked = False  # removed from the group: 403 "bot was kicked"
        self.bot_muted = False  # may not send messages there: 400 "not enough rights"
        # Channels: the bot is an administrator there (else it is not a member at all, as
        # Telegram has bots in channels only as administrators) with the right to post.
        self.bot_can_post = False


class StandinState:
    """Every piece of server state, in one place; see :class:`BotApiStandin` for its meaning."""

    def __init__(
        self,
        *,
        bot_id: int,
        bot_username: str,
        token: str,
        rate_limits: bool,
        clock: Callable[[], float],
        privacy_mode: bool,
        flood_model: FloodModel = "strict",
        keep_messages: bool = True,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.token = token
        self.rate_limits = rate_limits
        self.privacy_mode = privacy_mode
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Visit Bot",
            "username": bot_username,
        }

        # What the bot did, for tests to observe.
        self.sent: list[SentMessage] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.answered_callbacks: list[JSONDict] = []
        self.inline_answers: list[JSONDict] = []
        self.deleted: list[tuple[int, int]] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.sent_count = 0  # every message sent or edited, kept or not
        # Paid broadcasts (off until `enable_paid_broadcasts`): the balance and what was
        # billed, in tenths of a Star (one billed message costs 0.1 Star).
        self.paid_broadcasts = False
        self.star_balance_tenths = 0
        self.billed_messages = 0
        # False: messages are counted and shown to subscribers, not stored (a benchmark of
        # 100,000 sends measures the bot, not the stand-in's memory)
        self.keep_messages = keep_messages
        self.errors_returned: collections.Counter[tuple[str, int]] = collections.Counter()
        self.webhook_url = ""

        # Users, chats and the messages in them.
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, ChatRecord] = {}
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._subscribers: list[Callable[[SentMessage], None]] = []
        self._msg_waiters: list[asyncio.Future[None]] = []

        # The update queue getUpdates reads from: (update_id, kind, update).
        self._updates: collections.deque[tuple[int, str, JSONDict]] = collections.deque()
        self._next_update_id = 1
        self._allowed: frozenset[str] = DEFAULT_ALLOWED
        self._update_waiters: list[asyncio.Future[None]] = []
        self._poll_generation = 0

        # Callback and inline queries: id -> answered.
        self._callback_queries: dict[str, bool] = {}
        self._inline_queries: dict[str, bool] = {}
        self._next_query_id = 1

        self._faults = FaultQueue()
        self._flood = FloodControl(clock, flood_model)
        self._counted_at: float | None = None  # when the last message checked was counted

    # -----------------------------------------------------------------------------------------
    # bookkeeping shared by the Bot API methods and the outside world
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
    def _next_mid(chat: ChatRecord) -> int:
        mid = chat.next_message_id
        chat.next_message_id = mid + 1
        return mid

    def _record(self, msg: SentMessage) -> None:
        self.sent_count += 1
        if self.keep_messages:
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

    def _member_json(self, chat: ChatRecord, user_id: int) -> JSONDict:
        user = self.bot_user if user_id == self.bot_id else self._users[user_id]
        if user_id == chat.creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if chat.kind == "channel" and (user_id in chat.admins or user_id == self.bot_id):
            if user_id == self.bot_id and not chat.bot_is_admin:
                return {"status": "left", "user": user}
            can_post = chat.bot_can_post if user_id == self.bot_id else True
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": user_id == self.bot_id,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": can_post,
                "can_manage_video_chats": False,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_post_messages": can_post,
                "can_edit_messages": can_post,
            }
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

    @staticmethod
    def _scope_key(scope: object) -> str:
        if scope is None:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True, separators=(",", ":"))

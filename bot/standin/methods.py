"""The Bot API methods the bot calls, with Telegram's validation and error answers.

Each handler takes the request parameters (a dict, as PTB sends them) and returns the
``result`` of a successful answer or raises :class:`ApiError`. All of them except
``getUpdates`` are synchronous, so every call is atomic with respect to other tasks.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from telegram.error import TimedOut

from bot.standin.entities import parse_html, strip_text, utf16_len
from bot.standin.errors import ApiError, JSONDict, bad
from bot.standin.state import (
    DEFAULT_ALLOWED,
    PAID_MIN_BALANCE_STARS,
    ChatRecord,
    SentMessage,
    StandinState,
)

__all__ = ["MAX_CALLBACK_DATA", "MAX_TEXT_LENGTH", "BotApiMethods", "Handler"]

MAX_TEXT_LENGTH: Final = 4096
MAX_CALLBACK_DATA: Final = 64
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
_BOT_COMMAND_NAME_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)

Handler = Callable[[JSONDict], Any]
"""A synchronous Bot API method: request parameters in, the answer's ``result`` out."""


class BotApiMethods(StandinState):
    """The handlers of every Bot API method the stand-in implements (see :meth:`_method_table`)."""

    def _method_table(self) -> dict[str, tuple[str, Handler]]:
        """Lower-case method name -> (canonical name, handler); getUpdates is async, not here."""
        table: dict[str, tuple[str, Handler]] = {}
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
            table[name.lower()] = (name, handler)
        return table

    # -----------------------------------------------------------------------------------------
    # validating parameters, like Telegram
    # -----------------------------------------------------------------------------------------

    def _chat_id(self, params: JSONDict, key: str = "chat_id") -> int:
        value = params.get(key)
        if isinstance(value, int):
            return value
        if value is None or value == "":
            raise bad(f"{key} is empty")
        text = str(value)
        if text.startswith("@"):  # a public channel or supergroup by its username
            name = text[1:].lower()
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == name and not chat.removed:
                    return chat.id
            raise bad("chat not found")
        try:
            return int(text)
        except ValueError:
            raise bad("chat not found") from None

    def _lookup_chat(self, chat_id: int) -> ChatRecord:
        chat = self._chats.get(chat_id)
        if chat is None or chat.removed:
            raise bad("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _writable_chat(self, chat_id: int) -> ChatRecord:
        chat = self._lookup_chat(chat_id)
        if chat.kind == "private":
            if chat.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.kind == "channel":
            if chat.bot_kicked or not chat.bot_is_admin:
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            if not chat.bot_can_post:
                raise bad("need administrator rights in the channel chat")
        elif chat.bot_kicked:
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.kind} chat")
        elif chat.bot_muted:
            raise bad("not enough rights to send text messages to the chat")
        return chat

    def _rate_check(self, chat_id: int, *, paid: bool = False) -> bool:
        """429 beyond the limits; else whether the message is billed (a paid broadcast
        beyond the free limit). ``paid``: sent with ``allow_paid_broadcast``, which counts only
        when paid broadcasts are enabled and the balance holds the Bot API's minimum."""
        paid = paid and self.paid_broadcasts
        paid = paid and self.star_balance_tenths >= PAID_MIN_BALANCE_STARS * 10
        self._counted_at = None
        if not self.rate_limits:
            return False
        retry_after = self._flood.check(chat_id, paid=paid)
        if retry_after is not None:
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        self._flood.record(chat_id)
        self._counted_at = self._flood.checked_at
        return self._flood.billed

    def _text(self, params: JSONDict) -> tuple[str, list[JSONDict], str | None, str | None]:
        """Validate text/parse_mode/entities; returns (plain, entities, parse_mode, html)."""
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise bad("message text is empty")
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
                raise bad("unsupported parse_mode")
        else:
            plain = text
            raw = params.get("entities")
            entities = list(raw) if isinstance(raw, list) else []
        plain, entities = strip_text(plain, entities)
        if not plain:
            raise bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH / 2 and utf16_len(plain) > MAX_TEXT_LENGTH:
            raise bad("message is too long")
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
                raise bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            if inline_only:
                raise bad("inline keyboard expected")
            if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                raise bad("can't parse reply keyboard markup JSON object")
            return markup
        if not isinstance(rows, list):
            raise bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for row in rows:
            if not isinstance(row, list):
                raise bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None:
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
                    ):
                        raise bad("BUTTON_DATA_INVALID")
                elif len(button) == 1:
                    raise bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
        return markup

    # -----------------------------------------------------------------------------------------
    # the methods
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
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
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
            self._allowed = frozenset(allowed) if allowed else DEFAULT_ALLOWED
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
        flagged = bool(params.get("allow_paid_broadcast"))
        billed = self._rate_check(chat_id, paid=flagged)
        if billed:  # charged once accepted: "only for messages broadcasted successfully"
            self.billed_messages += 1
            self.star_balance_tenths -= 1
        mid = chat.next_message_id
        chat.next_message_id = mid + 1
        date = int(time.time())
        self._record(
            SentMessage(
                chat_id,
                mid,
                plain,
                parse_mode,
                entities,
                html,
                markup,
                date,
                False,
                reply_to,
                billed,
                flagged,
                self._counted_at,
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

    def _reply_to(self, params: JSONDict, chat: ChatRecord) -> int | None:
        reply = params.get("reply_parameters")
        if reply is None:
            mid = params.get("reply_to_message_id")
            if mid is None:
                return None
            reply = {"message_id": mid, "allow_sending_without_reply": False}
        if not isinstance(reply, dict):
            raise bad("can't parse reply parameters JSON object")
        mid = int(reply.get("message_id", 0))
        key = (chat.id, mid)
        if key in self._bot_messages or key in self._user_messages:
            return mid
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad("message to be replied not found")

    def _editable(self, params: JSONDict) -> tuple[ChatRecord, SentMessage]:
        if params.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._writable_chat(self._chat_id(params))
        mid = int(params.get("message_id") or 0)
        current = self._bot_messages.get((chat.id, mid))
        if current is None:
            if (chat.id, mid) in self._user_messages:
                raise bad("message can't be edited")
            raise bad("message to edit not found")
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
            raise bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._rate_check(chat.id)
        new = replace(
            current,
            text=plain,
            entities=entities,
            parse_mode=parse_mode,
            html=html,
            reply_markup=markup,
            edited=True,
            counted_at=self._counted_at,
        )
        self._record(new)
        return self._bot_message_json(new)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        chat, current = self._editable(params)
        markup = self._markup(params, inline_only=True)
        if markup == current.reply_markup:
            raise bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._rate_check(chat.id)
        new = replace(current, reply_markup=markup, edited=True, counted_at=self._counted_at)
        self._record(new)
        return self._bot_message_json(new)

    def _delete_message(self, params: JSONDict) -> bool:
        chat = self._lookup_chat(self._chat_id(params))
        key = (chat.id, int(params.get("message_id") or 0))
        if key in self._bot_messages:
            del self._bot_messages[key]
        elif key in self._user_messages:
            if chat.kind != "private" and not chat.bot_is_admin:
                raise bad("message can't be deleted")
            del self._user_messages[key]
        else:
            raise bad("message to delete not found")
        self.deleted.append(key)
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):
            raise bad(_QUERY_INVALID[len("Bad Request: ") :])
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.answered_callbacks.append(dict(params))
        return True

    def _answer_inline_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        if self._inline_queries.get(query_id, True):
            raise bad(_QUERY_INVALID[len("Bad Request: ") :])
        results = params.get("results")
        if not isinstance(results, list):
            raise bad("can't parse inline query results JSON object")
        if len(results) > 50:
            raise bad("RESULTS_TOO_MUCH")
        ids = [r.get("id") for r in results if isinstance(r, dict)]
        if len(set(ids)) != len(ids) or not all(ids):
            raise bad("RESULT_ID_DUPLICATE")
        self._inline_queries[query_id] = True
        self.inline_answers.append(dict(params))
        return True

    def _command_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        if isinstance(scope, str):
            scope = json.loads(scope)
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise bad("can't parse BotCommandScope JSON object")
            if "chat_id" in scope:
                self._lookup_chat(self._chat_id(scope))
        language_code = str(params.get("language_code") or "")
        if language_code and not (len(language_code) == 2 and language_code.isalpha()):
            raise bad("invalid language code specified")
        return self._scope_key(scope), language_code

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("too many commands specified")
        stored: list[JSONDict] = []
        for cmd in commands:
            name = cmd.get("command", "") if isinstance(cmd, dict) else ""
            if not _BOT_COMMAND_NAME_RE.fullmatch(str(name)):
                raise bad("BOT_COMMAND_INVALID")
            description = str(cmd.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise bad("command description is empty or too long")
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
        chat = self._visible_chat(params)
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

    def _visible_chat(self, params: JSONDict) -> ChatRecord:
        """A chat the bot may ask about: a channel it is not in only when it is public."""
        chat = self._lookup_chat(self._chat_id(params))
        if chat.kind == "channel" and not chat.username and not chat.bot_is_admin:
            raise bad("chat not found")
        return chat

    def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._visible_chat(params)
        user_id = int(params.get("user_id") or 0)
        if user_id != self.bot_id and user_id not in self._users:
            raise bad("user not found")
        if chat.kind == "private" and user_id not in (chat.id, self.bot_id):
            raise bad("user not found")
        return self._member_json(chat, user_id)

    def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._lookup_chat(self._chat_id(params))
        if chat.kind == "private":
            raise bad("there are no administrators in the private chat")
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
            raise bad("wrong parameter action in request")
        self.chat_actions.append((chat.id, str(action)))
        return True

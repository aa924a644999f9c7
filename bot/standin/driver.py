"""The outside world: users and groups acting on Telegram, and what tests observe of the bot.

These are the methods tests and the console call (``send_text``, ``press_button``, ``block``,
``wait_for_messages`` ...). They are plain synchronous methods (except the waits) and must be
called from the event loop's thread, see the package docstring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from bot.standin.entities import command_entities
from bot.standin.errors import JSONDict
from bot.standin.state import SERVICE_USER, ChatRecord, SentMessage, StandinState

__all__ = ["Driver"]


class Driver(StandinState):
    """What happens on Telegram's side without the bot asking: users write, press, block."""

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
            chat = self._chats[user_id] = ChatRecord(user_id, "private", info)
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
        chat = ChatRecord(chat_id, kind, {"id": chat_id, "type": kind, "title": title})
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
                "from": actor or SERVICE_USER,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self.bot_user},
                "new_chat_member": self._member_json(chat, self.bot_id),
            },
        )

    def add_channel(
        self,
        chat_id: int,
        *,
        title: str = "Channel",
        username: str | None = None,
        creator: int | None = None,
        admins: Iterable[int] = (),
        bot_can_post: bool | None = True,
        by: int | None = None,
    ) -> JSONDict | None:
        """Create a channel (negative id) and make the bot one of its administrators.

        ``bot_can_post``: the bot's right to post messages there; ``None`` leaves the bot out
        (Telegram has bots in channels only as administrators). Returns the queued
        ``my_chat_member`` update (from ``by``, else the creator), or None without the bot.
        """
        if chat_id >= 0:
            raise ValueError("channel ids are negative")
        info: JSONDict = {"id": chat_id, "type": "channel", "title": title}
        if username:
            info["username"] = username
        chat = ChatRecord(chat_id, "channel", info)
        previous = self._chats.get(chat_id)
        if previous is not None:
            chat.next_message_id = previous.next_message_id
        chat.creator = creator
        chat.admins = set(admins)
        chat.members = set(chat.admins) | ({creator} if creator is not None else set())
        for uid in chat.members:
            self._user(uid)
        self._chats[chat_id] = chat
        if bot_can_post is None:
            return None
        return self.set_bot_rights(chat_id, can_post=bot_can_post, by=by)

    def set_bot_rights(self, chat_id: int, *, can_post: bool, by: int | None = None) -> JSONDict:
        """A channel administrator makes the bot an administrator, or changes its right to
        post; returns the queued ``my_chat_member`` update."""
        chat = self._channel(chat_id)
        old = self._member_json(chat, self.bot_id)
        chat.bot_is_admin, chat.bot_kicked, chat.bot_can_post = True, False, can_post
        actor = by if by is not None else chat.creator
        return self._queue(
            "my_chat_member",
            {
                "chat": chat.info,
                "from": self._users[actor] if actor is not None else SERVICE_USER,
                "date": int(time.time()),
                "old_chat_member": old,
                "new_chat_member": self._member_json(chat, self.bot_id),
            },
        )

    def _channel(self, chat_id: int) -> ChatRecord:
        chat = self._chats.get(chat_id)
        if chat is None or chat.kind != "channel":
            raise ValueError(f"{chat_id} is not a channel (add_channel first)")
        return chat

    def post_in_channel(self, chat_id: int, text: str) -> JSONDict:
        """An administrator posts ``text`` in the channel; returns the Update.

        Like Telegram: a ``channel_post`` with the channel as ``sender_chat`` and no ``from``;
        queued only when the bot is an administrator there (otherwise it sees nothing).
        """
        chat = self._channel(chat_id)
        mid = self._next_mid(chat)
        post: JSONDict = {
            "message_id": mid,
            "sender_chat": chat.info,
            "chat": chat.info,
            "date": int(time.time()),
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            post["entities"] = entities
        self._user_messages[(chat_id, mid)] = post
        if not chat.bot_is_admin or chat.bot_kicked:
            return {"update_id": None, "channel_post": post}
        return self._queue("channel_post", post)

    def enable_paid_broadcasts(self, balance_stars: int = 100_000) -> None:
        """Paid broadcasts switched on in @BotFather, with this Stars balance."""
        self.paid_broadcasts = True
        self.star_balance_tenths = balance_stars * 10

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
        entities = command_entities(text)
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
        entities = command_entities(text)
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

    def _private_chat(self, user_id: int) -> ChatRecord:
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

    def _block_update(self, chat: ChatRecord, old: str, new: str) -> JSONDict:
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
        new = ChatRecord(
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
                "from": actor or SERVICE_USER,
                "chat": old.info,
                "date": now,
                "migrate_to_chat_id": new_chat_id,
            },
        )
        second = self._queue(
            "message",
            {
                "message_id": self._next_mid(new),
                "from": actor or SERVICE_USER,
                "chat": new.info,
                "date": now,
                "migrate_from_chat_id": old_chat_id,
            },
        )
        return [first, second]

    def kick_bot(self, chat_id: int, *, by: int | None = None) -> JSONDict:
        """An admin removes the bot from a group or channel; returns the queued
        ``my_chat_member`` update.

        Sends to the group fail with 403 "bot was kicked from the group chat" from then on (in
        a channel: 403 "bot is not a member of the channel chat").
        """
        chat = self._chats.get(chat_id)
        if chat is None or chat.kind == "private":
            raise ValueError(f"{chat_id} is not a group")
        old = self._member_json(chat, self.bot_id) if chat.kind == "channel" else None
        chat.bot_kicked = True
        if chat.kind == "channel":
            chat.bot_is_admin = False
        actor = self._users.get(by) if by is not None else None
        return self._queue(
            "my_chat_member",
            {
                "chat": chat.info,
                "from": actor or SERVICE_USER,
                "date": int(time.time()),
                "old_chat_member": old or {"status": "member", "user": self.bot_user},
                "new_chat_member": {"status": "kicked", "user": self.bot_user, "until_date": 0},
            },
        )

    def mute_bot(self, chat_id: int, muted: bool = True) -> None:
        """The group no longer lets the bot send messages (400 "not enough rights").

        No update is queued: the bot finds out when it tries to post, as it does when Telegram's
        update was missed or the group's default permissions changed.
        """
        chat = self._chats.get(chat_id)
        if chat is None or chat.kind == "private":
            raise ValueError(f"{chat_id} is not a group")
        chat.bot_muted = muted

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

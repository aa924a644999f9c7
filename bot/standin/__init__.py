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
groups, deleted chats and flood control (HTTP 429), with paid broadcasts' separate limit and
their billing. Channels are modelled as Telegram has them: the bot is an administrator there
(with or without the right to post, which ``getChatMember`` reports), posts arrive as
``channel_post`` updates from the channel itself (``sender_chat``, no ``from``), and public
channels are addressed by ``@username`` too.  Faults can be injected per method
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

Layout
------
``entities``  Telegram HTML parse mode, UTF-16 lengths, command entities (pure functions)
``errors``    :class:`ApiError` answers, :class:`InjectedError` faults and their queue
``flood``     the flood-control model behind 429 "retry after"
``state``     :class:`SentMessage`, chat records and all server state (``StandinState``)
``methods``   the Bot API method handlers (``sendMessage``, ``getUpdates`` ...)
``driver``    the outside world: users acting, and what tests observe
``server``    :class:`BotApiStandin`, composing the above; answers one call at a time
``adapter``   :class:`StandinRequest`, the PTB ``BaseRequest`` plugged into the Application
``console``   ``visitbot console``, the stand-in's main user besides the tests

Only ``console`` knows the bot. The other modules import nothing from ``bot``, ``jobs`` or
``storage`` (except ``bot.ptb_private``, PTB's private names): they fake Telegram for any PTB
application. Importing ``bot.standin`` does not import ``console``.
"""

from __future__ import annotations

from bot.standin.adapter import StandinRequest
from bot.standin.entities import parse_html
from bot.standin.errors import ApiError, InjectedError
from bot.standin.server import BotApiStandin
from bot.standin.state import SentMessage

__all__ = [
    "ApiError",
    "BotApiStandin",
    "InjectedError",
    "SentMessage",
    "StandinRequest",
    "parse_html",
]

"""Tests for the in-process Bot API stand-in, driving a real PTB Application through it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import warnings
from collections.abc import AsyncIterator

import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
)

from bot.standin import BotApiStandin, InjectedError, SentMessage, parse_html

USER = 42


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates the int form
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def build_app(standin: BotApiStandin) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(standin.token)
        .request(standin.request())
        .get_updates_request(standin.request())
        .build()
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    args = " ".join(context.args or []) or "nothing"
    await update.effective_message.reply_text(f"<b>echo</b> {args}", parse_mode=ParseMode.HTML)


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Agenda", callback_data="agenda")]])
    await update.effective_message.reply_text("Menu", reply_markup=keyboard)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    await query.edit_message_text(f"You chose {query.data}")


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.inline_query is not None
    await update.inline_query.answer([])


@pytest.fixture
def standin() -> BotApiStandin:
    s = BotApiStandin(rate_limits=False)
    s.add_user(USER, first_name="Ann", username="ann")
    return s


@pytest.fixture
async def app(standin: BotApiStandin) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = build_app(standin)
    application.add_handler(CommandHandler("echo", echo))
    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0)
        yield application
        await application.updater.stop()
        await application.stop()


@pytest.fixture
async def bot_app(standin: BotApiStandin) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An initialized application that does not poll (for direct bot calls)."""
    application = build_app(standin)
    async with application:
        yield application


# ---------------------------------------------------------------------------------------------
# end to end through a polling Application
# ---------------------------------------------------------------------------------------------


async def test_command_round_trip(standin: BotApiStandin, app: Application) -> None:  # type: ignore[type-arg]
    update = standin.send_text(USER, "/echo hello world")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    [reply] = await standin.wait_for_messages(USER)
    assert reply.text == "echo hello world"
    assert reply.html == "<b>echo</b> hello world"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 4}]
    assert reply.reply_to_message_id is None

    standin.send_text(USER, "/echo@visitbot again")
    second = (await standin.wait_for_messages(USER, 2))[-1]
    assert second.text == "echo again"
    assert standin.messages_to(USER) == [reply, second]
    assert standin.calls["getMe"] == 1
    assert standin.calls["sendMessage"] == 2


async def test_button_reaches_callback_handler(standin: BotApiStandin, app: Application) -> None:  # type: ignore[type-arg]
    standin.send_text(USER, "/menu")
    [msg] = await standin.wait_for_messages(USER)
    assert msg.callback_data == ["agenda"]
    with pytest.raises(ValueError, match="no button"):
        standin.press_button(USER, msg.message_id, "nope")
    query_id = standin.press_button(USER, msg.message_id, "agenda")
    edited = (await standin.wait_for_messages(USER, 2))[-1]
    assert edited.edited and edited.text == "You chose agenda"
    assert edited.message_id == msg.message_id
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert standin.answered_callbacks[0]["callback_query_id"] == query_id
    assert standin.answered_callbacks[0]["text"] == "ok"
    current = standin.message(USER, msg.message_id)
    assert current is not None and current.text == "You chose agenda"


async def test_inline_query_answered(standin: BotApiStandin, app: Application) -> None:  # type: ignore[type-arg]
    query_id = standin.inline_query(USER, "agenda")
    for _ in range(100):
        if standin.inline_answers:
            break
        await asyncio.sleep(0.01)
    assert standin.inline_answers[0]["inline_query_id"] == query_id


async def test_subscribe_sees_sends_and_edits(standin: BotApiStandin, app: Application) -> None:  # type: ignore[type-arg]
    seen: list[SentMessage] = []
    standin.subscribe(seen.append)
    standin.send_text(USER, "/menu")
    [msg] = await standin.wait_for_messages(USER)
    standin.press_button(USER, msg.message_id, "agenda")
    await standin.wait_for_messages(USER, 2)
    assert [m.edited for m in seen] == [False, True]


async def test_wait_for_messages_timeout_is_helpful(standin: BotApiStandin) -> None:
    standin.send_text(USER, "/echo x")  # nobody polls
    with pytest.raises(TimeoutError, match="not yet confirmed by getUpdates"):
        await standin.wait_for_messages(USER, timeout=0.05)


async def test_group_privacy_mode(standin: BotApiStandin, app: Application) -> None:  # type: ignore[type-arg]
    standin.add_group(-100, title="Delegation", admins=[USER])
    hidden = standin.send_text(USER, "just chatting", chat_id=-100)
    assert hidden["update_id"] is None
    standin.send_text(USER, "/echo group", chat_id=-100)
    [reply] = await standin.wait_for_messages(-100)
    assert reply.text == "echo group"
    assert reply.chat_id == -100


# ---------------------------------------------------------------------------------------------
# HTML validation and text rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins>",
        "<s>s</s><strike>t</strike><del>d</del><tg-spoiler>x</tg-spoiler>",
        '<span class="tg-spoiler">x</span><a href="https://example.org/?a=1&amp;b=2">l</a>',
        '<code>c</code><pre>p</pre><pre><code class="language-python">x = 1</code></pre>',
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "<b>bold <i>italic <u>under</u></i></b> &lt;&gt;&amp;&quot; &#123; &#x1F600; a > b",
    ],
)
async def test_valid_html_passes(standin: BotApiStandin, bot_app: Application, html: str) -> None:  # type: ignore[type-arg]
    msg = await bot_app.bot.send_message(USER, html, parse_mode=ParseMode.HTML)
    sent = standin.sent[-1]
    assert sent.html == html
    assert msg.text == sent.text
    assert "</" not in sent.text
    assert msg.entities  # formatting came back as entities


@pytest.mark.parametrize(
    ("html", "fragment"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("Tom & Jerry", 'Character "&"'),
        ("1 < 2", 'Unsupported start tag ""'),
        ("&nbsp;", 'Character "&"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag"),
        ("<a>link</a>", 'Tag "a" must have attribute "href"'),
        ('<span class="x">s</span>', 'must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag"),
    ],
)
async def test_invalid_html_rejected(
    bot_app: Application,  # type: ignore[type-arg]
    html: str,
    fragment: str,
) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities") as info:
        await bot_app.bot.send_message(USER, html, parse_mode=ParseMode.HTML)
    # PTB strips "Bad Request: " and capitalize()s the rest, as with the real server
    assert fragment.lower() in info.value.message.lower()


def test_parse_html_entities_and_offsets() -> None:
    text, entities = parse_html("😀 <b>hi</b> &#x1F600;<i>x</i>")
    assert text == "😀 hi 😀x"
    # UTF-16 offsets: the emoji counts as two code units
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "italic", "offset": 8, "length": 1},
    ]
    text, entities = parse_html('<pre><code class="language-py">x</code></pre>')
    assert entities == [{"type": "pre", "language": "py", "offset": 0, "length": 1}]


async def test_length_limit_after_parsing(bot_app: Application) -> None:  # type: ignore[type-arg]
    bot = bot_app.bot
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(USER, "&amp;" * 4096, parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(USER, "<b>" + "x" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(USER, "x" * 4097)


async def test_empty_text_rejected(bot_app: Application) -> None:  # type: ignore[type-arg]
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot_app.bot.send_message(USER, "<b></b>  ", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot_app.bot.send_message(USER, "   \n")


async def test_callback_data_size(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await bot_app.bot.send_message(USER, "fine", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot_app.bot.send_message(USER, "bad", reply_markup=too_long)
    assert standin.errors_returned[("sendMessage", 400)] == 1


async def test_edit_not_modified_and_missing(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    msg = await bot_app.bot.send_message(USER, "same")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot_app.bot.edit_message_text("same", chat_id=USER, message_id=msg.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot_app.bot.edit_message_text("x", chat_id=USER, message_id=999)
    assert await bot_app.bot.delete_message(USER, msg.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot_app.bot.delete_message(USER, msg.message_id)
    assert standin.deleted == [(USER, msg.message_id)]


# ---------------------------------------------------------------------------------------------
# errors PTB must turn into its real exceptions
# ---------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limits_raise_retry_after_in_the_burst_model() -> None:
    clock = FakeClock()
    standin = BotApiStandin(clock=clock, flood_model="burst")
    standin.add_user(USER)
    standin.add_group(-200, title="G")
    async with build_app(standin) as app:
        bot = app.bot
        for _ in range(3):  # burst of 3 per private chat
            await bot.send_message(USER, "hi")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER, "hi")
        assert retry_seconds(info.value) == 1
        clock.now += 1.0
        await bot.send_message(USER, "again")

        for _ in range(20):  # 20 per minute per group
            await bot.send_message(-200, "g")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(-200, "g")
        assert retry_seconds(info.value) == 3
        assert standin.errors_returned[("sendMessage", 429)] == 2
        clock.now += 3.0
        await bot.send_message(-200, "g")
        # overall ~30/s across chats
        for uid in range(1, 40):
            standin.add_user(uid)
        clock.now += 60
        accepted = 0
        with pytest.raises(RetryAfter):
            for uid in range(1, 40):
                await bot.send_message(uid, "x")
                accepted += 1
        assert accepted == 30


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_strict_flood_model_is_a_sliding_window_without_burst() -> None:
    clock = FakeClock()
    standin = BotApiStandin(clock=clock)  # strict is the default
    standin.add_user(USER)
    standin.add_group(-200, title="G")
    for uid in range(1, 61):
        standin.add_user(uid)
    async with build_app(standin) as app:
        bot = app.bot
        await bot.send_message(USER, "one")
        with pytest.raises(RetryAfter) as info:  # no burst: the second message in a second
            await bot.send_message(USER, "two")
        assert retry_seconds(info.value) == 1
        clock.now += 0.999
        with pytest.raises(RetryAfter):  # still inside the second that holds "one"
            await bot.send_message(USER, "two")
        clock.now += 0.001
        await bot.send_message(USER, "two")

        for second in range(20):  # 20 in any minute per group, however they are spread
            await bot.send_message(-200, f"g{second}")
            clock.now += 2.9
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(-200, "g")
        assert retry_seconds(info.value) == 2  # 60 s after the first of the twenty
        clock.now += 2.5
        await bot.send_message(-200, "g")

        # 30 in any second overall: 20 early in the second and 10 late fill it; the next
        # message waits until the early ones leave the window, a token bucket would not.
        clock.now += 60
        for uid in range(1, 21):
            await bot.send_message(uid, "x")
        clock.now += 0.9
        for uid in range(21, 31):
            await bot.send_message(uid, "x")
        clock.now += 0.05
        with pytest.raises(RetryAfter):
            await bot.send_message(31, "x")
        clock.now += 0.05
        for uid in range(31, 51):
            await bot.send_message(uid, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(51, "x")
        assert standin.errors_returned[("sendMessage", 429)] == 5


async def test_blocked_user_forbidden(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    update = standin.block(USER)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot_app.bot.send_message(USER, "hi")
    standin.unblock(USER)
    await bot_app.bot.send_message(USER, "hi")
    standin.add_user(7, started=False)
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot_app.bot.send_message(7, "hi")


async def test_migrated_group(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    standin.add_group(-300, title="Old")
    updates = standin.migrate_group(-300, -1001300)
    assert updates[0]["message"]["migrate_to_chat_id"] == -1001300
    with pytest.raises(ChatMigrated) as info:
        await bot_app.bot.send_message(-300, "hi")
    assert info.value.new_chat_id == -1001300
    await bot_app.bot.send_message(-1001300, "hi")
    assert standin.messages_to(-1001300)[0].text == "hi"


async def test_chat_not_found(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot_app.bot.send_message(12345, "hi")
    standin.remove_chat(USER)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot_app.bot.send_message(USER, "hi")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_errors(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    standin.inject_errors(
        "sendMessage",
        InjectedError.server_error(502),
        InjectedError.server_error(500),
        InjectedError.retry_after(3),
        InjectedError.timeout(),
        InjectedError.network(),
        InjectedError.timeout(processed=True),
    )
    bot = bot_app.bot
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER, "1")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER, "2")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(USER, "3")
    assert retry_seconds(info.value) == 3
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "4")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "5")
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "delivered anyway")
    await bot.send_message(USER, "7")
    assert [m.text for m in standin.sent] == ["delivered anyway", "7"]
    assert standin.errors_returned[("sendMessage", 0)] == 3
    assert standin.errors_returned[("sendMessage", 502)] == 1


async def test_unknown_method_and_bad_token(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    with pytest.raises(Exception, match="Not Found|not found"):
        await bot_app.bot.do_api_request("noSuchMethod")
    other = BotApiStandin(token="999:OTHER")
    app = ApplicationBuilder().token("123:WRONG").request(other.request()).build()
    with pytest.raises(InvalidToken):
        await app.initialize()


# ---------------------------------------------------------------------------------------------
# commands, chats, members
# ---------------------------------------------------------------------------------------------


async def test_set_my_commands_per_scope(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    bot = bot_app.bot
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("agenda", "Agenda")])
    await bot.set_my_commands(
        [BotCommand("start", "Начать")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="ru",
    )
    standin.add_group(-400, admins=[USER])
    await bot.set_my_commands([BotCommand("admin", "Admin")], scope=BotCommandScopeChat(-400))
    assert [c["command"] for c in standin.commands_for()] == ["start", "agenda"]
    assert standin.commands[('{"type":"all_private_chats"}', "ru")][0]["description"] == "Начать"
    assert standin.commands_for({"chat_id": -400, "type": "chat"})[0]["command"] == "admin"
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ru")
    assert [c.command for c in got] == ["start"]
    assert await bot.get_my_commands(language_code="de") == ()
    await bot.delete_my_commands()
    assert standin.commands_for() == []
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_chat_and_members(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    bot = bot_app.bot
    standin.add_user(43)
    standin.add_group(-500, title="Press", supergroup=True, admins=[USER], creator=43)
    chat = await bot.get_chat(-500)
    assert chat.type == "supergroup" and chat.title == "Press"
    assert (await bot.get_chat_member(-500, USER)).status == "administrator"
    assert (await bot.get_chat_member(-500, 43)).status == "creator"
    standin.add_user(44)
    assert (await bot.get_chat_member(-500, 44)).status == "left"
    standin.send_text(44, "/echo", chat_id=-500)
    assert (await bot.get_chat_member(-500, 44)).status == "member"
    admins = await bot.get_chat_administrators(-500)
    assert [a.user.id for a in admins] == [43, USER]
    private = await bot.get_chat(USER)
    assert private.type == "private" and private.first_name == "Ann"
    assert await bot.send_chat_action(USER, "typing")
    assert standin.chat_actions == [(USER, "typing")]


# ---------------------------------------------------------------------------------------------
# getUpdates semantics
# ---------------------------------------------------------------------------------------------


async def test_get_updates_offset_semantics(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    bot = bot_app.bot
    ids = [standin.send_text(USER, f"m{i}")["update_id"] for i in range(5)]
    first = await bot.get_updates()
    assert [u.update_id for u in first] == ids
    again = await bot.get_updates()  # not confirmed yet: same updates
    assert [u.update_id for u in again] == ids
    limited = await bot.get_updates(offset=ids[2], limit=2)  # confirms ids[0], ids[1]
    assert [u.update_id for u in limited] == ids[2:4]
    assert [u.update_id for u in await bot.get_updates()] == ids[2:]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[4:]
    assert await bot.get_updates(offset=ids[4] + 1) == ()

    # long poll: wakes up as soon as an update arrives, without busy looping
    loop = asyncio.get_running_loop()
    start = loop.time()
    loop.call_later(0.05, standin.send_text, USER, "late")
    late = await bot.get_updates(offset=ids[4] + 1, timeout=5)
    assert [u.message.text for u in late if u.message] == ["late"]
    assert loop.time() - start < 2
    # a timeout with no updates returns an empty list
    assert await bot.get_updates(offset=late[0].update_id + 1, timeout=0.05) == ()

    # allowed_updates filters (and persists)
    standin.inline_query(USER, "q")
    standin.send_text(USER, "text")
    got = await bot.get_updates(offset=late[0].update_id + 1, allowed_updates=["message"])
    assert [u.message.text for u in got if u.message] == ["text"]
    assert all(u.inline_query is None for u in got)


# ---------------------------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------------------------


async def test_many_sends_all_land(standin: BotApiStandin, bot_app: Application) -> None:  # type: ignore[type-arg]
    bot = bot_app.bot
    start = time.perf_counter()
    await asyncio.gather(*(bot.send_message(USER, f"n{i}") for i in range(1000)))
    for i in range(1000):
        await bot.send_message(USER, f"<b>s</b>{i}", parse_mode=ParseMode.HTML)
    elapsed = time.perf_counter() - start
    print(f"stand-in throughput: {2000 / elapsed:.0f} sendMessage/s")
    assert len(standin.sent) == 2000
    assert len({m.message_id for m in standin.messages_to(USER)}) == 2000


async def test_clean_shutdown_no_pending_tasks(standin: BotApiStandin) -> None:
    app = build_app(standin)
    app.add_handler(CommandHandler("echo", echo))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0)
            standin.send_text(USER, "/echo bye")
            await standin.wait_for_messages(USER)
            await app.updater.stop()
            await app.stop()
    await asyncio.sleep(0)
    current = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert others == []
    assert standin.pending_updates == []


async def test_webhook_conflicts_with_get_updates(
    standin: BotApiStandin,
    bot_app: Application,  # type: ignore[type-arg]
) -> None:
    bot = bot_app.bot
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Exception, match="(?i)webhook is active"):
        await bot.get_updates()
    standin.send_text(USER, "queued")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_writing_to_blocked_bot_unblocks(
    standin: BotApiStandin,
    bot_app: Application,  # type: ignore[type-arg]
) -> None:
    standin.block(USER)
    standin.send_text(USER, "/start")
    kinds = [next(k for k in u if k != "update_id") for u in standin.pending_updates]
    assert kinds == ["my_chat_member", "my_chat_member", "message"]
    await bot_app.bot.send_message(USER, "welcome back")


# ---------------------------------------------------------------------------------------------
# channels and paid broadcasts
# ---------------------------------------------------------------------------------------------

CHANNEL = -1001234500001


async def test_channel_posts_rights_and_removal(standin: BotApiStandin) -> None:
    joined = standin.add_channel(CHANNEL, title="Ankara Desk", username="ankaradesk", creator=USER)
    assert joined is not None
    added = Update.de_json(joined, None)
    assert added.my_chat_member is not None and added.my_chat_member.from_user.id == USER
    new = added.my_chat_member.new_chat_member
    assert new.status == "administrator" and getattr(new, "can_post_messages", None) is True

    update = Update.de_json(standin.post_in_channel(CHANNEL, "/subscribe agenda"), None)
    post = update.channel_post
    assert post is not None and update.message is None
    assert post.from_user is None and post.sender_chat is not None
    assert post.sender_chat.id == CHANNEL and post.chat.type == "channel"
    assert post.text == "/subscribe agenda" and post.entities[0].type == "bot_command"

    async with build_app(standin) as app:
        bot = app.bot
        chat = await bot.get_chat("@AnkaraDesk")  # usernames resolve, case-insensitively
        assert chat.id == CHANNEL and chat.type == "channel"
        sent = await bot.send_message("@ankaradesk", "<b>post</b>", parse_mode=ParseMode.HTML)
        assert sent.chat.id == CHANNEL and standin.messages_to(CHANNEL)[-1].text == "post"
        standin.set_bot_rights(CHANNEL, can_post=False)
        member = await bot.get_chat_member(CHANNEL, standin.bot_id)
        assert member.status == "administrator"
        assert getattr(member, "can_post_messages", None) is False
        with pytest.raises(BadRequest, match="(?i)need administrator rights"):
            await bot.send_message(CHANNEL, "post")
        kicked = Update.de_json(standin.kick_bot(CHANNEL, by=USER), None)
        assert kicked.my_chat_member is not None
        assert kicked.my_chat_member.old_chat_member.status == "administrator"
        with pytest.raises(Forbidden, match="(?i)not a member of the channel"):
            await bot.send_message(CHANNEL, "post")
        assert standin.post_in_channel(CHANNEL, "/subscribe")["update_id"] is None  # unseen
        standin.add_channel(-1009, title="Private", bot_can_post=None)
        with pytest.raises(BadRequest, match="(?i)chat not found"):  # private, bot not in it
            await bot.get_chat(-1009)


async def test_paid_broadcasts_have_their_own_limit_and_bill_beyond_the_free_one() -> None:
    clock = FakeClock()
    standin = BotApiStandin(clock=clock)
    for uid in range(1, 1102):
        standin.add_user(uid)
    async with build_app(standin) as app:
        bot = app.bot
        for uid in range(1, 31):
            await bot.send_message(uid, "x", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):  # not enabled in @BotFather: the flag changes nothing
            await bot.send_message(31, "x", allow_paid_broadcast=True)
        standin.enable_paid_broadcasts(balance_stars=9_999)
        with pytest.raises(RetryAfter):  # below the minimum balance: still the free limit
            await bot.send_message(31, "x", allow_paid_broadcast=True)
        standin.enable_paid_broadcasts(balance_stars=20_000)
        for uid in range(31, 1001):  # beyond 30 in the second: billed, up to 1,000 in all
            await bot.send_message(uid, "x", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):
            await bot.send_message(1001, "x", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):  # without the flag the free limit holds
            await bot.send_message(1001, "x")
        assert standin.billed_messages == 970
        assert standin.star_balance_tenths == 200_000 - 970
        assert [m.billed for m in standin.sent[:31]] == [False] * 30 + [True]
        clock.now += 1.0  # a new second: the first 30 are free again, and paid or not
        await bot.send_message(1001, "x")
        for uid in range(1002, 1032):
            await bot.send_message(uid, "x", allow_paid_broadcast=True)
        assert standin.billed_messages == 971  # 29 free after the one without the flag
        assert standin.errors_returned[("sendMessage", 429)] == 4

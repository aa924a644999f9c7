"""/start and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.commands import admin_commands, public_commands
from bot.handlers.common import reply
from bot.i18n import Html, t
from bot.services import services


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    await reply(update, context, t(lang, "start.body", visit=svc.visit.name.get(lang)))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    lang = await svc.language(update)
    user = update.effective_user
    lines = [t(lang, "help.title"), ""]
    lines += [command_line(lang, c.name) for c in public_commands()]
    if await svc.is_admin(user.id if user else None):
        lines += ["", t(lang, "help.admin_title")]
        owner = svc.is_owner(user.id if user else None)
        lines += [
            command_line(lang, c.name) for c in admin_commands() if c.audience == "admin" or owner
        ]
    lines += ["", t(lang, "help.footer")]
    await reply(update, context, Html("\n".join(lines)))


def command_line(lang: str, name: str) -> Html:
    return t(lang, "help.command", command=f"/{name}", description=t(lang, f"command.{name}"))

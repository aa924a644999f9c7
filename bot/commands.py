"""The command list: one place that says which commands exist and who may use them.

The menus (`set_my_commands`), `/help` and the admin check all read this list, so a command's
visibility is decided once. Descriptions live in the catalogue under `command.<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Audience = Literal["public", "admin", "owner"]


@dataclass(frozen=True)
class Command:
    name: str
    audience: Audience = "public"


COMMANDS: tuple[Command, ...] = (
    Command("start"),
    Command("help"),
    Command("facts"),
    Command("agenda"),
    Command("agreements"),
    Command("status"),
    Command("visits"),
    Command("visit"),
    Command("language"),
    # --- subscriptions and alerts
    Command("subscribe"),
    Command("unsubscribe"),
    Command("settings"),
    Command("timezone"),
    Command("quiet"),
    Command("digest"),
    Command("stats", "admin"),
    # --- admin curation
    Command("review", "admin"),
    Command("addagreement", "admin"),
    Command("editagreement", "admin"),
    Command("delagreement", "admin"),
    Command("addagenda", "admin"),
    Command("editagenda", "admin"),
    Command("delagenda", "admin"),
    Command("addfact", "admin"),
    Command("delfact", "admin"),
    Command("feeds", "admin"),
    Command("addfeed", "admin"),
    Command("delfeed", "admin"),
    Command("pausefeed", "admin"),
    Command("resumefeed", "admin"),
    Command("broadcast", "admin"),
    Command("channels", "admin"),
    Command("addchannel", "admin"),
    Command("audit", "admin"),
    Command("admins", "owner"),
    Command("addadmin", "owner"),
    Command("deladmin", "owner"),
)


def public_commands() -> list[Command]:
    return [c for c in COMMANDS if c.audience == "public"]


def admin_commands() -> list[Command]:
    return [c for c in COMMANDS if c.audience != "public"]

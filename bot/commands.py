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
)


def public_commands() -> list[Command]:
    return [c for c in COMMANDS if c.audience == "public"]


def admin_commands() -> list[Command]:
    return [c for c in COMMANDS if c.audience != "public"]

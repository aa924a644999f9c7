"""Import rules that keep the Bot API stand-in a fake Telegram, independent of the bot.

Checked on the source (every import statement, also function-local and TYPE_CHECKING ones),
so a violation fails here instead of showing up later as an import cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "bot" / "standin"
SERVER_MODULES = sorted(p for p in STANDIN.glob("*.py") if p.name != "console.py")
ALLOWED_BOT_IMPORTS = ("bot.standin", "bot.ptb_private")


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            yield node.module or ""


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("path", SERVER_MODULES, ids=lambda p: p.name)
def test_server_modules_import_nothing_of_the_bot(path: Path) -> None:
    for module in imported_modules(path):
        if any(is_within(module, allowed) for allowed in ALLOWED_BOT_IMPORTS):
            continue
        assert not any(is_within(module, own) for own in ("bot", "jobs", "storage")), (
            f"bot/standin/{path.name} imports {module}"
        )


def test_the_package_does_not_import_the_console() -> None:
    for path in SERVER_MODULES:
        assert "bot.standin.console" not in set(imported_modules(path)), path.name


def test_ptb_private_names_come_from_one_module() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "jobs", "storage", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "ptb_private.py"
        and any(is_within(m, "telegram._utils") for m in imported_modules(path))
    ]
    assert offenders == []

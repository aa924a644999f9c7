"""The layering rules hold: SQL only in storage/, imports only downward (import-linter), the
stand-in independent of the bot, PTB's private names behind one module.

`make test` runs `lint-imports` on the real tree; the tests here also prove the checks bite, by
showing each one a tree with the mistake put back, and keep the contracts' lists complete.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Statements as this project writes them: upper-case keywords followed by what makes them SQL.
_SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|SELECT\s+\d|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+(OR\s+\w+\s+)?\w+\s+SET"
    r"|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIRTUAL)|ALTER\s+TABLE|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)\b",
    re.S,
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (prose may name a statement)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source` that holds an SQL statement."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in skip:
            continue
        if isinstance(node.value, str) and _SQL.search(node.value):
            hits.append((node.lineno, node.value[:80]))
    return hits


def sql_outside_storage(root: Path) -> dict[str, list[tuple[int, str]]]:
    found = {}
    for package in ("bot", "jobs"):
        for path in sorted((root / package).rglob("*.py")):
            hits = sql_in(path.read_text(encoding="utf-8"))
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_no_sql_outside_storage() -> None:
    assert sql_outside_storage(ROOT) == {}


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1",
        "SELECT id FROM feeds WHERE url = ?",
        "INSERT OR IGNORE INTO chats (chat_id) VALUES (?)",
        "UPDATE deliveries SET status = 'pending'",
        "DELETE FROM subscriptions WHERE chat_id = ?",
        "PRAGMA integrity_check",
    ],
)
def test_the_sql_check_finds_a_statement_put_back(statement: str) -> None:
    source = f'"""Docstrings may say {statement} in prose."""\n\nQUERY = {statement!r}\n'
    assert sql_in(source) == [(3, statement)]


def test_the_sql_check_leaves_prose_and_messages_alone() -> None:
    source = (
        'log = "select a language, then update your settings"\n'
        'usage = "/delete from the list with /delfeed"\n'
    )
    assert sql_in(source) == []


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": str(lint.parent), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three packages and the contracts, copied so a test may break them."""
    tree = tmp_path_factory.mktemp("layers")
    for package in ("bot", "jobs", "storage"):
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("jobs/delivery.py", "import bot.alert_render", "Layers: bot > jobs > storage"),
        ("storage/alerts.py", "import jobs.detection", "Layers: bot > jobs > storage"),
        ("storage/alerts.py", "import telegram.error", "Storage does not know Telegram"),
        ("bot/standin/server.py", "import bot.services", "The stand-in is independent of the bot"),
    ],
)
def test_lint_imports_fails_when_a_forbidden_import_is_put_back(
    tree_copy: Path, module: str, line: str, contract: str
) -> None:
    path = tree_copy / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(f"{line}  # noqa\n{original}", encoding="utf-8")
        result = _lint_imports(tree_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout


def test_lint_imports_passes_on_the_tree_as_it_is(tree_copy: Path) -> None:
    result = _lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _contract(name: str) -> dict[str, list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def _modules(package: Path, prefix: str) -> set[str]:
    """Top-level modules and subpackages of a package, as dotted names."""
    found = {f"{prefix}.{p.stem}" for p in package.glob("*.py") if p.name != "__init__.py"}
    found |= {f"{prefix}.{d.name}" for d in package.iterdir() if (d / "__init__.py").is_file()}
    return found


def test_the_stand_in_contract_names_every_module() -> None:
    """A module added to bot/ or bot/standin/ is covered without anyone remembering to."""
    contract = _contract("The stand-in is independent of the bot")
    server = _modules(ROOT / "bot" / "standin", "bot.standin") - {"bot.standin.console"}
    assert set(contract["source_modules"]) == server
    bot_modules = _modules(ROOT / "bot", "bot") - {"bot.standin", "bot.ptb_private"}
    assert set(contract["forbidden_modules"]) == bot_modules | {
        "bot.standin.console",
        "jobs",
        "storage",
    }


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_ptb_private_names_come_from_one_module() -> None:
    """telegram._utils may change in any PTB release: one place to check on an upgrade."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "jobs", "storage", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "ptb_private.py" and any(m.startswith("telegram._") for m in _imports(path))
    ]
    assert offenders == []

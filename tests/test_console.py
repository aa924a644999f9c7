"""`visitbot console` as a user runs it: a real process, lines on stdin, replies on stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_console(lines: list[str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "ADMIN_IDS"}}
    env.update(
        PYTHONPATH=str(REPO),
        DATABASE_PATH=str(tmp_path / "console.db"),
        FEED_URLS="http://127.0.0.1:9/none",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", *args],
        input="\n".join(lines) + "\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_console_answers_commands_and_buttons(tmp_path: Path) -> None:
    result = run_console(["/start", "/facts", "4", "/facts bridge", "/nonsense"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(admin)" in out
    assert "visitbot follows the State visit" in out
    assert "[1] The visit" in out and "[4] Trade" in out  # buttons printed numbered
    assert "$8,000" in out  # pressing 4 opened the Trade topic
    assert "2,023" in out and "Çanakkale" in out
    assert "I don't know /nonsense" in out
    assert "<b>" not in out  # shown as readable text, not HTML
    assert "Traceback" not in result.stderr


def test_console_as_a_plain_user(tmp_path: Path) -> None:
    result = run_console(["/help"], tmp_path, "--user-id", "777")
    assert result.returncode == 0, result.stderr
    assert "(admin)" not in result.stdout
    assert "Admin commands" not in result.stdout

"""Configuration: every bad value stops start-up with one clear line and exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE_URL, ConfigError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_defaults() -> None:
    settings = load_settings(environ={}, dotenv=None)
    assert settings.bot_token is None
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.poll_interval_seconds == 300
    assert settings.database_path == Path("data/visitbot.db")
    assert settings.admin_ids == frozenset()
    assert settings.feed_urls is None
    # Every bundled visit, by default; VISIT_FILE picks one.
    assert [v.slug for v in settings.visits] == [
        "lee-jae-myung-egypt-2025",
        "lee-jae-myung-turkiye-2025",
    ]


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nBOT_TOKEN='123:abc'\nADMIN_IDS=1, 2\nPOLL_INTERVAL_SECONDS=60\n"
        "export LOG_LEVEL=debug\n",
        encoding="utf-8",
    )
    settings = load_settings(environ={"POLL_INTERVAL_SECONDS": "5"}, dotenv=dotenv)
    assert settings.bot_token == "123:abc"
    assert settings.admin_ids == {1, 2}
    assert settings.poll_interval_seconds == 5
    assert settings.log_level == "DEBUG"


def test_feed_urls_are_split_and_checked() -> None:
    settings = load_settings(
        environ={"FEED_URLS": "https://a.example/rss, http://b.example/x"}, dotenv=None
    )
    assert settings.feed_urls == ("https://a.example/rss", "http://b.example/x")
    with pytest.raises(ConfigError, match="FEED_URLS"):
        load_settings(environ={"FEED_URLS": "ftp://nope"}, dotenv=None)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS"),
        ("POLL_INTERVAL_SECONDS", "-5", "POLL_INTERVAL_SECONDS"),
        ("POLL_INTERVAL_SECONDS", "0", "POLL_INTERVAL_SECONDS"),
        ("POLL_INTERVAL_SECONDS", "soon", "POLL_INTERVAL_SECONDS"),
        ("VISIT_FILE", "/nonexistent/visit.toml", "VISIT_FILE"),
        ("TELEGRAM_API_BASE_URL", "telegram", "TELEGRAM_API_BASE_URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("TELEGRAM_API_BASE_URL", "http://[::1", "TELEGRAM_API_BASE_URL"),
        ("FEED_URLS", "https://a.example/rss,http://[::1", "FEED_URLS"),
        ("FEED_URLS", "http://a.example:70000/rss", "FEED_URLS"),
        # int() accepts every script's digits; an operator's port is ASCII 0-9 only.
        ("OPS_PORT", "\u0668\u0660\u0668\u0660", "OPS_PORT"),
        ("WEBHOOK_PORT", "\uff18\uff14\uff14\uff13", "WEBHOOK_PORT"),
        ("OPS_PORT", "+8080", "OPS_PORT"),
        ("BACKUP_KEEP", "\u0667", "BACKUP_KEEP"),
        ("BACKUP_INTERVAL_HOURS", "\u0661\u0662", "BACKUP_INTERVAL_HOURS"),
        ("POLL_INTERVAL_SECONDS", "\u0663\u0660\u0660", "POLL_INTERVAL_SECONDS"),
        ("ADMIN_IDS", "\u0661\u0662\u0663", "ADMIN_IDS"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(environ={name: value}, dotenv=None)


def test_ascii_ports_are_accepted() -> None:
    settings = load_settings(environ={"OPS_PORT": "8080", "WEBHOOK_PORT": "8443"}, dotenv=None)
    assert (settings.ops_port, settings.webhook_port) == (8080, 8443)


def test_empty_feed_urls_means_no_feeds_and_unset_means_built_in(tmp_path: Path) -> None:
    assert load_settings(environ={"FEED_URLS": ""}, dotenv=None).feed_urls == ()
    assert load_settings(environ={"FEED_URLS": " , "}, dotenv=None).feed_urls == ()
    assert load_settings(environ={}, dotenv=None).feed_urls is None
    dotenv = tmp_path / ".env"
    dotenv.write_text("FEED_URLS=\n", encoding="utf-8")
    assert load_settings(environ={}, dotenv=dotenv).feed_urls == ()


def test_malformed_visit_file(tmp_path: Path) -> None:
    bad = tmp_path / "visit.toml"
    bad.write_text("[visit\nslug=", encoding="utf-8")
    with pytest.raises(ConfigError, match="VISIT_FILE.*not valid TOML"):
        load_settings(environ={"VISIT_FILE": str(bad)}, dotenv=None)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "ADMIN_IDS"}}
    clean.update(env)
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ADMIN_IDS": "one"}, "ADMIN_IDS"),
        ({"POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({"VISIT_FILE": "missing.toml"}, "VISIT_FILE"),
        ({}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "1:x", "TELEGRAM_API_BASE_URL": "http://[::1"}, "TELEGRAM_API_BASE_URL"),
        ({"BOT_TOKEN": "1:x", "FEED_URLS": "http://[::1"}, "FEED_URLS"),
        (
            {"BOT_TOKEN": "1:x", "WEBHOOK_URL": "https://[::1/hook", "WEBHOOK_SECRET": "s"},
            "WEBHOOK_URL",
        ),
    ],
)
def test_cli_config_errors_exit_2_with_one_line(
    env: dict[str, str], fragment: str, tmp_path: Path
) -> None:
    result = _cli(["run"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_backups_are_kept_apart_from_the_live_database(tmp_path: Path) -> None:
    environ = {"DATABASE_PATH": str(tmp_path / "v.db"), "BACKUP_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="BACKUP_DIR must not be the folder of DATABASE_PATH"):
        load_settings(environ=environ, dotenv=None)


def test_every_variable_is_in_env_example_and_the_readme_and_the_example_loads() -> None:
    names = set(re.findall(r'get\("([A-Z_]+)"\)', (REPO / "bot" / "config.py").read_text("utf-8")))
    assert {
        "PAID_BROADCAST",
        "PAID_BROADCAST_MAX_STARS_PER_ALERT",
        "DELIVERY_RETENTION_DAYS",
    } <= names
    example = (REPO / ".env.example").read_text("utf-8")
    readme = (REPO / "README.md").read_text("utf-8")
    assert [n for n in sorted(names) if not re.search(rf"^(# )?{n}=", example, re.M)] == []
    assert [n for n in sorted(names) if f"| `{n}` |" not in readme] == []
    settings = load_settings(environ={}, dotenv=REPO / ".env.example")  # copied as it is
    assert not settings.paid_broadcast and settings.paid_broadcast_max_messages == 0
    assert settings.delivery_retention_days == 7.0

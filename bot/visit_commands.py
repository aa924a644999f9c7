"""`visitbot visit check FILE...` and `visitbot visit new`: visit files for operators.

Both work without any configuration (no token, no database): they are how a new visit is
prepared before the bot ever loads it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.visit import bundled_visits_dir, visit_files
from storage.visitcheck import Problem, check_bytes, duplicate_slugs, parse_toml
from storage.visitscaffold import NewVisit, default_slug, render

EXIT_INVALID = 1
EXIT_USAGE = 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    visit = commands.add_parser("visit", help="check or start visit files (no configuration)")
    sub = visit.add_subparsers(dest="visit_command", required=True)
    check = sub.add_parser("check", help="validate visit files; prints every problem with its path")
    check.add_argument(
        "files", type=Path, nargs="*", help="visit files or folders (default: the bundled visits)"
    )
    new = sub.add_parser(
        "new", help="write a commented skeleton for a new visit (asks for what is missing)"
    )
    for flag, what in NEW_FLAGS:
        new.add_argument(f"--{flag}", help=what)
    new.add_argument("-o", "--output", type=Path, help="file to write (default: <slug>.toml)")


NEW_FLAGS = (
    ("guest-leader", "the visiting leader, as English coverage writes it (Lee Jae Myung)"),
    ("guest-country", "the visiting leader's country in English (South Korea)"),
    ("guest-code", "its ISO 3166 code (KR)"),
    ("host-leader", "the host leader in English (Abdel Fattah El-Sisi)"),
    ("host-country", "the host country in English (Egypt)"),
    ("host-code", "its ISO 3166 code (EG)"),
    ("city", "where the visit takes place (Cairo)"),
    ("starts", "first day, YYYY-MM-DD"),
    ("ends", "last day, YYYY-MM-DD"),
    ("timezone", "the host's IANA time zone (Africa/Cairo)"),
    ("guest-timezone", "the guest's IANA time zone, optional (Asia/Seoul)"),
    ("languages", "ISO 639-1 codes of the coverage, English first (en,ko,ar)"),
    ("trip", "a key shared by the stops of one tour, optional"),
    ("slug", "the visit's key, optional (default: leader-country-year)"),
)
OPTIONAL = frozenset({"guest-timezone", "trip", "slug"})


# --- check ------------------------------------------------------------------------------------


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths or [bundled_visits_dir()]:
        found += visit_files(path) if path.is_dir() else [path]
    return found


def check(paths: list[Path], out: TextIO = sys.stdout) -> int:
    """Every problem of every file, one line each; exit 0 when all are valid, 1 when not."""
    files = _files(paths)
    if not files:
        print("visitbot: no visit files to check", file=sys.stderr)
        return EXIT_USAGE
    invalid = 0
    slugs: list[tuple[str, str]] = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems = [Problem("", f"cannot read: {exc.strerror or exc}")]
        else:
            problems = check_bytes(raw)
            data, _ = parse_toml(raw)
            slug = (data or {}).get("visit", {}).get("slug")
            if isinstance(slug, str):
                slugs.append((str(path), slug))
        for problem in problems:
            print(f"{path}: {problem}", file=out)
        if problems:
            invalid += 1
        else:
            print(f"{path}: ok", file=out)
    clashes = duplicate_slugs(slugs)
    for clash in clashes:
        print(clash, file=out)
    if invalid or clashes:
        print(f"{invalid or len(clashes)} of {len(files)} file(s) need changes", file=out)
        return EXIT_INVALID
    return 0


# --- new --------------------------------------------------------------------------------------


class Refused(ValueError):
    """An answer that cannot be used; the message says why."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Refused(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(f"{text!r} is not a known time zone (e.g. Europe/Istanbul)") from None
    return text


def _languages(text: str) -> tuple[str, ...]:
    codes = tuple(c.strip().lower() for c in text.split(",") if c.strip())
    if not codes or any(len(c) != 2 or not c.isalpha() or not c.isascii() for c in codes):
        raise Refused(f"{text!r} is not a list of ISO 639-1 codes (en,ko,ar)")
    return ("en", *[c for c in codes if c != "en"])


def _code(text: str) -> str:
    if len(text) != 2 or not text.isascii() or not text.isalpha():
        raise Refused(f"{text!r} is not a two-letter country code")
    return text.upper()


def new(args: argparse.Namespace, ask: Callable[[str], str] | None = None) -> int:
    """Gather the answers (flags first, then questions if a terminal is there), write the file."""
    interactive = ask is not None or sys.stdin.isatty()
    prompt = ask or input
    answers: dict[str, str] = {}
    for flag, what in NEW_FLAGS:
        value = getattr(args, flag.replace("-", "_"), None)
        if value is None and interactive and flag not in OPTIONAL:
            value = prompt(f"{what}: ").strip()
        answers[flag] = value or ""
    missing = [f"--{f}" for f, _ in NEW_FLAGS if f not in OPTIONAL and not answers[f]]
    if missing:
        print(f"visitbot: visit new needs {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        visit = NewVisit(
            guest_leader=answers["guest-leader"],
            guest_country=answers["guest-country"],
            guest_code=_code(answers["guest-code"]),
            host_leader=answers["host-leader"],
            host_country=answers["host-country"],
            host_code=_code(answers["host-code"]),
            city=answers["city"],
            starts_on=_date(answers["starts"]),
            ends_on=_date(answers["ends"]),
            timezone=_zone(answers["timezone"]),
            guest_timezone=_zone(answers["guest-timezone"]) if answers["guest-timezone"] else "",
            languages=_languages(answers["languages"]),
            trip=answers["trip"],
            slug=answers["slug"],
        )
    except Refused as exc:
        print(f"visitbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    output: Path = args.output or Path(f"{visit.slug or default_slug(visit)}.toml")
    if output.exists():
        print(f"visitbot: {output} exists; choose another --output", file=sys.stderr)
        return EXIT_USAGE
    output.write_text(render(visit), encoding="utf-8")
    print(f"wrote {output}: fill in every ⟪fill in …⟫, then run visitbot visit check {output}")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.visit_command == "check":
        return check(list(args.files))
    return new(args)

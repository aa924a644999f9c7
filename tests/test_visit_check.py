"""`visitbot visit check` and `visit new`: every silent mistake of a visit file is named with
its path, all at once; a file `visit new` wrote passes once its blanks are filled in."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import visit_commands
from storage.visit import BUNDLED_VISIT, bundled_visits_dir
from storage.visitcheck import PLACEHOLDER, check_bytes

BUNDLED = bundled_visits_dir() / BUNDLED_VISIT
VISITBOT = Path(sys.executable).with_name("visitbot")


def bundled() -> str:
    return BUNDLED.read_text(encoding="utf-8")


def problems(text: str) -> list[str]:
    return [str(p) for p in check_bytes(text.encode("utf-8"))]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a misspelt table is reported, never dropped
        (("[[anchors]]", "[[anchor]]"), "unknown key 'anchor'"),
        (
            ('slug = "lee-jae-myung-turkiye-2025"', 'slug = "x"\nslogan = "y"'),
            "unknown key 'slogan'",
        ),
        (
            ("starts_on = 2025-11-24", "starts_on = 2025-11-26"),
            "visit.ends_on: 2025-11-25 is before",
        ),
        (
            ("tracking_until = 2025-12-25", "tracking_until = 2025-11-01"),
            "visit.tracking_until: 2025-11-01 is before tracking_from",
        ),
        (
            ("tracking_from = 2025-11-10", "tracking_from = 2025-11-25"),
            "visit.tracking_from: the tracking window 2025-11-25 to 2025-12-25 does not cover",
        ),
        (('name.tr = "Türkiye"\n', ""), "host.name: no name in 'tr', a declared language"),
        (
            ('languages = ["en", "ko", "tr"]', 'languages = ["en", "ko", "tr", "de"]'),
            "no name in 'de'",
        ),
        (
            ('languages = ["en", "ko", "tr"]', 'languages = ["en", "ko", "tr", "xx"]'),
            "no detection vocabulary for 'xx'",
        ),
        (('source = "announcement"', 'source = "anouncement"'), "'anouncement' is not defined"),
        (('key = "trade"', 'key = "Trade & Commerce"'), "'Trade & Commerce' is not 1-32"),
        (
            ('slug = "lee-jae-myung-turkiye-2025"', f'slug = "{"x" * 40}"'),
            "visit.slug: '" + "x" * 40 + "' is not 1-32",
        ),
        (("starts_on = 2025-11-24", 'starts_on = "2025-11-24"'), "is a text, not a date"),
        (('side = "guest"', 'side = "visitor"'), "leaders[0].side: 'visitor' is not one of"),
        (('key = "duran"', 'key = "kepco"'), "'kepco' is used twice"),
        (('timezone = "Europe/Istanbul"', 'timezone = "Europe/Ankara"'), "not a known time zone"),
        (('topic = "history"', 'topic = "histroy"'), "'histroy' is not one of the [[topics]]"),
        (('url = "https://www.turkiyetoday', 'url = "ftp://www.turkiyetoday'), "not an http"),
    ],
)
def test_each_silent_mistake_is_named_with_its_path(change: tuple[str, str], expected: str) -> None:
    old, new = change
    text = bundled()
    assert old in text, old
    found = problems(text.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_an_agenda_time_that_is_not_a_time() -> None:
    text = bundled().replace("date = 2025-11-25\n", 'date = 2025-11-25\ntime = "25:00"\n', 1)
    found = problems(text)
    assert any(re.match(r"agenda\[\d+\]\.time: '25:00' is not a time of day", p) for p in found)


def test_every_problem_is_listed_not_only_the_first() -> None:
    text = (
        bundled()
        .replace("[[anchors]]", "[[anchor]]", 1)
        .replace("starts_on = 2025-11-24", 'starts_on = "2025-11-24"')
        .replace('source = "announcement"', 'source = "anouncement"', 1)
    )
    found = problems(text)
    assert len(found) >= 3, found


def test_duplicate_keys_and_deep_nesting_are_one_line_each() -> None:
    assert problems('[visit]\nslug = "a"\nslug = "b"\n') == [
        "not valid TOML: Cannot overwrite a value (at line 3, column 11)"
    ]
    deep = "a = " + "[" * 5000 + "]" * 5000
    assert problems(deep) == ["not valid TOML: nested too deeply"]


def test_the_bundled_visits_are_valid() -> None:
    out = io.StringIO()
    assert visit_commands.check([bundled_visits_dir()], out) == 0
    assert out.getvalue().count(": ok") == len(list(bundled_visits_dir().glob("*.toml")))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VISITBOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_check_exits_1_when_a_file_is_broken_and_run_refuses_it_in_one_line(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(bundled().replace("[[anchors]]", "[[anchor]]", 1), encoding="utf-8")
    checked = _run("visit", "check", str(broken), str(BUNDLED))
    assert checked.returncode == 1
    assert f"{broken}: unknown key 'anchor'" in checked.stdout
    assert f"{BUNDLED}: ok" in checked.stdout
    refused = _run("run", env={"BOT_TOKEN": "1:x", "VISIT_FILE": str(broken)})
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "VISIT_FILE" in refused.stderr and "unknown key 'anchor'" in refused.stderr
    dated = tmp_path / "dated.toml"
    dated.write_text(bundled().replace("starts_on = 2025-11-24", 'starts_on = "2025-11-24"'))
    refused = _run("run", env={"BOT_TOKEN": "1:x", "VISIT_FILE": str(dated)})
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "visit.starts_on" in refused.stderr
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000)
    refused = _run("run", env={"BOT_TOKEN": "1:x", "VISIT_FILE": str(deep)})
    assert refused.returncode == 2 and "nested too deeply" in refused.stderr
    assert refused.stderr.count("\n") == 1


def test_a_folder_with_two_visits_of_one_slug_is_refused(tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text(bundled(), encoding="utf-8")
    checked = _run("visit", "check", str(tmp_path))
    assert checked.returncode == 1 and "is already the slug of" in checked.stdout


NEW_FLAGS = [
    "--guest-leader", "Friedrich Merz", "--guest-country", "Germany", "--guest-code", "DE",
    "--host-leader", "Recep Tayyip Erdoğan", "--host-country", "Türkiye", "--host-code", "TR",
    "--city", "Ankara", "--starts", "2025-10-30", "--ends", "2025-10-30",
    "--timezone", "Europe/Istanbul", "--languages", "en,tr,de",
]  # fmt: skip


def test_visit_new_writes_a_file_that_passes_check_once_filled_in(tmp_path: Path) -> None:
    out = tmp_path / "merz.toml"
    written = _run("visit", "new", *NEW_FLAGS, "-o", str(out))
    assert written.returncode == 0, written.stderr
    text = out.read_text(encoding="utf-8")
    unfilled = _run("visit", "check", str(out))
    assert unfilled.returncode == 1 and "still to fill in" in unfilled.stdout
    # German has no built-in vocabulary: the check says so until the file brings one.
    assert "no detection vocabulary for 'de'" in unfilled.stdout
    filled = re.sub(
        r'"⟪fill in: ([^⟫]*)⟫"',
        lambda m: (
            '"https://example.org/announcement"'
            if "address" in m.group(1)
            else f'"{m.group(1).replace(" in ", " (")})"'
        ),
        text,
    )
    assert PLACEHOLDER + ":" not in filled  # only the header comment mentions the blanks
    filled += (
        "\n[vocabulary.de.signing]\nrequires_document = true\n"
        'documents = ["Abkommen", "Absichtserklärung"]\nsigned = ["unterzeichnet"]\n'
        '[vocabulary.de.agenda]\nterms = ["Besuch*", "Gespräch*"]\n'
    )
    out.write_text(filled, encoding="utf-8")
    passed = _run("visit", "check", str(out))
    assert passed.returncode == 0, passed.stdout
    assert f"{out}: ok" in passed.stdout


def test_visit_new_says_which_flags_are_missing_without_a_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(VISITBOT), "visit", "new", "--guest-leader", "X", "-o", str(tmp_path / "x.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "--host-leader" in result.stderr and "--starts" in result.stderr

"""Writing one benchmark's section into BENCHMARKS.md, leaving the other sections alone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"


def replace_section(document: str, heading: str, body: str) -> str:
    """`document` with the section under `## heading` replaced by `body` (or appended)."""
    section = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\s*$.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: section + "\n", document, count=1).rstrip() + "\n"
    head = document.rstrip() + "\n\n" if document.strip() else "# Benchmarks\n\n"
    return head + section


def write_section(heading: str, body: str) -> None:
    old = BENCHMARKS.read_text("utf-8") if BENCHMARKS.exists() else ""
    BENCHMARKS.write_text(replace_section(old, heading, body), "utf-8")
    print(f"updated {BENCHMARKS.relative_to(ROOT)}: {heading}")

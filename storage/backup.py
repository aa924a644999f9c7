"""Backups and checks of the SQLite file, safe while the bot is running.

Why a separate connection and one step
--------------------------------------
A backup opens its own read-only connection to the database file and copies it with SQLite's
online backup API in a single step (`pages=-1`). The single step runs inside one read
transaction, so the copy is a consistent snapshot of one moment; in WAL mode (which
`storage.db` always sets) readers never block writers, so the bot keeps writing while the copy
is made. Copying in several small steps would instead restart whenever the bot wrote in between,
and a busy bot could starve it. The bot's own connection is not used, so its asyncio lock is
never held for the duration of a copy.

The copy is written to `<dest>.partial`, checked (`PRAGMA integrity_check`, schema version),
flushed to disk, and only then renamed to `dest`: a crash or a failed check never leaves a
file that looks like a good backup.

Everything here is synchronous (plain `sqlite3`); async callers use `asyncio.to_thread` so the
event loop never waits for disk I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storage.db import migrations
from storage.lock import LOCK_SUFFIX

BUSY_TIMEOUT_SECONDS = 30.0
SQLITE_SUFFIXES = ("-journal", "-wal", "-shm")
BACKUP_NAME = re.compile(r"^visitbot-(\d{8}T\d{6}(?:\d{6})?Z)\.db$")


class BackupError(RuntimeError):
    """A backup or check could not be done; the message says why in one line."""


@dataclass(frozen=True)
class CheckReport:
    """What `visitbot db check` prints: integrity and migration state of one file."""

    path: Path
    integrity: list[str]
    schema_version: int
    latest_version: int
    applied: list[tuple[int, str, str]] = field(default_factory=list)  # version, name, when
    pending: list[str] = field(default_factory=list)

    @property
    def integrity_ok(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def ok(self) -> bool:
        """Usable by this visitbot: intact and not from a newer version (pending is fine)."""
        return self.integrity_ok and self.schema_version <= self.latest_version

    def lines(self) -> list[str]:
        state = "ok" if self.integrity_ok else "FAILED"
        out = [f"database: {self.path}", f"integrity: {state}"]
        out += [f"  {problem}" for problem in self.integrity[:20] if not self.integrity_ok]
        out.append(f"schema version: {self.schema_version} (this visitbot: {self.latest_version})")
        out += [f"  applied {name} at {when}" for _, name, when in self.applied]
        if self.schema_version > self.latest_version:
            out.append("  NEWER than this visitbot: upgrade visitbot before using this file")
        if self.pending:
            out.append(f"pending migrations: {', '.join(self.pending)} (visitbot db migrate)")
        else:
            out.append("pending migrations: none")
        return out


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise BackupError(f"database {path} does not exist")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS
        )
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open database {path}: {exc}") from exc
    try:
        yield conn
    finally:
        conn.close()


def side_files(database: Path) -> set[Path]:
    """The files next to a database that SQLite or visitbot own: never a backup's name."""
    resolved = Path(database).resolve()
    return {
        resolved.with_name(resolved.name + suffix) for suffix in (*SQLITE_SUFFIXES, LOCK_SUFFIX)
    }


def check_database(path: Path) -> CheckReport:
    """Integrity check and migration state, without writing to the file."""
    path = Path(path)
    with _read_only(path) as conn:
        try:
            integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            applied: list[tuple[int, str, str]] = []
            if has_table:
                applied = [
                    (int(v), str(n), str(a))
                    for v, n, a in conn.execute(
                        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
                    )
                ]
        except sqlite3.Error as exc:
            raise BackupError(f"cannot check database {path}: {exc}") from exc
    known = migrations()
    current = max((v for v, _, _ in applied), default=0)
    return CheckReport(
        path=path,
        integrity=integrity,
        schema_version=current,
        latest_version=known[-1][0] if known else 0,
        applied=applied,
        pending=[name for version, name, _ in known if version > current],
    )


def backup_database(source: Path, dest: Path) -> CheckReport:
    """Copy `source` to `dest` (which must not exist) as one consistent snapshot, then check it."""
    source, dest = Path(source), Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name")
    if source.resolve() == dest.resolve():
        raise BackupError("the backup must be a different file from the database")
    if dest.resolve() in side_files(source):
        # SQLite deletes (or worse, replays) <db>-journal, -wal and -shm when it next opens the
        # database, and the lock file belongs to the running bot.
        raise BackupError(
            f"{dest} is one of the database's own side files (-journal, -wal, -shm, .lock); "
            "choose another file name"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {dest.parent}: {exc.strerror or exc}") from exc
    partial = dest.with_name(dest.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        with _read_only(source) as src:
            try:
                target = sqlite3.connect(partial)
            except sqlite3.Error as exc:
                raise BackupError(f"cannot write {partial}: {exc}") from exc
            try:
                src.backup(target)  # pages=-1: one step, one read transaction, one snapshot
                # The copy inherits WAL mode; a backup should be one self-contained file.
                target.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error as exc:
                raise BackupError(f"backup of {source} failed: {exc}") from exc
            finally:
                target.close()
        report = check_database(partial)
        if not report.integrity_ok:
            raise BackupError(f"the backup failed its integrity check: {report.integrity[0]}")
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return CheckReport(
        path=dest,
        integrity=report.integrity,
        schema_version=report.schema_version,
        latest_version=report.latest_version,
        applied=report.applied,
        pending=report.pending,
    )


# --- automatic backups: names and retention ------------------------------------------------


def backup_name(now: dt.datetime) -> str:
    """`visitbot-20251124T093000Z.db`: sorts by time, and retention only touches these names."""
    return f"visitbot-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S')}Z.db"


def list_backups(directory: Path) -> list[Path]:
    """Automatic backups in `directory`, oldest first (other files are never touched)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and BACKUP_NAME.match(p.name))


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` automatic backups; returns what was deleted."""
    found = list_backups(directory)
    doomed = found[: max(0, len(found) - keep)]
    for path in doomed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return doomed

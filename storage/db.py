"""The SQLite store: one aiosqlite connection, migrations, and a transaction helper.

Concurrency model: the bot runs on one event loop and owns one connection. aiosqlite runs every
statement on its own worker thread, in order. Because coroutines interleave, an `asyncio.Lock`
guards the connection: each `fetch*`/`execute` call takes it for one statement, and
`transaction()` holds it from BEGIN IMMEDIATE to COMMIT, so no other coroutine's statement can slip
into (or see the inside of) a transaction. Inside a transaction, use the `Tx` it yields, never the
`Database` methods (they would wait for the lock held by the transaction itself).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]
FOREIGN_KEYS_OFF = "-- visitbot: foreign_keys off"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(RuntimeError):
    """The database cannot be used: newer schema, failed migration, unreadable file."""


# What every layer reads the time from; tests pass a settable one.
Clock = Callable[[], dt.datetime]


class DatabaseDamaged(DatabaseError):
    """The file is not a SQLite database, or a damaged one (truncated, overwritten).

    Apart from the other `DatabaseError`s because the remedy differs: not a setting to change but
    a file to check (`visitbot db check`) and restore from a backup.
    """


_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def is_damage(exc: BaseException) -> bool:
    """A SQLite error that means the file itself is broken (not a lock or a full disk)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.DatabaseError)
        and isinstance(code, int)
        and (code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB))
    )


def damaged(path: Path | str, exc: BaseException | str) -> DatabaseDamaged:
    return DatabaseDamaged(f"database {path} is damaged: {exc}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_db_time(value: dt.datetime) -> str:
    """Aware datetimes are stored as UTC ISO-8601 text, which sorts chronologically."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def from_db_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Reader(Protocol):
    """A `Database` or a `Tx`: reads that work outside a transaction or inside one."""

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None: ...


class Tx:
    """Statements inside one transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns lastrowid (useful after INSERT)."""
        async with self._conn.execute(sql, params) as cursor:
            return cursor.lastrowid or 0

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        async with self._conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()


class Database:
    """The application's single connection. Open with `Database.open` or `async with`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA synchronous = NORMAL")
            if migrate:
                await db.migrate()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            if is_damage(exc):
                raise damaged(path, exc) from exc
            raise DatabaseError(f"cannot open database {path}: {exc}") from exc
        except BaseException:
            await conn.close()
            raise
        return db

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        async with self._lock:
            return await self._schema_version()

    async def _schema_version(self) -> int:
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with self._conn.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; returns the versions applied."""
        known = migrations()
        newest = known[-1][0] if known else 0
        applied: list[int] = []
        async with self._lock:
            current = await self._schema_version()
            if current > newest:
                raise DatabaseError(
                    f"database {self.path} has schema version {current}, newer than this "
                    f"visitbot knows ({newest}); upgrade visitbot or use another DATABASE_PATH"
                )
            for version, name, sql in known:
                if version <= current:
                    continue
                stamp = to_db_time(utcnow())
                script = (
                    f"BEGIN IMMEDIATE;\n{sql}\n;"
                    f"INSERT INTO schema_migrations (version, name, applied_at)"
                    f" VALUES ({version}, '{name}', '{stamp}');\nCOMMIT;"
                )
                # A migration that rebuilds a table says so in its first line: foreign keys go
                # off around its transaction (SQLite's documented procedure; a DROP TABLE would
                # otherwise cascade) and are checked before they come back on.
                rebuilds = sql.startswith(FOREIGN_KEYS_OFF)
                try:
                    if rebuilds:
                        await self._conn.execute("PRAGMA foreign_keys = OFF")
                    await self._conn.executescript(script)
                    if rebuilds:
                        async with self._conn.execute("PRAGMA foreign_key_check") as cursor:
                            broken = list(await cursor.fetchall())
                        if broken:
                            raise DatabaseError(
                                f"migration {name} left {len(broken)} broken references"
                            )
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        await self._conn.rollback()
                    if is_damage(exc):
                        raise damaged(self.path, exc) from exc
                    raise DatabaseError(f"migration {name} failed: {exc}") from exc
                finally:
                    if rebuilds:
                        await self._conn.execute("PRAGMA foreign_keys = ON")
                log.info("applied migration %s", name)
                applied.append(version)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (including cancellation)."""
        async with self._lock:
            try:
                # Inside the try: a task cancelled while BEGIN is queued still has it run on
                # aiosqlite's thread, and must roll it back rather than leave it open.
                await self._conn.execute("BEGIN IMMEDIATE")
                yield Tx(self._conn)
            except BaseException:
                await self._conn.rollback()
                raise
            else:
                await self._conn.commit()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own implicit transaction; returns lastrowid."""
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return cursor.lastrowid or 0

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._lock, self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> None:
        """One trivial statement: the database answers (health checks)."""
        await self.fetchval("SELECT 1")

    async def integrity_check(self) -> str:
        return str(await self.fetchval("PRAGMA integrity_check"))

    async def quick_check(self) -> None:
        """`PRAGMA quick_check` (the cheaper integrity check); `DatabaseDamaged` unless ok.

        Run at start-up: a truncated file can open and migrate fine and fail only later, at
        whichever query first reads a missing page.
        """
        try:
            rows = await self.fetchall("PRAGMA quick_check")
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise damaged(self.path, exc) from exc
            raise
        problems = [str(r[0]) for r in rows]
        if problems != ["ok"]:
            raise damaged(self.path, " ".join(problems[0].split()))

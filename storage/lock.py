"""One running bot per database file: an OS advisory lock held for the life of the process.

Why a lock, and why this kind
-----------------------------
Two `visitbot run` processes on one `DATABASE_PATH` would both deliver the outbox (start-up
recovery re-queues deliveries that were in flight, because after a crash nobody owns them) and
both poll Telegram for updates. So the process that starts second must refuse to.

`fcntl.flock` on `<DATABASE_PATH>.lock` is taken before migrations and recovery and held until
the process exits. The operating system releases it when the process dies in any way, SIGKILL
and power loss included, so a crashed bot never leaves a stale lock that blocks its restart
(unlike a PID file). The file itself is never deleted: deleting it while another process waits
to lock it would let two processes hold locks on two different files. Its content (the PID of
the holder) is only for the operator's information.

Read-only commands (`visitbot db backup`, `visitbot db check`) do not take the lock: a backup
is designed to run while the bot does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_SUFFIX = ".lock"


class AlreadyRunning(RuntimeError):
    """Another process holds the database's lock; the message says which file and process."""


def lock_path(database: Path) -> Path:
    """`data/visitbot.db` -> `data/visitbot.db.lock`, next to the database it protects."""
    return database.with_name(database.name + LOCK_SUFFIX)


class DatabaseLock:
    """The exclusive lock of one database file. `acquire()` once; the OS releases it at exit."""

    def __init__(self, database: Path) -> None:
        self.database = Path(database)
        self.path = lock_path(self.database)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DatabaseLock:
        """Take the lock without waiting; `AlreadyRunning` when another process holds it."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise AlreadyRunning(
                f"another visitbot is already running on {self.database}{who}; "
                f"stop it first (lock file {self.path})"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up early (tests; the process's exit does the same)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        if text.isdigit():
            return text
    return ""

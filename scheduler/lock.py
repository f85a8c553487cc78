"""One daemon per database.

Two daemons on one database would poll every source twice and race each other
to the outbox. `run` (and `run --once`) therefore takes a lock for the
lifetime of the process:

- SQLite: an OS file lock (`flock`) on `<database>.lock` next to the database
  file. The kernel drops it when the process dies, however it dies, so a
  crash never leaves a stale lock behind. The file holds the holder's pid,
  only to name it in the refusal.
- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a dedicated
  connection kept open for the process lifetime; the server drops it when the
  connection ends. The holder's pid travels in the connection's
  `application_name`, so the refusal can name it. A connection can drop
  under a running daemon (a server restart, a network blip, an idle-session
  timeout), and the lock with it: the daemon checks the session every minute
  (`watch_lock`) and takes the lock again; if another newswatch took it in
  the meantime, this one stops rather than run as a second daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from newswatch.errors import NewswatchError, StorageError
from newswatch.storage import safe_url

log = logging.getLogger(__name__)

# pg_try_advisory_lock(int4, int4): a fixed class id for newswatch ("nw" + 1)
# and 1 for "the daemon"; other applications sharing the server pick others.
PG_LOCK_CLASS = 0x6E7701
PG_LOCK_OBJECT = 1
APPLICATION_NAME = "newswatch daemon pid {pid}"
LOCK_CHECK_EVERY = 60.0  # seconds between checks that the lock is still ours


class LockHeld(NewswatchError):
    """Another newswatch process already runs against this database."""


class DaemonLock:
    """A held lock; `release()` (or process exit) lets it go."""

    def __init__(self, description: str, release: Any, check: Any = None) -> None:
        self.description = description
        self._release = release
        self._check = check

    def check(self) -> bool:
        """Make sure the lock is still held, taking it again if its session was lost.

        True when it had to be taken again. Raises LockHeld when another process
        took it meanwhile, StorageError when the database cannot be reached (the
        caller tries again later). Blocking: the daemon calls it in a thread.
        """
        if self._release is None or self._check is None:
            return False  # released, or a lock that cannot be lost (flock)
        return bool(self._check())

    def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release()


def acquire_daemon_lock(url: str, pid: int | None = None) -> DaemonLock:
    """Take the database's daemon lock or raise LockHeld naming the holder."""
    pid = os.getpid() if pid is None else pid
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            return DaemonLock("in-memory database (no lock needed)", None)
        return _lock_file(Path(database + ".lock"), pid)
    return _lock_postgres(url, pid)


# --- SQLite: flock -------------------------------------------------------------


def _lock_file(path: Path, pid: int) -> DaemonLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise LockHeld(
            f"another newswatch (pid {holder or 'unknown'}) is already running against this "
            f"database (lock {path}); stop it first, or point this one at another database"
        ) from None
    # The pid is written only after the lock is ours: a reader that sees a pid
    # sees the holder's.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)

    def release() -> None:
        # The file stays: removing it would let a third process lock a new
        # inode while a second one still waits on the old one.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    log.debug("daemon lock %s taken (pid %d)", path, pid)
    return DaemonLock(str(path), release)


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode("ascii", "replace")
    except OSError:
        return None
    match = re.match(r"\s*(\d+)", raw)
    return int(match.group(1)) if match else None


# --- PostgreSQL: advisory lock ----------------------------------------------------


def _lock_postgres(url: str, pid: int) -> DaemonLock:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Its own engine with one connection: the lock lives as long as that
    # session, so it must never go back to a pool that might close it.
    engine = create_engine(
        parsed,
        pool_size=1,
        max_overflow=0,
        connect_args={"application_name": APPLICATION_NAME.format(pid=pid)},
    )
    try:
        conn = _try_lock(engine, url)
    except (LockHeld, StorageError):
        engine.dispose()
        raise
    held: dict[str, Any] = {"conn": conn}  # None while the lock is lost and not yet back

    def check() -> bool:
        if held["conn"] is not None:
            try:
                held["conn"].execute(text("SELECT 1"))
                held["conn"].commit()
                return False
            except DBAPIError as exc:
                log.warning("the daemon lock's database session was lost (%s)", exc.orig)
            held["conn"].close()
            held["conn"] = None
        held["conn"] = _try_lock(engine, url)
        log.warning("daemon lock taken again on %s", safe_url(url))
        return True

    def release() -> None:
        conn = held["conn"]
        try:
            if conn is not None:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:c, :o)"),
                    {"c": PG_LOCK_CLASS, "o": PG_LOCK_OBJECT},
                )
                conn.commit()
        except DBAPIError as exc:
            # The connection is gone, and with it the lock: nothing left to free.
            log.debug("advisory unlock failed (%s); the session's end released it", exc)
        finally:
            if conn is not None:
                conn.close()
            engine.dispose()

    return DaemonLock(f"advisory lock on {safe_url(url)}", release, check)


def _try_lock(engine: Any, url: str) -> Any:
    """A new session holding the advisory lock; LockHeld naming the holder if taken."""
    try:
        conn = engine.connect()
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": PG_LOCK_CLASS, "o": PG_LOCK_OBJECT}
        ).scalar()
        conn.commit()
    except OperationalError as exc:
        raise StorageError(f"cannot open database {safe_url(url)}: {exc.orig}") from exc
    if not got:
        holder = _pg_holder(conn)
        conn.close()
        raise LockHeld(
            f"another newswatch ({holder}) is already running against {safe_url(url)}; "
            "stop it first, or point this one at another database"
        )
    return conn


async def watch_lock(
    lock: DaemonLock, stop: asyncio.Event, every: float = LOCK_CHECK_EVERY
) -> bool:
    """Check the lock every `every` seconds until `stop` is set.

    Returns True (after setting `stop`) when another process took the lock: two
    daemons must not run against one database, and this one is the newcomer's
    duplicate now. A database that cannot be reached is tried again later.
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
            return False
        try:
            await asyncio.to_thread(lock.check)
        except LockHeld as exc:
            log.error("daemon lock lost to another process, stopping: %s", exc)
            stop.set()
            return True
        except StorageError as exc:
            log.warning("cannot check the daemon lock now, trying again later: %s", exc)


def _pg_holder(conn: Any) -> str:
    row = conn.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :c AND l.objid = :o AND l.objsubid = 2"
        ),
        {"c": PG_LOCK_CLASS, "o": PG_LOCK_OBJECT},
    ).first()
    if row is None:
        return "pid unknown"
    match = re.search(r"pid (\d+)", row.application_name or "")
    where = f" on {row.client_addr}" if row.client_addr else ""
    if match:
        return f"pid {match.group(1)}{where}"
    return f"server backend pid {row.pid}{where}"

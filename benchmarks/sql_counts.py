"""The ledger's SQL statements and database round trips in one process, counted with SQLAlchemy's events.

`python -m benchmarks.sql_counts FILE SCRIPT` runs SCRIPT (benchmarks/throughput.py gives it
worker.py) as `__main__` with hooks on every engine of the process; on SIGUSR1 the process writes
its counts so far to FILE as JSON, which the benchmark reads before and after each half.

What is counted, per database call the process makes:
  * statements: every statement sent, SQLAlchemy's own and the store's prepared ones
    (`before_cursor_execute`); an executemany counts once (psycopg sends its rows in one pipeline);
  * begins: the BEGIN a driver sends before a transaction's first statement (psycopg, and the
    sqlite3 module before a write), read from the connection's transaction status;
  * commits and rollbacks: those sent on a connection inside a transaction (drivers send nothing
    for an idle one), explicit or the pool's rollback when a connection is returned;
  * prepares (PostgreSQL): psycopg's server-side PREPARE of a statement it has run often enough on a
    connection, a round trip of its own, and the DEALLOCATE ALL that follows a ROLLBACK;
  * pipelined (PostgreSQL): statements sent in a pipeline behind its first (the store's
    `reads_ahead`), which share that one's round trip;
  * round_trips: all of these together, less the pipelined. On SQLite they are calls into the
    library, not trips.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

COUNTS = {"statements": 0, "begins": 0, "commits": 0, "rollbacks": 0, "prepares": 0, "pipelined": 0}

# psycopg pipelines whose first statement has been counted (it carries the pipeline's round trip).
_PIPELINES: weakref.WeakSet[Any] = weakref.WeakSet()


def _in_transaction(dbapi_conn: Any) -> bool:
    """Whether the driver connection holds an open transaction (a COMMIT or ROLLBACK would be sent)."""
    info = getattr(dbapi_conn, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return int(info.transaction_status) != 0  # IDLE
    return bool(getattr(dbapi_conn, "in_transaction", False))  # sqlite3


def _prepared_count(dbapi_conn: Any) -> int:
    """How many statements psycopg has prepared on this connection so far (0 on SQLite)."""
    manager = getattr(dbapi_conn, "_prepared", None)
    return int(getattr(manager, "_prepared_idx", 0))


def _holds_prepared(dbapi_conn: Any) -> bool:
    manager = getattr(dbapi_conn, "_prepared", None)
    return bool(getattr(manager, "_names", None))


def _driver(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def _before_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    COUNTS["statements"] += 1
    dbapi_conn = _driver(conn)
    pipeline = getattr(dbapi_conn, "_pipeline", None)
    if pipeline is not None:
        if pipeline in _PIPELINES:
            COUNTS["pipelined"] += 1
        _PIPELINES.add(pipeline)
        return  # a BEGIN or PREPARE goes in the pipeline too
    if _in_transaction(dbapi_conn):
        return
    if hasattr(dbapi_conn, "info"):  # psycopg: BEGIN unless the connection autocommits
        COUNTS["begins"] += 0 if dbapi_conn.autocommit else 1
    elif statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE", "REPLAC"):  # sqlite3's implicit BEGIN
        COUNTS["begins"] += 1
    conn.info["prepared_before"] = _prepared_count(dbapi_conn)


def _after_execute(conn: Connection, *_args: Any) -> None:
    dbapi_conn = _driver(conn)
    before = conn.info.pop("prepared_before", None)
    if before is not None:
        COUNTS["prepares"] += max(0, _prepared_count(dbapi_conn) - before)


def _ended(dbapi_conn: Any, kind: str) -> None:
    if not _in_transaction(dbapi_conn):
        return
    COUNTS[kind] += 1
    if kind == "rollbacks" and _holds_prepared(dbapi_conn):
        COUNTS["prepares"] += 1  # psycopg's DEALLOCATE ALL: a ROLLBACK forgets what was prepared


def install() -> None:
    """Count on every engine this process creates (and the pools behind them)."""
    sa_event.listen(Engine, "before_cursor_execute", _before_execute)
    sa_event.listen(Engine, "after_cursor_execute", _after_execute)
    sa_event.listen(Engine, "commit", lambda conn: _ended(_driver(conn), "commits"))
    sa_event.listen(Engine, "rollback", lambda conn: _ended(_driver(conn), "rollbacks"))
    sa_event.listen(
        Pool,
        "reset",
        lambda dbapi_conn, _record, state: None if state.transaction_was_reset else _ended(dbapi_conn, "rollbacks"),
    )


def snapshot() -> dict[str, int]:
    """The counts so far, with round trips (every call the process made to its database)."""
    trips = sum(COUNTS.values()) - 2 * COUNTS["pipelined"]
    return {**COUNTS, "round_trips": trips}


def write_on_signal(path: Path) -> None:
    """Write `snapshot()` to `path` whenever the process receives SIGUSR1 (whole, then renamed in place)."""

    def write(_signum: int, _frame: Any) -> None:
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(snapshot()))
        partial.replace(path)

    signal.signal(signal.SIGUSR1, write)


def read_counts(pid: int, path: Path, timeout: float = 10.0) -> dict[str, int]:
    """Ask process `pid` for its counts (SIGUSR1) and read them once it has written them."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            counts: dict[str, int] = json.loads(path.read_text())
            return counts
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} wrote no SQL counts to {path}")


if __name__ == "__main__":
    counts_path, script = Path(sys.argv[1]), sys.argv[2]
    install()
    write_on_signal(counts_path)
    sys.argv = [script, *sys.argv[3:]]
    runpy.run_path(script, run_name="__main__")

"""Schema migrations (Alembic), configured from code: there is no alembic.ini.

`upgrade` brings a database to the newest revision ("head"). Workers, ingress and the CLI may
start together against one database, so it runs under a database lock (a PostgreSQL advisory
lock, SQLite's write lock) and re-reads the revision once it holds it. A database created before
migrations existed (tables present, no `alembic_version`) is stamped as the baseline first, so
its tables and rows are kept.

New revisions are written by `ratchet db revision -m "what changed"` (see `new_revision`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import Engine

from ratchet.errors import Conflict

SCRIPT_LOCATION = Path(__file__).parent
# The schema as it was when migrations were introduced (what `create_all` used to make).
BASELINE_REVISION = "c4f1a9e2b7d0"
# A table every pre-migration database has: its presence without `alembic_version` means "baseline".
_BASELINE_TABLE = "shops"
# Any constant shared by all Ratchet processes; pg_advisory_xact_lock takes a bigint key.
_POSTGRES_LOCK_KEY = 0x52415443484554  # "RATCHET"


class SchemaError(Conflict):
    """The database's schema cannot be brought to this version's head."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Date first, so `ls versions/` reads in the order revisions were written.
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    try:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    except CommandError as error:
        raise SchemaError(
            f"{error}; two migrations revise the same revision: set the newer one's down_revision to the other"
        ) from error
    assert head is not None, f"no migrations under {SCRIPT_LOCATION / 'versions'}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty or pre-migration database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    head = head_revision()
    if current_revision(engine) == head:
        return  # the common start: nothing to lock
    with _locked(engine) as connection:
        config = alembic_config(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        if current is None and inspect(connection).has_table(_BASELINE_TABLE):
            command.stamp(config, BASELINE_REVISION)
        try:
            command.upgrade(config, "head")
        except CommandError as error:
            raise SchemaError(
                f"the database is at schema revision {current}, which this version of Ratchet does not know "
                f"(head is {head}): run the Ratchet version that upgraded it ({error})"
            ) from error


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the database's migration lock; DDL inside it commits or rolls back whole."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})
        elif connection.dialect.name == "sqlite":
            # pysqlite would otherwise autocommit each DDL statement; IMMEDIATE takes the write
            # lock now, so a second process waits (busy_timeout) instead of migrating twice.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def new_revision(message: str) -> Path:
    """Write a migration for the difference between the tables and head; return its path.

    It is compared against a scratch SQLite database upgraded to head, so no developer database
    (and no server) is needed, and the result is written in batch mode, which works on both.
    """
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            upgrade(engine)
            with engine.begin() as connection:
                config = alembic_config(connection)
                # Generated code in the tree's style, so it passes the lint gate as written.
                config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
                for hook, options in (("ruff_fix", "check --fix"), ("ruff_format", "format")):
                    config.set_section_option("post_write_hooks", f"{hook}.type", "module")
                    config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
                    config.set_section_option(
                        "post_write_hooks", f"{hook}.options", f"{options} REVISION_SCRIPT_FILENAME"
                    )
                script = command.revision(config, message, autogenerate=True)
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)

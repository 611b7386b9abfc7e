"""Opening a workspace's metadata database, migrated to the current schema.

SQLite by default; PostgreSQL when the workspace names one (``database``). Either way one
transaction writes at a time (``write``): SQLite's transactions begin IMMEDIATE,
PostgreSQL's writing transactions take one transaction-level advisory lock first, so a
read-then-write (the next id, a run slot, a lock) never races and two transactions never
deadlock; PostgreSQL's reads take no lock. The current revision is checked
cheaply first; Alembic (slow to import) runs only when the database is new or older than
this kiln.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text

from kiln.errors import KilnError
from kiln.workspace.local.database import is_postgres

HEAD = "0011"
_MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
_WRITER_LOCK = 0x6B696C6E  # the advisory lock every PostgreSQL transaction takes ("kiln")


def current_revision(path: str) -> str | None:
    """The revision of a SQLite database file (None: new or not migrated)."""
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(path, timeout=30)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()


def open_engine(url: str) -> Engine:
    """The engine of a workspace database URL (``sqlite:///...`` or ``postgresql://...``)."""
    if is_postgres(url):
        return _postgres(url)
    path = url.removeprefix("sqlite:///")
    engine = create_engine(url, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_con, _record):  # type: ignore[no-untyped-def]
        # WAL: readers never block the writer; a busy timeout instead of "database is
        # locked" when two kiln processes write at once. Transactions begin IMMEDIATE so
        # that a read-then-write cannot deadlock with another writer.
        dbapi_con.isolation_level = None
        dbapi_con.execute("PRAGMA journal_mode=WAL")
        dbapi_con.execute("PRAGMA busy_timeout=30000")
        dbapi_con.execute("PRAGMA synchronous=NORMAL")
        dbapi_con.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    if current_revision(path) != HEAD:
        migrate(engine)
    return engine


def _postgres(url: str) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise KilnError("PostgreSQL metadata needs the psycopg package",
                        detail="pip install 'kiln[postgres]'") from None
    driver = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(driver, future=True, pool_pre_ping=True, pool_size=8,
                           max_overflow=16)

    try:
        with engine.connect() as c:
            has = c.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            revision = c.execute(text("SELECT version_num FROM alembic_version")).scalar() \
                if has else None
    except Exception as e:  # noqa: BLE001 - psycopg/SQLAlchemy: cannot connect
        raise KilnError(f"cannot open the workspace database {_safe(url)}: "
                        f"{str(e).splitlines()[0]}") from None
    if revision != HEAD:
        migrate(engine)
    return engine


@contextlib.contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A transaction that may read and then write: one at a time per database."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK})")
        yield conn


def dump(obj: object) -> str:
    """A JSON document as the metadata keeps it: keys sorted, no spaces (equal documents
    are equal text)."""
    import json

    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _safe(url: str) -> str:
    """A database URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("://", 1)[-1]:
        return url
    scheme, _, creds = head.partition("://")
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{tail}"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the current schema unless told)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    with write(engine) as conn:  # two processes opening a new database: one migrates
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

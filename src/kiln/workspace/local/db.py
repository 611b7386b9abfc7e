"""Opening a workspace's metadata database, migrated to the current schema.

The current revision is checked with the standard library first; Alembic (slow to
import) runs only when the database is new or older than this kiln.
"""

from __future__ import annotations

import os
import sqlite3

from sqlalchemy import Engine, create_engine, event

HEAD = "0007"
_MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def current_revision(path: str) -> str | None:
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


def open_engine(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}", future=True)

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


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the current schema unless told)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

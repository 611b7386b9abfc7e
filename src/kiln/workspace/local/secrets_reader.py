"""Reading one secret of an embedded workspace from a task process.

Task processes stay light (no SQLAlchemy): the standard library's sqlite3 reads the
metadata database directly, read-only; a PostgreSQL workspace is read with psycopg.
"""

from __future__ import annotations

import sqlite3

from kiln.workspace.local import database


def read_secret(workspace_dir: str, scope: str, key: str) -> str | None:
    rows = _query(workspace_dir, "SELECT value FROM secrets WHERE scope = ? AND key = ? "
                  "AND key != ''", (scope, key))
    return rows[0][0] if rows else None


def list_secret_keys(workspace_dir: str, scope: str) -> list[str] | None:
    """The keys of a scope, or None when there is no such scope."""
    rows = _query(workspace_dir, "SELECT key FROM secrets WHERE scope = ? ORDER BY key", (scope,))
    return None if not rows else [r[0] for r in rows if r[0]]


def list_scopes(workspace_dir: str) -> list[str]:
    return [r[0] for r in _query(workspace_dir,
                                 "SELECT DISTINCT scope FROM secrets ORDER BY scope", ())]


def _query(workspace_dir: str, sql: str, args: tuple[str, ...]) -> list[tuple[str, ...]]:
    url = database.url_of(workspace_dir)
    if database.is_postgres(url):
        import psycopg

        with psycopg.connect("postgresql://" + url.split("://", 1)[1]) as pg:
            return [tuple(r) for r in pg.execute(sql.replace("?", "%s"), args).fetchall()]
    db = url.removeprefix("sqlite:///")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()

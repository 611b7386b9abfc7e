"""Reading a workspace's metadata from a task process without SQLAlchemy: the standard
library's sqlite3 (read-only), or psycopg for a PostgreSQL workspace. Only what task
processes need: secrets (``secrets_reader``) and whether the workspace has admins (so
enforces Unity Catalog privileges: its Spark compute is then per user).
"""

from __future__ import annotations

import sqlite3

from kiln.workspace.local import database


def has_admins(workspace_dir: str) -> bool:
    return bool(query(workspace_dir, "SELECT 1 FROM group_members WHERE group_name = ? "
                      "LIMIT 1", ("admins",)))


def query(workspace_dir: str, sql: str, args: tuple[str, ...]) -> list[tuple[str, ...]]:
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

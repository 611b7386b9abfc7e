"""Reading one secret of an embedded workspace from a task process.

Task processes stay light (no SQLAlchemy): the standard library's sqlite3 reads the
metadata database directly, read-only.
"""

from __future__ import annotations

import os
import sqlite3


def read_secret(workspace_dir: str, scope: str, key: str) -> str | None:
    db = os.path.join(workspace_dir, "metadata.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute("SELECT value FROM secrets WHERE scope = ? AND key = ? AND key != ''",
                          (scope, key)).fetchone()
    finally:
        con.close()
    return None if row is None else row[0]


def list_secret_keys(workspace_dir: str, scope: str) -> list[str] | None:
    db = os.path.join(workspace_dir, "metadata.db")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT key FROM secrets WHERE scope = ? ORDER BY key", (scope,)).fetchall()
        scopes = [r[0] for r in con.execute("SELECT DISTINCT scope FROM secrets ORDER BY scope")]
    finally:
        con.close()
    if scope == "*":
        return scopes
    return None if not rows else [r[0] for r in rows if r[0]]

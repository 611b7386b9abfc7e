"""Reading one secret of an embedded workspace from a task process.

Task processes stay light (no SQLAlchemy): ``light`` reads the metadata database.
"""

from __future__ import annotations

from kiln.workspace.local.light import query as _query


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

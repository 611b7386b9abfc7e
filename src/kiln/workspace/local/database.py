"""Where an embedded workspace keeps its metadata: ``metadata.db`` (SQLite) in its
directory, or the PostgreSQL database named in its ``database.url`` file (written when the
workspace is made with ``kiln server --db postgresql://...``). Pure, stdlib only: task
processes use it without SQLAlchemy.
"""

from __future__ import annotations

import os

SQLITE_FILE = "metadata.db"
URL_FILE = "database.url"


def url_of(directory: str) -> str:
    """The workspace's database URL."""
    path = os.path.join(directory, URL_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return "sqlite:///" + os.path.join(directory, SQLITE_FILE)


def exists(directory: str) -> bool:
    """Whether a workspace was made in ``directory``."""
    return any(os.path.exists(os.path.join(directory, f)) for f in (SQLITE_FILE, URL_FILE))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def record(directory: str, url: str) -> None:
    """Make ``directory`` a workspace whose metadata lives at ``url`` (readable only by
    its owner: the URL may hold a password)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, URL_FILE)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(url + "\n")
    os.replace(path + ".tmp", path)

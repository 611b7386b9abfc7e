"""The Files API (``/api/2.0/fs/...``) for volume paths, in Databricks' shapes: a file's
bytes go in (PUT, ``application/octet-stream``) and out (GET) as they are; directories
list, are made and deleted. Every path is under ``/Volumes/<catalog>/<schema>/<volume>``
of a volume that exists, reading needs READ_VOLUME and writing WRITE_VOLUME on it, and
``.`` or ``..`` segments are refused."""

from __future__ import annotations

from typing import Any, Callable

from kiln.catalog.tables import Catalog
from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.server.http import Request, Router
from kiln.workspace import Workspace

FS = "/api/2.0/fs"
PATH = r"(?P<path>/Volumes/.*)"


def add_routes(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    def checked(req: Request, write: bool) -> tuple[Workspace, str]:
        ws, path = ws_of(req), req.params["path"].rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise KilnError(f"path must not contain '.' or '..': {path}")
        if len(parts) < 4:
            raise KilnError(f"{path} is not in a volume: /Volumes/<catalog>/<schema>/<volume>/...")
        volume = ".".join(parts[1:4]).lower()
        try:
            ws.get("volumes", volume)
        except NotFound:
            raise NotFound(f"Volume '{volume}' does not exist.") from None
        Catalog(ws).require_path(path, write)
        return ws, path

    def put_file(req: Request) -> dict[str, Any]:
        ws, path = checked(req, True)
        kind = ws.path_kind(path)
        if kind == "DIRECTORY":
            raise AlreadyExists(f"{path} is a directory")
        if kind == "FILE" and not req.arg("overwrite", False, bool):
            raise AlreadyExists(f"The file being created already exists: {path}")
        ws.write(path, req.raw)
        return {}

    def get_file(req: Request) -> bytes:
        ws, path = checked(req, False)
        if ws.path_kind(path) != "FILE":
            raise NotFound(f"The file being accessed is not found: {path}")
        return ws.read(path)

    def delete_file(req: Request) -> dict[str, Any]:
        ws, path = checked(req, True)
        if ws.path_kind(path) != "FILE":
            raise NotFound(f"The file being accessed is not found: {path}")
        ws.delete_path(path)
        return {}

    def list_dir(req: Request) -> dict[str, Any]:
        ws, path = checked(req, False)
        if ws.path_kind(path) != "DIRECTORY":
            raise NotFound(f"The directory being accessed is not found: {path}")
        out = []
        for name, is_dir in ws.list_dir(path):
            entry: dict[str, Any] = {"path": f"{path}/{name}", "name": name,
                                     "is_directory": is_dir}
            if not is_dir:
                entry["file_size"] = len(ws.read(f"{path}/{name}"))
            out.append(entry)
        return {"contents": out}

    def delete_dir(req: Request) -> dict[str, Any]:
        ws, path = checked(req, True)
        if ws.path_kind(path) != "DIRECTORY":
            raise NotFound(f"The directory being accessed is not found: {path}")
        if ws.list_dir(path):
            raise KilnError(f"The directory being deleted is not empty: {path}")
        ws.delete_path(path)
        return {}

    r.add("PUT", FS + "/files" + PATH, put_file)
    r.add("GET", FS + "/files" + PATH, get_file)
    r.add("DELETE", FS + "/files" + PATH, delete_file)
    r.add("GET", FS + "/directories" + PATH, list_dir)
    r.add("PUT", FS + "/directories" + PATH, lambda req: checked(req, True)[0].mkdirs(
        checked(req, True)[1]))
    r.add("DELETE", FS + "/directories" + PATH, delete_dir)

"""The serving runtime of one workspace: its endpoints, loaded and kept up to date.

A watcher thread compares each endpoint's deployed config, and the versions its aliases
point at, with what is loaded. On a change it loads the new versions next to the old
ones, health-checks them, and only then swaps the endpoint's routing table in one
assignment: requests already running finish on the old versions, new ones go to the new.
A version that fails to load leaves the old config serving, and the endpoint's state says
why (``kiln serving-endpoints get``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError, NotFound
from kiln.serving import config as cfg
from kiln.serving.capture import CaptureWriter
from kiln.serving.entities import Batcher, LoadedEntity, load
from kiln.workspace import Workspace

log = logging.getLogger("kiln.serving")
KIND = "model_serving_endpoints"


class Router:
    """Picks a served entity per request by the route weights; a ``client_request_id``
    always lands on the same entity (while the routes stay the same)."""

    def __init__(self, routes: tuple[tuple[str, int], ...]) -> None:
        self.names = [n for n, p in routes if p > 0]
        self.bounds = []
        total = 0
        for _, p in ((n, p) for n, p in routes if p > 0):
            total += p
            self.bounds.append(total)

    def pick(self, sticky_key: str | None = None) -> str:
        if len(self.names) == 1:
            return self.names[0]
        x = (zlib.crc32(sticky_key.encode()) % 10000) / 100 if sticky_key else \
            random.random() * 100
        for name, bound in zip(self.names, self.bounds):
            if x < bound:
                return name
        return self.names[-1]


class RateLimiter:
    """Calls per minute per endpoint and per user, in fixed one-minute windows."""

    def __init__(self, limits: tuple[cfg.RateLimitSpec, ...]) -> None:
        self.limits = limits
        self.windows: dict[tuple[str, str], tuple[int, int]] = {}

    def allow(self, user: str) -> bool:
        if not self.limits:
            return True
        minute = int(time.time() // 60)
        keys = [(lim, ("endpoint", "") if lim.key == "endpoint" else ("user", user))
                for lim in self.limits]
        for lim, key in keys:
            start, count = self.windows.get(key, (minute, 0))
            if start == minute and count >= lim.calls:
                return False
        for _, key in keys:
            start, count = self.windows.get(key, (minute, 0))
            self.windows[key] = (minute, count + 1 if start == minute else 1)
        return True


@dataclass
class Endpoint:
    """One endpoint's active config: immutable once serving (a change makes a new one)."""

    spec: cfg.EndpointSpec
    entities: dict[str, LoadedEntity]
    router: Router
    capture: CaptureWriter | None
    limiter: RateLimiter
    batchers: dict[str, Batcher] = field(default_factory=dict)

    def versions(self) -> dict[str, str]:
        return {n: e.version for n, e in self.entities.items()}


class ServingRuntime:
    def __init__(self, ws: Workspace, only: list[str] | None = None, poll_s: float = 0.5,
                 max_wait_s: float = 0.001, max_batch_rows: int = 4096,
                 metrics: Any = None) -> None:
        from kiln.models.registry import Registry

        self.ws = ws
        self.only = only
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s
        self.max_batch_rows = max_batch_rows
        self.metrics = metrics
        self.registry = Registry(ws)
        self.endpoints: dict[str, Endpoint] = {}
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="predict")
        self._fingerprints: dict[str, str] = {}
        self.writer: Any = None  # the inference-table writer process, once needed
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.ws_lock = threading.Lock()  # the watcher's registry lookups, one at a time

    # life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.sync()
        if self.only:
            missing = [n for n in self.only if n not in self.endpoints and
                       not self._exists(n)]
            if missing:
                raise NotFound(f"serving endpoint {missing[0]} does not exist in workspace "
                                f"{self.ws.name}")
        self._watcher = threading.Thread(target=self._watch, name="serving-watch",
                                         daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching and write every captured record (graceful shutdown)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        for ep in self.endpoints.values():
            if ep.capture is not None:
                ep.capture.close()
        if self.writer is not None:
            self.writer.close()
        self.pool.shutdown(wait=True)

    def ready(self) -> bool:
        return all(n in self.endpoints for n in self._names())

    def endpoint(self, name: str) -> Endpoint | None:
        return self.endpoints.get(name)

    # keeping up with the workspace ---------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - keep serving what is loaded
                log.exception("checking endpoint configs failed")

    def _names(self) -> list[str]:
        with self.ws_lock:
            names = [o.id for o in self.ws.list(KIND)]
        return [n for n in names if self.only is None or n in self.only]

    def _exists(self, name: str) -> bool:
        return name in self._names()

    def sync(self) -> None:
        with self.ws_lock:
            objects = {o.id: o for o in self.ws.list(KIND)
                       if self.only is None or o.id in self.only}
        for name in list(self.endpoints):
            if name not in objects:  # deleted: stop serving it
                ep = self.endpoints.pop(name)
                self._fingerprints.pop(name, None)
                if ep.capture is not None:
                    ep.capture.close()
        for name, obj in objects.items():
            try:
                spec = cfg.parse(name, obj.settings, obj.creator)
                wanted = self._resolve(spec)
            except KilnError as e:
                self._fail(name, str(e))
                continue
            fingerprint = json.dumps([obj.updated_at, wanted], sort_keys=True)
            if self._fingerprints.get(name) == fingerprint:
                continue
            self._apply(name, spec, wanted, fingerprint)

    def _resolve(self, spec: cfg.EndpointSpec) -> dict[str, str]:
        """The version each served entity should serve now (aliases looked up)."""
        out = {}
        with self.ws_lock:
            for e in spec.entities:
                if e.version is not None:
                    out[e.name] = e.version
                    continue
                mv = self.registry.by_alias(e.model, str(e.alias))
                if mv is None:
                    raise KilnError(f"serving endpoint {spec.name}: {e.model} has no version "
                                    f"with alias @{e.alias}")
                out[e.name] = str(mv.version)
        return out

    def _apply(self, name: str, spec: cfg.EndpointSpec, wanted: dict[str, str],
               fingerprint: str) -> None:
        old = self.endpoints.get(name)
        self._set_state(name, spec, wanted, "IN_PROGRESS", "")
        try:
            entities = {}
            for e in spec.entities:
                have = old.entities.get(e.name) if old else None
                if have is not None and have.version == wanted[e.name] and have.spec == e:
                    entities[e.name] = have
                else:
                    log.info("endpoint %s: loading %s version %s", name, e.model,
                             wanted[e.name])
                    entities[e.name] = load(e, wanted[e.name])
                self._may_read_features(spec, entities[e.name])
        except KilnError as e:
            self._fingerprints[name] = fingerprint  # do not retry the same broken config
            self._fail(name, str(e))
            return
        capture = old.capture if old and old.capture and spec.capture == old.capture.spec \
            else self._capture(spec)
        if old is not None and old.capture is not None and old.capture is not capture:
            old.capture.close()
        limiter = old.limiter if old and old.spec.rate_limits == spec.rate_limits else \
            RateLimiter(spec.rate_limits)
        self.endpoints[name] = Endpoint(spec, entities, Router(spec.routes), capture, limiter)
        self._fingerprints[name] = fingerprint
        self._set_state(name, spec, wanted, "NOT_UPDATING", "")
        log.info("endpoint %s: serving %s", name,
                 ", ".join(f"{n}={v}" for n, v in wanted.items()))

    def _may_read_features(self, spec: cfg.EndpointSpec, entity: Any) -> None:
        """An endpoint reads feature tables as its creator: SELECT on each, as in Unity
        Catalog (PermissionDenied, naming the table, fails the endpoint)."""
        if not entity.feature_tables or not spec.creator:
            return
        from kiln.catalog.grants import Grants

        with self.ws_lock:
            grants = Grants(self.ws.as_user(spec.creator))
            for table in entity.feature_tables:
                grants.require_on("table", table, "SELECT")

    def _capture(self, spec: cfg.EndpointSpec) -> CaptureWriter | None:
        if spec.capture is None:
            return None
        if self.writer is None:
            from kiln.serving.capture_process import WriterProcess

            self.writer = WriterProcess(self.ws.name, self.ws.local_root() or "",
                                        self.ws.current_user())
        writer, capture_spec = self.writer, spec.capture
        m = self.metrics
        capture = CaptureWriter(capture_spec, lambda packed: writer.send(capture_spec, packed),
                                lambda: writer.flush(capture_spec),
                                on_drop=m.capture_dropped(spec.name) if m else None,
                                on_quarantine=m.capture_quarantined(spec.name) if m else None)
        writer.results[capture_spec.payload_table] = capture.result
        return capture

    # state ---------------------------------------------------------------------------
    def _fail(self, name: str, message: str) -> None:
        log.error("endpoint %s: %s", name, message)
        ep = self.endpoints.get(name)
        self._write_state(name, {
            "name": name, "state": {"ready": "READY" if ep else "NOT_READY",
                                    "config_update": "UPDATE_FAILED"},
            "message": message,
            "served_entities": _served(ep.spec, ep.versions()) if ep else []})

    def _set_state(self, name: str, spec: cfg.EndpointSpec, wanted: dict[str, str],
                   update: str, message: str) -> None:
        ep = self.endpoints.get(name)
        serving = ep.versions() if ep else {}
        self._write_state(name, {
            "name": name,
            "state": {"ready": "READY" if ep else "NOT_READY", "config_update": update},
            "message": message,
            "served_entities": _served(ep.spec, serving) if ep else [],
            "pending_config": _served(spec, wanted) if update == "IN_PROGRESS" else None})

    def _write_state(self, name: str, doc: dict[str, Any]) -> None:
        doc["updated_at"] = int(time.time() * 1000)
        with self.ws_lock:
            self.ws.put_endpoint_state(name, doc)


def _served(spec: cfg.EndpointSpec, versions: dict[str, str]) -> list[dict[str, Any]]:
    routes = dict(spec.routes)
    return [{"name": e.name, "entity_name": e.model, "entity_version": versions.get(e.name),
             "entity_alias": e.alias, "traffic_percentage": routes.get(e.name, 0)}
            for e in spec.entities]

"""An endpoint's configuration as the serving runtime uses it, read from the deployed
``model_serving_endpoints`` settings (Databricks shapes), checked with located messages.

Served entities name a registered model and either a fixed ``entity_version`` or (kiln
extension) an ``entity_alias`` such as ``champion`` that the endpoint follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError

# Databricks workload sizes → how many predictions of one served entity run at once
WORKLOAD_CONCURRENCY = {"Small": 4, "Medium": 16, "Large": 64}


@dataclass(frozen=True)
class EntitySpec:
    name: str  # the served entity's name (routes refer to it)
    model: str  # registered model, catalog.schema.model
    version: str | None
    alias: str | None
    concurrency: int
    scale_to_zero: bool


@dataclass(frozen=True)
class RateLimitSpec:
    calls: int
    key: str  # user | endpoint


@dataclass(frozen=True)
class CaptureSpec:
    catalog: str
    schema: str
    prefix: str

    @property
    def payload_table(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.prefix}_payload"

    @property
    def unpacked_table(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.prefix}_payload_unpacked"

    @property
    def quarantine_table(self) -> str:
        """Unpacked rows whose columns could not be merged into the unpacked table."""
        return f"{self.catalog}.{self.schema}.{self.prefix}_payload_quarantine"


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    entities: tuple[EntitySpec, ...]
    routes: tuple[tuple[str, int], ...]  # (served entity name, percentage)
    capture: CaptureSpec | None
    rate_limits: tuple[RateLimitSpec, ...] = ()
    allowed: frozenset[str] = field(default_factory=frozenset)  # empty: any workspace user
    creator: str = ""


def parse(name: str, settings: dict[str, Any], creator: str = "") -> EndpointSpec:
    """The endpoint's spec; a KilnError naming the field when the config is unusable."""
    config = settings.get("config") or {}
    raw = config.get("served_entities") or [
        {"name": m.get("name"), "entity_name": m.get("model_name"),
         "entity_version": m.get("model_version"), "workload_size": m.get("workload_size"),
         "scale_to_zero_enabled": m.get("scale_to_zero_enabled")}
        for m in config.get("served_models") or []]
    if not raw:
        raise KilnError(f"serving endpoint {name}: config.served_entities is empty")
    entities = []
    for i, e in enumerate(raw):
        where = f"serving endpoint {name}: config.served_entities[{i}]"
        model = e.get("entity_name")
        if not model:
            raise KilnError(f"{where}.entity_name is required")
        version, alias = e.get("entity_version"), e.get("entity_alias")
        if bool(version) == bool(alias):
            raise KilnError(f"{where}: give exactly one of entity_version and entity_alias")
        size = e.get("workload_size") or "Small"
        if size not in WORKLOAD_CONCURRENCY:
            raise KilnError(f"{where}.workload_size must be one of "
                            f"{', '.join(WORKLOAD_CONCURRENCY)}, got {size!r}")
        short = str(model).split(".")[-1]
        entity_name = e.get("name") or f"{short}-{version or alias}"
        entities.append(EntitySpec(entity_name, str(model), str(version) if version else None,
                                   alias, WORKLOAD_CONCURRENCY[size],
                                   bool(e.get("scale_to_zero_enabled", False))))
    names = [e.name for e in entities]
    if len(set(names)) != len(names):
        raise KilnError(f"serving endpoint {name}: served entity names must be unique "
                        f"({', '.join(names)})")
    routes = _routes(name, config, names)
    return EndpointSpec(name, tuple(entities), routes, _capture(settings),
                        _rate_limits(settings), _allowed(settings), creator)


def _routes(name: str, config: dict[str, Any], names: list[str]) -> tuple[tuple[str, int], ...]:
    raw = (config.get("traffic_config") or {}).get("routes") or []
    if not raw:
        if len(names) > 1:
            raise KilnError(f"serving endpoint {name}: with {len(names)} served entities, "
                            "config.traffic_config.routes must say how traffic splits")
        return ((names[0], 100),)
    routes = []
    for i, r in enumerate(raw):
        target = r.get("served_entity_name") or r.get("served_model_name")
        if target not in names:
            raise KilnError(f"serving endpoint {name}: config.traffic_config.routes[{i}] "
                            f"names {target!r}, which is not a served entity "
                            f"({', '.join(names)})")
        pct = r.get("traffic_percentage")
        if not isinstance(pct, int) or not 0 <= pct <= 100:
            raise KilnError(f"serving endpoint {name}: config.traffic_config.routes[{i}]"
                            f".traffic_percentage must be an integer from 0 to 100")
        routes.append((str(target), pct))
    total = sum(p for _, p in routes)
    if total != 100:
        raise KilnError(f"serving endpoint {name}: config.traffic_config.routes add up to "
                        f"{total}%, not 100%")
    return tuple(routes)


def _capture(settings: dict[str, Any]) -> CaptureSpec | None:
    cfg = ((settings.get("ai_gateway") or {}).get("inference_table_config")
           or (settings.get("config") or {}).get("auto_capture_config"))
    if not cfg or cfg.get("enabled") is False:
        return None
    catalog, schema = cfg.get("catalog_name"), cfg.get("schema_name")
    if not catalog or not schema:
        raise KilnError(f"serving endpoint {settings.get('name')}: the inference table config "
                        "needs catalog_name and schema_name")
    prefix = cfg.get("table_name_prefix") or str(settings.get("name", "endpoint")).replace("-",
                                                                                          "_")
    return CaptureSpec(str(catalog), str(schema), str(prefix))


def _rate_limits(settings: dict[str, Any]) -> tuple[RateLimitSpec, ...]:
    raw = [*(settings.get("rate_limits") or []),
           *((settings.get("ai_gateway") or {}).get("rate_limits") or [])]
    out = []
    for r in raw:
        calls = r.get("calls")
        if calls is None:
            continue
        key = r.get("key") or "endpoint"
        if key not in ("user", "endpoint"):
            raise KilnError(f"serving endpoint {settings.get('name')}: rate limit key must be "
                            f"user or endpoint, got {key!r}")
        out.append(RateLimitSpec(int(calls), key))
    return tuple(out)


def _allowed(settings: dict[str, Any]) -> frozenset[str]:
    """Users who may query: those with CAN_QUERY or CAN_MANAGE in the permissions."""
    users = set()
    for p in settings.get("permissions") or []:
        if p.get("level") in ("CAN_QUERY", "CAN_MANAGE") and p.get("group_name") == "users":
            return frozenset()  # everyone may query
        if p.get("level") in ("CAN_QUERY", "CAN_MANAGE"):
            who = p.get("user_name") or p.get("service_principal_name") or p.get("group_name")
            if who:
                users.add(str(who))
    return frozenset(users)

"""``FeatureEngineeringClient``, ``FeatureLookup`` and ``TrainingSet`` as Databricks'
``databricks.feature_engineering`` has them, over kiln's catalog.

A feature table is a Delta table of the catalog whose registration also holds its primary
keys, its timeseries column, a description and tags (``kiln tables get`` shows them).
Arguments are keyword-only, as Databricks' client takes them. DataFrames may be pandas or
Spark; what comes back is of the kind that went in (Spark when nothing went in and a
Spark session is at hand, as in a task).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from kiln.catalog.names import parse_name
from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.features.pit import Lookup, join

FEATURE_TABLE = "feature_table"  # the registration's marker
_RESULT_TYPES = {"double": "float64", "float": "float32", "int": "int32", "long": "int64",
                 "string": "object", "boolean": "bool"}


CAPACITIES = ("CU_1", "CU_2", "CU_4", "CU_8")


@dataclass(frozen=True)
class OnlineStore:
    """What ``get_online_store`` answers (Databricks' ``DatabricksOnlineStore``)."""

    name: str
    capacity: str
    state: str
    creation_time: str


@dataclass(frozen=True)
class FeatureTable:
    name: str
    primary_keys: list[str]
    timeseries_keys: list[str]
    description: str | None
    tags: dict[str, str]
    features: list[str]

    @property
    def timestamp_keys(self) -> list[str]:  # the older client's name
        return self.timeseries_keys


class FeatureLookup:
    """Which features of a feature table a training set (or a model) looks up, by which of
    the DataFrame's columns."""

    def __init__(self, table_name: str, lookup_key: str | list[str], *,
                 feature_names: str | list[str] | None = None,
                 rename_outputs: dict[str, str] | None = None,
                 timestamp_lookup_key: str | None = None,
                 lookback_window: timedelta | None = None,
                 default_values: dict[str, Any] | None = None, **_: Any) -> None:
        self.table_name = table_name
        self.lookup_key = [lookup_key] if isinstance(lookup_key, str) else list(lookup_key)
        self.feature_names = ([feature_names] if isinstance(feature_names, str)
                              else list(feature_names) if feature_names is not None else None)
        self.rename_outputs = dict(rename_outputs or {})
        self.timestamp_lookup_key = timestamp_lookup_key
        self.lookback_window = lookback_window
        self.default_values = dict(default_values or {})


class FeatureFunction:
    """An on-demand feature: a catalog Python function of the row's columns (after the
    lookups), its parameters bound to columns by ``input_bindings``."""

    def __init__(self, *, udf_name: str, input_bindings: dict[str, str] | None = None,
                 output_name: str | None = None, **_: Any) -> None:
        self.udf_name = udf_name
        self.input_bindings = dict(input_bindings or {})
        self.output_name = output_name or udf_name.split(".")[-1]


def apply_functions(frame: pd.DataFrame, functions: list[dict[str, Any]],
                    get: Any) -> pd.DataFrame:
    """``frame`` with each function's output column (``get(name)``: its definition)."""
    from kiln.catalog.functions import compile_body

    out = frame
    for fn in functions:
        settings = get(fn["udf_name"])
        params = [p["name"] for p in settings["input_params"]]
        bound = {p: fn["input_bindings"].get(p, p) for p in params}
        missing = [c for c in bound.values() if c not in out.columns]
        if missing:
            raise KilnError(f"function {settings['full_name']} takes column {missing[0]!r}, "
                            "which the DataFrame does not have (bind its parameters with "
                            "input_bindings)")
        call = compile_body(settings)
        columns = [out[bound[p]].tolist() for p in params]
        try:
            values = [call(*args) for args in zip(*columns)] if params else \
                [call() for _ in range(len(out))]
        except Exception as e:  # noqa: BLE001 - the function's own code failed
            raise KilnError(f"function {settings['full_name']} failed: "
                            f"{type(e).__name__}: {e}") from None
        out = out.copy()
        out[fn["output_name"]] = pd.Series(values, index=out.index)
    return out


@dataclass
class TrainingSet:
    """The DataFrame with its features looked up (``load_df``), and what it was made of."""

    _df: pd.DataFrame
    feature_lookups: list[FeatureLookup]
    label: str | list[str] | None
    _spark: bool = False
    feature_spec: dict[str, Any] = field(default_factory=dict)
    lookups: list[Lookup] = field(default_factory=list)

    def load_df(self) -> Any:
        return _as_spark(self._df) if self._spark else self._df


class FeatureEngineeringClient:
    def __init__(self, *, model_registry_uri: str | None = None, **_: Any) -> None:
        from kiln.tables import _catalog

        self._catalog = _catalog()

    # feature tables --------------------------------------------------------------------
    def create_table(self, *, name: str, primary_keys: str | list[str], df: Any = None,
                     timeseries_column: str | None = None,
                     partition_columns: str | list[str] | None = None, schema: Any = None,
                     description: str | None = None, tags: dict[str, str] | None = None,
                     timestamp_keys: str | list[str] | None = None, **_: Any) -> FeatureTable:
        """A new feature table, from ``df``'s rows (or an empty one of ``schema``)."""
        full = str(parse_name(name))
        if self._catalog.table_info(full) is not None:
            raise AlreadyExists(f"feature table {full} already exists")
        keys = _names(primary_keys, "primary_keys")
        if timeseries_column is None and timestamp_keys:
            timeseries_column = _names(timestamp_keys, "timestamp_keys")[0]
        if timeseries_column is not None and timeseries_column not in keys:
            raise KilnError(f"feature table {full}: timeseries column {timeseries_column!r} "
                            f"must be one of the primary_keys ({', '.join(keys)}), as "
                            "Databricks requires")
        frame = _pandas(df) if df is not None else _empty(schema, full)
        wanted = keys + ([timeseries_column] if timeseries_column else [])
        missing = [k for k in wanted if k not in frame.columns]
        if missing:
            raise KilnError(f"primary key {missing[0]!r} of feature table {full} is not a "
                            f"column (columns: {', '.join(map(str, frame.columns))})")
        _no_duplicates(frame, keys, full)
        self._catalog.write(full, frame, mode="overwrite")
        self._catalog.annotate(full, {
            FEATURE_TABLE: True, "primary_keys": keys,
            "timeseries_column": timeseries_column, "description": description,
            "tags": dict(tags or {}),
            "partition_columns": _names(partition_columns, "partition_columns")
            if partition_columns else []})
        return self.get_table(name=full)

    def get_table(self, *, name: str, **_: Any) -> FeatureTable:
        full, info = self._feature_table(name)
        ts = info.get("timeseries_column")
        keys = list(info.get("primary_keys") or [])
        cols = [c["name"] for c in info.get("columns") or []]
        return FeatureTable(full, [k for k in keys if k != ts], [ts] if ts else [],
                            info.get("description"), dict(info.get("tags") or {}),
                            [c for c in cols if c not in keys])

    def write_table(self, *, name: str, df: Any, mode: str = "merge", **_: Any) -> None:
        """Upsert rows by primary key (``merge``) or replace them all (``overwrite``)."""
        full, info = self._feature_table(name)
        if mode not in ("merge", "overwrite"):
            raise KilnError(f"write_table mode must be merge or overwrite, not {mode!r}")
        frame = _pandas(df)
        keys = list(info.get("primary_keys") or [])
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise KilnError(f"the DataFrame has no column {missing[0]!r}, a primary key of "
                            f"feature table {full}")
        _no_duplicates(frame, keys, full)
        table_types = {c["name"]: c.get("type") for c in info.get("columns") or []}
        for k in keys:
            have = str(frame[k].dtype)
            want = table_types.get(k) or ""
            if _kind(have) != _kind(want):
                raise KilnError(f"primary key {k!r} is {have} in the DataFrame but {want} in "
                                f"feature table {full}")
        self._catalog.write(full, frame, mode=mode, keys=keys if mode == "merge" else None)
        if info.get("published"):  # the online store follows the table
            self._publish(full, info)

    # the online store --------------------------------------------------------------------
    def create_online_store(self, *, name: str, capacity: str, **_: Any) -> OnlineStore:
        """kiln has one embedded online store per workspace; this names it (as
        Databricks' Lakebase store is named) so that code written for Databricks runs."""
        from kiln.features import online

        if capacity not in CAPACITIES:
            raise KilnError(f"online store capacity must be one of {', '.join(CAPACITIES)}, "
                            f"not {capacity!r}")
        doc = online.add_store(self._catalog.online_root(), name, capacity)
        return OnlineStore(name, doc["capacity"], doc["state"], doc["creation_time"])

    def get_online_store(self, *, name: str) -> OnlineStore | None:
        from kiln.features import online

        doc = online.stores(self._catalog.online_root()).get(name)
        return None if doc is None else OnlineStore(name, doc["capacity"], doc["state"],
                                                    doc["creation_time"])

    def publish_table(self, *, online_store: Any = None, source_table_name: str | None = None,
                      online_table_name: str | None = None, name: str | None = None,
                      **_: Any) -> None:
        """Publish the feature table to kiln's online store (its latest row per key, looked
        up in memory by serving endpoints); ``write_table`` keeps it fresh from then on.
        ``name`` is the older clients' word for ``source_table_name``."""
        source = source_table_name or name
        if not source:
            raise KilnError("publish_table needs source_table_name, the feature table")
        full, info = self._feature_table(source)
        self._publish(full, info)
        online_name = str(parse_name(online_table_name)) if online_table_name else None
        if not info.get("published") or info.get("online_table") != online_name:
            self._catalog.annotate(full, {"published": True, "online_table": online_name})

    def _publish(self, full: str, info: dict[str, Any]) -> None:
        from kiln.features import online

        online.publish(self._catalog.online_root(), full, self._catalog.read(full),
                       list(info.get("primary_keys") or []), info.get("timeseries_column"))

    def read_table(self, *, name: str, **_: Any) -> Any:
        full, _info = self._feature_table(name)
        return _as_spark_if_any(self._catalog.read(full))

    def drop_table(self, *, name: str) -> None:
        """Drop a feature table, unless a registered model looks its features up there."""
        full, info = self._feature_table(name)
        users = [m for m in info.get("used_by") or [] if _registered(m)]
        if users:
            raise KilnError(f"feature table {full} is used by registered model "
                            f"{', '.join(users)}: delete the model first")
        self._catalog.drop(full)
        from kiln.features import online

        online.drop(self._catalog.online_root(), full)

    def set_feature_table_tag(self, *, name: str, key: str, value: str) -> None:
        full, info = self._feature_table(name)
        self._catalog.annotate(full, {"tags": {**(info.get("tags") or {}), key: value}})

    def delete_feature_table_tag(self, *, name: str, key: str) -> None:
        full, info = self._feature_table(name)
        tags = dict(info.get("tags") or {})
        if key not in tags:
            raise NotFound(f"feature table {full} has no tag {key!r}")
        del tags[key]
        self._catalog.annotate(full, {"tags": tags})

    # training sets ---------------------------------------------------------------------
    def create_training_set(self, *, df: Any,
                            feature_lookups: list[FeatureLookup | FeatureFunction],
                            label: str | list[str] | None,
                            exclude_columns: list[str] | None = None, **_: Any) -> TrainingSet:
        """``df`` with every lookup's features (point in time for timeseries tables)."""
        spark = not isinstance(df, pd.DataFrame)
        frame = _pandas(df)
        labels = [label] if isinstance(label, str) else list(label or [])
        for name in labels:
            if name not in frame.columns:
                raise KilnError(f"label {name!r} is not a column of the DataFrame")
        spec, resolved, functions = [], [], []
        for fl in feature_lookups:
            if isinstance(fl, FeatureFunction):
                functions.append({"udf_name": fl.udf_name, "input_bindings": fl.input_bindings,
                                  "output_name": fl.output_name})
                continue
            lookup = self._resolve(fl)
            resolved.append(lookup)
            frame = join(frame, self._catalog.read(lookup.table), lookup)
            spec.append({"table_name": lookup.table, "lookup_key": list(lookup.lookup_keys),
                         "features": dict(zip(lookup.features, lookup.outputs)),
                         "timestamp_lookup_key": lookup.timestamp_lookup_key})
        frame = apply_functions(frame, functions, self._function)
        dropped = [c for c in exclude_columns or [] if c in frame.columns]
        frame = frame.drop(columns=dropped)
        return TrainingSet(frame, list(feature_lookups), label, spark,
                           {"lookups": spec, "label": labels, "functions": functions}, resolved)

    # models that carry their features ------------------------------------------------
    def log_model(self, *, model: Any, artifact_path: str, flavor: Any,
                  training_set: TrainingSet, registered_model_name: str | None = None,
                  **kwargs: Any) -> Any:
        """Log ``model`` (of MLflow ``flavor``) with its feature spec, so that it can be
        given only the lookup keys: it looks its features up itself."""
        import os
        import tempfile

        import mlflow

        from kiln.features.model import SPEC_FILE, FeatureModel, spec_lookup

        labels = training_set.feature_spec["label"]
        spec = {"lookups": [spec_lookup(lk) for lk in training_set.lookups],
                "functions": training_set.feature_spec.get("functions") or [],
                "model_columns": [c for c in training_set._df.columns if c not in labels],
                "label": labels}
        with tempfile.TemporaryDirectory() as tmp:
            inner = os.path.join(tmp, "model")
            flavor.save_model(model, inner)
            with open(os.path.join(tmp, SPEC_FILE), "w", encoding="utf-8") as f:
                json.dump(spec, f)
            info = mlflow.pyfunc.log_model(
                name=artifact_path, python_model=FeatureModel(),
                artifacts={"model": inner, "feature_spec": os.path.join(tmp, SPEC_FILE)},
                registered_model_name=registered_model_name,
                **{k: v for k, v in kwargs.items() if k in ("input_example", "signature",
                                                            "pip_requirements")})
        if registered_model_name:  # the tables remember the model: none is dropped under it
            for table in sorted({lk.table for lk in training_set.lookups}):
                _full, meta = self._feature_table(table)
                used = sorted(set(meta.get("used_by") or []) | {registered_model_name})
                self._catalog.annotate(table, {"used_by": used})
        return info

    def score_batch(self, *, model_uri: str, df: Any, result_type: str = "double",
                    **_: Any) -> Any:
        """``df`` (the lookup keys, and any other columns the model takes) with a
        ``prediction`` column."""
        import mlflow.pyfunc

        spark = not isinstance(df, pd.DataFrame)
        frame = _pandas(df)
        model = mlflow.pyfunc.load_model(model_uri)
        predictions = model.predict(frame)
        out = frame.copy()
        out["prediction"] = pd.Series(list(predictions), index=frame.index).astype(
            _RESULT_TYPES.get(result_type, "float64"))
        return _as_spark(out) if spark else out

    def _resolve(self, fl: FeatureLookup) -> Lookup:
        full, info = self._feature_table(fl.table_name)
        ts = info.get("timeseries_column")
        keys = [k for k in info.get("primary_keys") or [] if k != ts]
        if len(fl.lookup_key) != len(keys):
            raise KilnError(f"the lookup on {full} gives {len(fl.lookup_key)} lookup key(s) "
                            f"for its {len(keys)} primary key(s) ({', '.join(keys)})")
        cols = [c["name"] for c in info.get("columns") or []]
        features = fl.feature_names if fl.feature_names is not None else \
            [c for c in cols if c not in keys and c != ts]
        unknown = [f for f in features if f not in cols]
        if unknown:
            raise KilnError(f"feature {unknown[0]!r} is not in feature table {full} "
                            f"(features: {', '.join(c for c in cols if c not in keys)})")
        outputs = [fl.rename_outputs.get(f, f) for f in features]
        defaults = {fl.rename_outputs.get(k, k): v for k, v in fl.default_values.items()}
        return Lookup(full, tuple(keys), tuple(fl.lookup_key), tuple(features), tuple(outputs),
                      ts, fl.timestamp_lookup_key,
                      fl.lookback_window, defaults)

    def _function(self, name: str) -> dict[str, Any]:
        return self._catalog.function(name)

    def _feature_table(self, name: str) -> tuple[str, dict[str, Any]]:
        full = str(parse_name(name))
        info = self._catalog.table_info(full)
        if info is None:
            raise NotFound(f"feature table {full} does not exist")
        if not info.get(FEATURE_TABLE):
            raise KilnError(f"{full} is a table but not a feature table (it has no primary "
                            "keys): create it with create_table")
        return full, info


def _registered(model: str) -> bool:
    """Whether the workspace's registry still has the model."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.MlflowClient().get_registered_model(model)
        return True
    except MlflowException:
        return False


def _names(value: str | list[str] | None, what: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value or [])
    if not names or not all(isinstance(n, str) and n for n in names):
        raise KilnError(f"{what} must name one or more columns")
    return names


def _kind(type_name: str) -> str:
    t = type_name.lower()
    if any(x in t for x in ("int", "long", "short", "byte")):
        return "integer"
    if any(x in t for x in ("float", "double", "decimal")):
        return "float"
    if any(x in t for x in ("string", "utf8", "object", "str")):
        return "string"
    if any(x in t for x in ("timestamp", "datetime", "date")):
        return "timestamp"
    return t


def _no_duplicates(frame: pd.DataFrame, keys: list[str], table: str) -> None:
    dup = frame[frame.duplicated(keys, keep=False)]
    if len(dup):
        first = dup.iloc[0]
        shown = ", ".join(f"{k}={_plain(first[k])!r}" for k in keys)
        raise KilnError(f"the rows written to feature table {table} have duplicate primary "
                        f"keys ({shown}: {len(dup)} rows): one row per key")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if hasattr(value, "item") else value


def _pandas(df: Any) -> pd.DataFrame:
    if isinstance(df, pd.DataFrame):
        return df
    if hasattr(df, "toPandas"):
        return df.toPandas()
    raise KilnError(f"a pandas or Spark DataFrame is needed, not {type(df).__name__}")


def _empty(schema: Any, table: str) -> pd.DataFrame:
    if schema is None:
        raise KilnError(f"create_table {table} needs df or schema")
    if hasattr(schema, "fields"):  # a Spark StructType
        return pd.DataFrame({f.name: pd.Series(dtype=_pandas_type(f.dataType.simpleString()))
                             for f in schema.fields})
    raise KilnError("schema must be a Spark StructType")


def _pandas_type(spark_type: str) -> str:
    return {"integer": "int64", "bigint": "int64", "int": "int64", "double": "float64",
            "float": "float64", "string": "object", "boolean": "bool",
            "timestamp": "datetime64[ns, UTC]"}.get(spark_type, "object")


def _as_spark(frame: pd.DataFrame) -> Any:
    from kiln.session import spark

    return spark().createDataFrame(frame)


def _as_spark_if_any(frame: pd.DataFrame) -> Any:
    """Spark's DataFrame where a Spark session is at hand (a task), else pandas."""
    from kiln.settings import Settings

    if Settings.from_env().job_run_id is not None:
        return _as_spark(frame)
    return frame

"""``kiln quality-monitors get|refresh|list-refreshes|drift``."""

from __future__ import annotations

import os

import click

from kiln.cli.render import document_opt, echo, print_json
from kiln.cli.workspaces import open_where, where_opts


def _monitors(target: str | None, workspace: str | None):  # type: ignore[no-untyped-def]
    from kiln.monitoring.monitor import Monitors

    return Monitors(open_where(target, workspace))


@click.group(name="quality-monitors")
def quality_monitors() -> None:
    """Quality monitors: profile and drift metrics of tables, and alerts."""


@quality_monitors.command(name="get")
@click.argument("table")
@where_opts
@document_opt
def get_cmd(table: str, target: str | None, workspace: str | None) -> None:
    """The monitor of TABLE and the names of its metric tables."""
    print_json(_monitors(target, workspace).get(table))


@quality_monitors.command(name="refresh")
@click.argument("table")
@where_opts
def refresh_cmd(table: str, target: str | None, workspace: str | None) -> None:
    """Compute the metrics of new windows, then check the alert rules."""
    info = _monitors(target, workspace).refresh(table)
    echo(f"Refresh {info.refresh_id} of {info.table}: {info.state}, "
         f"{info.windows_computed} window(s) computed")
    for a in info.alerts:
        action = f"; started run {a['run_id']}" if "run_id" in a else ""
        echo(f"Alert {a['name']}: {a['metric']} on {', '.join(a['columns'])}{action}")


@quality_monitors.command(name="list-refreshes")
@click.argument("table")
@where_opts
@document_opt
def list_refreshes_cmd(table: str, target: str | None, workspace: str | None) -> None:
    """The monitor's refreshes, oldest first."""
    print_json(_monitors(target, workspace).refreshes(table), sort_keys=False)


@quality_monitors.command(name="report")
@click.argument("table")
@click.option("--out", "out_file", default=None, help="Write the HTML here (default: stdout).")
@where_opts
def report_cmd(table: str, out_file: str | None, target: str | None,
               workspace: str | None) -> None:
    """An HTML report with charts of the drift and profile metrics over time."""
    from kiln.monitoring.report import for_monitor

    page = for_monitor(_monitors(target, workspace), table)
    if out_file:
        with open(out_file, "w", encoding="utf-8") as f:
            f.write(page)
        echo(f"Wrote {out_file}")
    else:
        echo(page)


@quality_monitors.command(name="drift")
@click.option("--table", "table_path", required=True, help="Delta table directory or Parquet.")
@click.option("--baseline", "baseline_path", default=None, help="Delta or Parquet baseline.")
@click.option("--timestamp-col", required=True)
@click.option("--granularity", "granularities", multiple=True, default=("1 day",),
              show_default=True)
@click.option("--model-id-col", default=None)
@click.option("--slice", "slices", multiple=True, help="A slicing expression (repeatable).")
@click.option("--out", "out_dir", required=True, help="Where the two Delta tables go.")
def drift_cmd(table_path: str, baseline_path: str | None, timestamp_col: str,
              granularities: tuple[str, ...], model_id_col: str | None,
              slices: tuple[str, ...], out_dir: str) -> None:
    """Profile and drift metrics of files, without a workspace."""
    from concurrent.futures import ThreadPoolExecutor

    from kiln.monitoring.files import read_arrow

    # the files are read (outside the GIL) while the metric code and scipy are imported
    with ThreadPoolExecutor(2) as pool:
        table_f = pool.submit(read_arrow, table_path)
        base_f = pool.submit(read_arrow, baseline_path) if baseline_path else None
        from kiln.monitoring.drift import preload_scipy

        preload_scipy()
        from deltalake import write_deltalake

        from kiln.monitoring import tables as mt
        from kiln.monitoring.compute import Spec, compute

        table, baseline = table_f.result(), base_f.result() if base_f else None
    spec = Spec(timestamp_col, granularities, model_id_col, slicing_exprs=slices)
    profile, drift = compute(table.to_pandas(),
                             baseline.to_pandas() if baseline is not None else None, spec)
    os.makedirs(out_dir, exist_ok=True)
    write_deltalake(os.path.join(out_dir, "profile_metrics"),
                    mt.to_arrow(profile, mt.PROFILE_SCHEMA), mode="overwrite")
    write_deltalake(os.path.join(out_dir, "drift_metrics"),
                    mt.to_arrow(drift, mt.DRIFT_SCHEMA), mode="overwrite")
    echo(f"{len(profile)} profile rows and {len(drift)} drift rows written to {out_dir}")
    flagged = drifted_columns(drift)
    echo("Drifted columns (PSI >= 0.1 or null share +/- 5 points against the baseline): "
         + (", ".join(flagged) or "none"))


def drifted_columns(drift: list[dict]) -> list[str]:  # type: ignore[type-arg]
    out = set()
    for r in drift:
        if r["drift_type"] != "BASELINE" or r["model_id"] != ":all" or \
                r["slice_key"] is not None:
            continue
        psi, nulls = r.get("population_stability_index"), r.get("percent_null_delta")
        if (psi is not None and psi >= 0.1) or (nulls is not None and abs(nulls) >= 5):
            out.add(r["column_name"])
    return sorted(out)

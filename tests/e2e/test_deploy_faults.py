"""Fault test: ``kiln bundle deploy`` killed with SIGKILL at many instants.

After every kill, the next deploy must converge to exactly the bundle's resources: each
address deployed once (no duplicates), nothing left that the bundle does not want (no
orphans), the files in the workspace equal to the bundle's, and a plan with no changes.
The kill instants spread over the whole deploy, from process start to the last write;
the test checks that many of them really landed half-way (some but not all objects
written), so it cannot pass by killing only before or after the work.
"""

from __future__ import annotations

import hashlib
import random
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import Kiln, job_bundle

pytestmark = pytest.mark.e2e

N_JOBS = 46  # + schema, volume, registered model, experiment = 50 resources
RESOURCES = N_JOBS + 4
KILLS = 14


def expected_files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_converged(kiln: Kiln, root: Path, workspace: str, prefix: str) -> None:
    objects = kiln.objects(workspace)
    refs = [o["bundle_ref"] for o in objects]
    assert len(refs) == len(set(refs)) == RESOURCES, sorted(refs)
    assert all(r and r.startswith(prefix) for r in refs)
    plan = kiln.run("bundle", "plan", "-t", "prod", cwd=root).stdout.strip()
    assert plan == f"Plan: 0 to add, 0 to change, 0 to delete, {RESOURCES} unchanged"
    files = kiln.snapshot(workspace)["files"]
    synced = {k.split("/files/", 1)[1]: v for k, v in files.items() if "/files/" in k}
    assert synced == expected_files(root)


def kill_after(kiln: Kiln, root: Path, delay: float) -> int:
    """Start a deploy, SIGKILL it after ``delay`` seconds; the number of objects left."""
    proc = kiln.popen("bundle", "deploy", "-t", "prod", "--auto-approve", cwd=root)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return len(kiln.objects("prod"))


def half_done(kiln: Kiln, root: Path) -> bool:
    """Did the killed deploy stop half-way: some but not all objects or files written?"""
    objects = len(kiln.objects("prod"))
    files = sum(1 for k in kiln.snapshot("prod")["files"] if "/files/" in k)
    return 0 < objects < RESOURCES or 0 < files < len(expected_files(root))


def work_window(root: Path, tmp: Path) -> tuple[float, float]:
    """(when a first deploy starts writing, when it is done), measured on this machine.

    Most of a deploy's wall time is process start and loading; the kills are spread over
    the part where it writes.
    """
    t0 = time.perf_counter()
    Kiln(tmp / "probe-full").run("bundle", "deploy", "-t", "prod", cwd=root)
    full = time.perf_counter() - t0
    t = 0.3 * full
    while t < full:
        probe = Kiln(tmp / f"probe-{t:.3f}")
        if kill_after(probe, root, t) or probe.snapshot("prod")["files"]:
            return max(0.0, t - 0.05 * full), full
        t += 0.04 * full
    return 0.5 * full, full


def test_first_deploy_killed_anywhere_converges(tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "bundle", N_JOBS, n_files=300)
    start, full = work_window(root, tmp_path)

    # Evenly spread kills first; then, since a loaded machine shifts the window, more
    # kills at random instants in it until enough have landed half-way (bounded).
    rng = random.Random(7)
    delays = [start + (full - start) * (i + 0.5) / KILLS for i in range(KILLS)]
    delays += [rng.uniform(start, full) for _ in range(2 * KILLS)]
    partial = 0
    for i, delay in enumerate(delays):
        if i >= KILLS and partial >= 3:
            break
        kiln = Kiln(tmp_path / f"home{i}")
        kill_after(kiln, root, delay)
        partial += half_done(kiln, root)
        kiln.run("bundle", "deploy", "-t", "prod", cwd=root)
        check_converged(kiln, root, "prod", "/Workspace/Shared/.bundle/e2e/prod/state#")
    assert partial >= 3, f"only {partial} kills landed mid-deploy (writes {start:.2f}-{full:.2f}s)"


def test_redeploy_killed_anywhere_converges(tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "bundle", N_JOBS, n_files=40)
    kiln = Kiln(tmp_path / "home")
    kiln.run("bundle", "deploy", "-t", "prod", cwd=root)
    yml = root / "databricks.yml"
    t0 = time.perf_counter()
    kiln.run("bundle", "deploy", "-t", "prod", cwd=root)
    full = max(time.perf_counter() - t0, 0.5)
    for i in range(KILLS // 2):
        # every round changes every job, renames files, and drops then re-adds a job
        text = yml.read_text().replace(f", round: '{i - 1}'", "")
        yml.write_text(text.replace("catalog: '${var.catalog}'}",
                                    f"catalog: '${{var.catalog}}', round: '{i}'}}"))
        for f in (root / "data").glob("*.txt"):
            f.rename(f.with_name(f"r{i}_" + f.name.split("_", 1)[-1]))
        kill_after(kiln, root, full * (i + 0.5) / (KILLS // 2))
        kiln.run("bundle", "deploy", "-t", "prod", "--auto-approve", cwd=root)
        check_converged(kiln, root, "prod", "/Workspace/Shared/.bundle/e2e/prod/state#")
        jobs = [o for o in kiln.objects("prod") if o["kind"] == "jobs"]
        assert all(j["settings"]["tasks"][0]["notebook_task"]["base_parameters"].get("round")
                   == str(i) for j in jobs)

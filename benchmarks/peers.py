"""What the benchmarks share: the peers' own virtual environments
(``benchmarks/.venv-<name>``, installed from PyPI on the first run) and a ``kiln server``
to measure against."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
KILN = os.path.join(os.path.dirname(HERE), ".venv", "bin", "kiln")


def peer_python(name: str, *requirements: str) -> str:
    """The Python of ``benchmarks/.venv-<name>``, with ``requirements`` installed (once:
    a marker file says the install finished)."""
    venv = os.path.join(HERE, f".venv-{name}")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, ".ready")):
        print(f"installing {name} into benchmarks/.venv-{name} (first run only)...",
              flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=True)
        open(os.path.join(venv, ".ready"), "w").close()
    return python


def kiln_server(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """``kiln server --port 0 ARGS`` once it serves: the process and its URL."""
    proc = subprocess.Popen([KILN, "server", "--port", "0", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while "Serving on" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit("the kiln server did not start")
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()  # drain
    match = re.search(r"http://\S+", line)
    assert match is not None
    return proc, match.group(0)

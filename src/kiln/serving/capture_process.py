"""The inference-table writer process: the serving process hands it packed batches over a
pipe, and it builds the Arrow tables and appends them to Delta, so that this work never
holds the serving process's GIL.

Protocol on stdin: 8-byte big-endian length, then a pickle of ``(CaptureSpec, packed)``;
a zero length ends the process. For each batch it answers one line on stdout: ``ok``,
``quarantined <rows> <why>`` or ``error <message>``.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from typing import Any

from kiln.errors import KilnError
from kiln.serving.config import CaptureSpec


class WriterProcess:
    """The serving side: one child process per serving process, shared by endpoints."""

    def __init__(self, ws_name: str, ws_dir: str, user: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiln.serving.capture_process", ws_name, ws_dir, user],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.lock = threading.Lock()

    def write(self, spec: CaptureSpec, packed: dict[str, Any]) -> tuple[int, str]:
        """Write a batch; (rows quarantined, why)."""
        data = pickle.dumps((spec, packed), protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            if self.proc.poll() is not None:
                raise KilnError("the inference table writer process has exited")
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(struct.pack(">Q", len(data)) + data)
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline().decode().strip()
        if answer == "ok":
            return 0, ""
        if answer.startswith("quarantined "):
            n, _, why = answer.removeprefix("quarantined ").partition(" ")
            return int(n), why
        raise KilnError(f"writing inference table {spec.payload_table} failed: "
                        f"{answer.removeprefix('error ') or 'the writer exited'}")

    def close(self) -> None:
        with self.lock:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write(struct.pack(">Q", 0))
                self.proc.stdin.close()
        self.proc.wait(timeout=120)


def main(argv: list[str]) -> int:
    from kiln.catalog import Catalog
    from kiln.serving.capture import write_tables
    from kiln.workspace.local.workspace import LocalWorkspace

    name, directory, user = argv
    os.nice(10)  # background work: requests being served get the CPU first
    catalog = Catalog(LocalWorkspace(name, directory, user), check=False)  # kiln's own writer
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(8)
        if len(head) < 8:
            return 0
        (size,) = struct.unpack(">Q", head)
        if size == 0:
            return 0
        spec, packed = pickle.loads(stdin.read(size))
        try:
            n, why = write_tables(catalog, spec, packed)
            stdout.write(f"quarantined {n} {' '.join(why.split())}\n".encode() if n
                         else b"ok\n")
        except Exception as e:  # noqa: BLE001 - reported to the serving process
            stdout.write(f"error {' '.join(str(e).split())}\n".encode())
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The inference-table writer process: the serving process ships it small packed batches
over a pipe as requests are answered; it gathers them per endpoint and builds the Arrow
tables and appends them to Delta every ``FLUSH_EVERY_S`` (or when asked), so that this
work never holds the serving process's GIL and the tables get one commit every couple of
seconds, not one per shipment.

Protocol on stdin: 8-byte big-endian length, then a pickle of ``("batch", CaptureSpec,
packed)`` or ``("flush", CaptureSpec)``; a zero length writes everything and ends the
process. For each append it answers one line on stdout, read by the serving side's reader
thread: ``done <records> <quarantined rows> <payload table> <why>`` or
``error <records> <payload table> <message>``.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from kiln.errors import KilnError
from kiln.serving.config import CaptureSpec

FLUSH_EVERY_S = 2.0


class WriterProcess:
    """The serving side: one child process per serving process, shared by endpoints;
    ``results[payload table]`` gets what was done with each append."""

    def __init__(self, ws_name: str, ws_dir: str, user: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiln.serving.capture_process", ws_name, ws_dir, user],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.lock = threading.Lock()
        self.results: dict[str, Callable[[int, int, str, str | None], None]] = {}
        self._reader = threading.Thread(target=self._read, name="capture-results",
                                        daemon=True)
        self._reader.start()

    def send(self, spec: CaptureSpec, packed: dict[str, Any]) -> None:
        self._message(("batch", spec, packed))

    def flush(self, spec: CaptureSpec) -> None:
        self._message(("flush", spec))

    def _message(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            if self.proc.poll() is not None:
                raise KilnError("the inference table writer process has exited")
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(struct.pack(">Q", len(data)) + data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                raise KilnError("the inference table writer process has exited") from None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            kind, _, rest = raw.decode().rstrip("\n").partition(" ")
            if kind == "done":
                records, quarantined, table, why = (rest.split(" ", 3) + [""])[:4]
                error = None
            else:
                records, table, error = (rest.split(" ", 2) + [""])[:3]
                quarantined, why = "0", ""
            callback = self.results.get(table)
            if callback is not None:
                callback(int(records), int(quarantined), why, error)

    def close(self) -> None:
        with self.lock:
            if self.proc.poll() is None and self.proc.stdin is not None:
                try:
                    self.proc.stdin.write(struct.pack(">Q", 0))
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass
        self.proc.wait(timeout=120)
        self._reader.join(timeout=10)


def main(argv: list[str]) -> int:
    from kiln.catalog import Catalog
    from kiln.serving.capture import merge, write_tables
    from kiln.session import workspace_at

    _name, directory, user = argv
    os.nice(10)  # background work: requests being served get the CPU first
    from kiln.memory import reuse_freed_memory

    reuse_freed_memory()  # appends of large batches: no page faults for every array
    catalog = Catalog(workspace_at(directory, user), check=False)  # kiln's own writer
    fd, stdout = sys.stdin.fileno(), sys.stdout.buffer  # unbuffered reads: select tells all

    def read(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = os.read(fd, n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    held: dict[str, tuple[CaptureSpec, float, list[dict[str, Any]]]] = {}

    def append(table: str) -> None:
        spec, _since, packs = held.pop(table)
        records = sum(len(p["request_id"]) for p in packs)
        try:
            n, why = write_tables(catalog, spec, merge(packs))
            line = f"done {records} {n} {table} {' '.join(why.split())}"
        except Exception as e:  # noqa: BLE001 - reported to the serving process
            line = f"error {records} {table} {' '.join(str(e).split())}"
        stdout.write(line.encode() + b"\n")
        stdout.flush()

    while True:
        due = min((since + FLUSH_EVERY_S for _, since, _ in held.values()), default=None)
        wait = None if due is None else max(0.0, due - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        for table in [t for t, (_, since, _) in held.items()
                      if time.monotonic() >= since + FLUSH_EVERY_S]:
            append(table)
        if not ready:
            continue
        head = read(8)
        (size,) = struct.unpack(">Q", head) if len(head) == 8 else (0,)
        if size == 0:  # the end: write everything held
            for table in list(held):
                append(table)
            return 0
        message = pickle.loads(read(size))
        spec = message[1]
        if message[0] == "batch":
            held.setdefault(spec.payload_table, (spec, time.monotonic(), []))[2].append(
                message[2])
        elif spec.payload_table in held:  # flush
            append(spec.payload_table)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

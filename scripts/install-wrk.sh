#!/usr/bin/env bash
# wrk, the HTTP load generator of benchmarks/bench_serving.py, from Debian's packages.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get install -y --no-install-recommends wrk

#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for kiln's tests and benchmarks, from
# Debian's postgresql package.
#   scripts/postgres.sh install         the package, if its binaries are missing
#   scripts/postgres.sh start DIR PORT  a new cluster in DIR (trust auth, user kiln)
#   scripts/postgres.sh stop DIR
# PostgreSQL will not run as root: as root, the cluster belongs to the postgres user.
set -euo pipefail

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  dirname "$(command -v initdb)"
}

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  install)
    if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
      exit 0
    fi
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get install -y --no-install-recommends postgresql
    ;;
  start)
    dir=$2; port=$3; bin=$(bindir)
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U kiln -A trust --no-sync -E UTF8 >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
      "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null
    ;;
  stop)
    dir=$2; bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: $0 install | start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# `make bench`: seed a separate PostgreSQL database (retail_bench; bench_commission for the
# commission benchmark), measure, write docs/benchmarks.md. See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
part="${1:-${BENCH_ONLY:-all}}"
# The commission benchmark alone (Celery + Redis, no HTTP load) does not need wrk.
if [ "$part" != commission ] && ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
    else
        echo "bench: wrk is missing: sudo apt-get install wrk" >&2
        exit 1
    fi
fi
if { [ "$part" = redpackets ] || [ "$part" = all ]; } && ! command -v pgbench >/dev/null 2>&1; then
    echo "bench: pgbench is missing (sudo apt-get install postgresql-client or postgresql-15):" \
        "the red packet benchmark leaves out its pgbench comparison" >&2
fi
exec .venv/bin/python bench/run.py "$@"

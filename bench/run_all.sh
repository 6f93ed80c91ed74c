#!/bin/bash
# Runs every bench/*.py that exists, with small sizes, and prints all their figures.
#
#   bench/run_all.sh            quick run (minutes): small message counts
#   BENCH_FULL=1 bench/run_all.sh   each script with its own (issue-sized) defaults
#
# Per-script quick arguments are listed below; a script not listed gets `--quick` when its
# --help mentions it, else `--messages 500` when its --help mentions --messages, else nothing.
# Each script is bounded by `timeout` (BENCH_TIMEOUT seconds, default 1800). ternd/ternctl are
# taken from $TERND/$TERNCTL or build/bench (see bench/peers/tern.py); build them first:
#   cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF
#   cmake --build build/bench -j2 --target ternd ternctl
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
limit=${BENCH_TIMEOUT:-1800}

quick_args() {
  case "$1" in
    imap_bench.py) echo "--messages 1000 --idle-conns 200 --fetches 100" ;;
    relay_bench.py) echo "--messages 500" ;;
    disk_limit.py) echo "--seconds 5" ;;
    *)
      local help; help=$(timeout 30 "$py" "$here/$1" --help 2>&1 || true)
      if grep -q -- "--quick" <<<"$help"; then echo "--quick"
      elif grep -q -- "--messages" <<<"$help"; then echo "--messages 500"
      fi ;;
  esac
}

status=0
summary=()
for script in "$here"/*.py; do
  name=$(basename "$script")
  grep -q "__main__" "$script" || continue  # a module the scripts import (scratch.py)
  if [ -n "${BENCH_FULL:-}" ]; then args=""; else args=$(quick_args "$name"); fi
  echo "=================================================================="
  echo "== $name $args"
  echo "=================================================================="
  start=$(date +%s)
  # shellcheck disable=SC2086
  timeout --kill-after=30 "$limit" "$py" "$script" $args
  rc=$?
  summary+=("$name: exit $rc in $(( $(date +%s) - start )) s")
  [ $rc -ne 0 ] && status=1
  echo
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status

#!/bin/sh
# run.sh -- builds mapillary (Release) and runs the benchmarks: bench/run.sh [quick] [fetch|cpu|polygon|memory ...]
#
# Prints one Markdown table per benchmark, each row with the command that
# reproduces it (run from the repository root). `quick` shrinks the sizes
# for a smoke run of under a minute. Figures only: nothing here is a test.
set -eu
cd "$(dirname "$0")/.."
BUILD=${MLY_BENCH_BUILD:-build-bench}
QUICK=
if [ "${1:-}" = quick ]; then
  QUICK=--quick
  shift
fi
for tool in cmake ninja python3 curl valgrind; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: $tool is needed" >&2; exit 2; }
done
# Release: the figures are about the optimised tool (bench/README.md)
mkdir -p bench/data
log=bench/data/build.log
if ! { cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       ninja -C "$BUILD" -j2 mapillary bench_decode; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "run.sh: build failed (full log: $log)" >&2
  exit 1
fi
exec python3 bench/bench.py $QUICK --build "$BUILD" "$@"

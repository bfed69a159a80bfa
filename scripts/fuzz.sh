#!/usr/bin/env bash
# fuzz.sh [SECONDS] -- build the libFuzzer harnesses with clang and run each
# for SECONDS (default 60) over a copy of its corpus; a crash fails
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
scripts/install-deps.sh
CC=clang scripts/build.sh build-fuzz -DMLY_FUZZ=ON -DMLY_ASAN=ON -DMLY_UBSAN=ON \
  -DCMAKE_C_COMPILER=clang >/dev/null
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  target=${name#fuzz_}
  work=fuzz/corpus-work/$target
  mkdir -p "$work"
  cp -n fuzz/corpus/"$target"/* "$work"/ 2>/dev/null || true
  echo "-- $name for ${secs}s"
  log=$work.log
  if ! ./build-fuzz/fuzz/"$name" -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=2048 \
      -print_final_stats=1 "$work" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $name failed" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$log" | tail -3
done

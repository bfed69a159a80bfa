#!/bin/sh
# formats.sh -- builds mapillary and its GDAL module (Release) and runs bench/formats.py:
#   bench/formats.sh [--baseline OLD_BINARY] [--pg] [formats] [startup]
set -eu
cd "$(dirname "$0")/.."
BUILD=${MLY_BENCH_BUILD:-build-bench}
mkdir -p bench/data
log=bench/data/build-formats.log
if ! { cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       ninja -C "$BUILD" -j2 mapillary mly_gdal; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "formats.sh: build failed (full log: $log)" >&2
  exit 1
fi
exec python3 bench/formats.py --build "$BUILD" "$@"

#!/usr/bin/env bash
# test.sh [DIR] [cmake options...] -- install, build and run every test (CTest)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=${1:-build}
shift || true
scripts/build.sh "$dir" "$@"
ctest --test-dir "$dir" --output-on-failure -j2

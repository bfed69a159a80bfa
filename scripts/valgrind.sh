#!/usr/bin/env bash
# valgrind.sh [DIR] -- every unit test binary and real runs of the tool under
# valgrind memcheck; fails on any error or leak (a figure for the notes)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
command -v valgrind >/dev/null || { echo "valgrind is missing" >&2; exit 1; }
vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
fail=0
# run NAME EXPECTED_STATUS COMMAND...: memcheck errors give status 99
run() {
  local name=$1 want=$2 rc=0; shift 2
  "${vg[@]}" "$@" >/tmp/mly-vg.out 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ]; then
    echo "ok   $name"
  else
    echo "FAIL $name (status $rc, want $want)"; tail -30 /tmp/mly-vg.out; fail=$((fail + 1))
  fi
}
for t in "$dir"/tests/test_*; do
  [ -x "$t" ] || continue
  # the fetch test runs a python server: valgrind only the C side
  run "$(basename "$t")" 0 "$t"
done
out=$(mktemp -d)
tiles="file://$PWD/examples/tiles/{z}/{x}/{y}.mvt"
run "example job" 0 "$dir/mapillary" get_mapillary_points --input_aoi=examples/aoi.geojson \
  --field_name=area --tiles_url="$tiles" --output_file_point="$out/p.geojson" \
  --output_file_sequence="$out/s.csv" --split_pano --cache="$out/c.mbtiles" --quiet
run "cached rerun" 0 "$dir/mapillary" get_mapillary_points --input_aoi=examples/aoi.geojson \
  --tiles_url="$tiles" --output_file_point="$out/p2.geojsonl" --output_file_sequence="$out/s2.geojson" \
  --cache="$out/c.mbtiles" --quiet
run "bad input" 2 "$dir/mapillary" get_mapillary_points --input_aoi=1,2,3
run "failing tile" 1 "$dir/mapillary" get_mapillary_points --input_aoi=examples/aoi.geojson \
  --tiles_url="$tiles" --max_tile_bytes=2048 --output_file_point="$out/p3.geojson" \
  --output_file_sequence="$out/s3.geojson" --quiet
rm -rf "$out"
echo "valgrind: $fail failed"
exit $((fail > 0))

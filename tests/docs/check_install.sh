#!/usr/bin/env bash
# check_install.sh BUILD_DIR -- `cmake --install` into a temporary prefix: the
# installed binary runs, the installed man page renders, the completion is there
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
"$prefix/bin/mapillary" --version | grep -q '^mapillary [0-9]'
test -s "$prefix/share/bash-completion/completions/mapillary"
# the GDAL module is found relative to the installed binary
if [ -e "$build/libmly_gdal.so" ]; then
  src=$(cd "$(dirname "$0")/../.." && pwd)
  test -s "$prefix/lib/mapillary/libmly_gdal.so"
  (cd "$prefix" && env -u MLY_GDAL_MODULE "$prefix/bin/mapillary" get_mapillary_points --quiet \
    --input_aoi="$src/examples/aoi.geojson" --no_id_repair \
    --tiles_url="file://$src/examples/tiles/{z}/{x}/{y}.mvt" \
    --output_file_point=p.gpkg --output_file_sequence=s.fgb)
  ogrinfo -ro -so "$prefix/p.gpkg" | grep -q "p (Point)"
fi
page="$prefix/share/man/man1/mapillary.1"
test -s "$page"
if ! command -v man >/dev/null; then
  echo "man is not installed: rendering not checked" >&2
  exit 77
fi
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
if [ -n "$warnings" ]; then
  echo "man page warnings: $warnings" >&2
  exit 1
fi
MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "get_mapillary_points"
echo "1 passed, 0 failed"

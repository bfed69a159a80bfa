#!/usr/bin/env bash
# example.sh -- install, build, and run the real job on the bundled example tileset
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
mkdir -p out
./build/mapillary get_mapillary_points \
  --input_aoi=examples/aoi.geojson --field_name=area \
  --timestamp_from=2016-01-01 --no_id_repair \
  --tiles_url="file://$PWD/examples/tiles/{z}/{x}/{y}.mvt" \
  --output_file_point=out/mapillary_points.geojson \
  --output_file_sequence=out/mapillary_sequences.geojson
ls -l out

/* cli_help.c -- usage text and version */
#include "cli_args.h"

#include <curl/curl.h>
#include <geos_c.h>
#include <jansson.h>

void cli_help_main(FILE *out)
{
  fputs("usage: mapillary <command> [options] [<command> [options]]...\n"
        "       mapillary <command> --help | mapillary --help | --version\n"
        "\n"
        "Get Mapillary image points and sequences for an area and write GeoJSON, and\n"
        "the rest of geokit's mapillary workflow. A drop-in successor to geokit's\n"
        "mapillary commands: several commands on one line run in order, each after\n"
        "the one before succeeded (geokit's chained form).\n"
        "\n"
        "Commands:\n",
        out);
  size_t n;
  const struct cli_cmd *c = cli_commands(&n);
  for(size_t i = 0; i < n; i++)
    fprintf(out, "  %-24s%s\n", c[i].name, c[i].summary);
  fputs("\nRun 'mapillary <command> --help' for its options.\n", out);
}

void cli_help_points(FILE *out)
{
  fputs(
    "usage: mapillary get_mapillary_points --input_aoi=<bbox|file|-> [options]\n"
    "\n"
    "Area:\n"
    "  --input_aoi=<bbox|file|->    bbox 'xMin,yMin,xMax,yMax' (WGS84; xMin > xMax crosses\n"
    "                               the antimeridian), a GeoJSON file (Polygon/MultiPolygon,\n"
    "                               holes honoured) or '-' for GeoJSON on stdin\n"
    "  --field_name=<property>      one output pair per distinct value of this property,\n"
    "                               written as <value>_<basename> beside the given paths\n"
    "Filters:\n"
    "  --timestamp_from=<time>      keep images captured at or after: epoch ms or ISO 8601\n"
    "                               (2022-05-01, 2022-05-01T10:00:00Z, ...+02:00)\n"
    "  --timestamp_to=<time>        keep images captured at or before (a date alone: its end)\n"
    "  --only_pano                  keep panoramic images only\n"
    "  --organization_ids=<id,...>  keep images of these organizations only\n"
    "  --organization_names         add organization_name to each point (Graph API)\n"
    "Output:\n"
    "  --output_file_point=<path>   points GeoJSON (default mapillary_points.geojson)\n"
    "  --output_file_sequence=<path>  sequences GeoJSON (default mapillary_sequences.geojson)\n"
    "  --split_pano                 geokit's layout: <stem>__pano.geojson and\n"
    "                               <stem>__no__pano.geojson instead of the plain paths\n"
    "                               The extension picks the format: .geojson (default),\n"
    "                               .geojsonl/.ndjson/.jsonl (one feature per line),\n"
    "                               .geojsons (RFC 8142), .csv (sequences as WKT),\n"
    "                               .gpkg (GeoPackage), .fgb (FlatGeobuf);\n"
    "                               PG:<libpq conninfo> loads a PostGIS table\n"
    "                               --output_file_point=- writes the points to stdout\n"
    "  --table_point=<name>         PostGIS table of the points (default mapillary_points)\n"
    "  --table_sequence=<name>      PostGIS table of the sequences (default\n"
    "                               mapillary_sequences)\n"
    "Source:\n"
    "  --tiles_url=<template>       tile URL with {z} {x} {y}; file:// for local tiles\n"
    "                               (env MAPILLARY_TILES_URL; default the Mapillary API)\n"
    "  --graph_url=<url>            Graph API root (env MAPILLARY_GRAPH_URL)\n"
    "  --concurrency=<n>            requests in flight (default 16)\n"
    "  --retries=<n>                attempts per request (default 5)\n"
    "  --timeout=<seconds>          per attempt (default 60)\n"
    "  --max_retry_wait=<seconds>   longest Retry-After honoured (default 120); a server\n"
    "                               asking for more stops the run (status 3)\n"
    "  --max_tile_bytes=<n>         largest tile body accepted (default 67108864)\n"
    "  --max_tiles=<n>              refuse areas needing more z14 tiles (default 1000000)\n"
    "Big jobs:\n"
    "  --cache=<file.mbtiles>       keep every fetched tile (MBTiles); reruns fetch only\n"
    "                               what is missing, so an interrupted run resumes\n"
    "  --max_age=<age>              refetch cached tiles older than this (3600, 12h, 7d)\n"
    "  --max_requests=<n>           stop after n tile requests (status 3; rerun to resume)\n"
    "  --dry_run                    print tiles needed, cached and to fetch; fetch nothing\n"
    "  --prune_empty                skip z14 tiles the zoom-5 overview layer shows empty\n"
    "                               (relies on an unverified property of the service)\n"
    "  --shard=<k>/<n>              fetch only shard k of n into --cache; write nothing\n"
    "Exact ids:\n"
    "  --no_id_repair               keep ids above 2^53 as the tiles hold them (rounded)\n"
    "                               instead of asking the Graph API for the exact ones\n"
    "Messages:\n"
    "  --quiet                      no progress and no summary\n"
    "  --progress                   progress lines on stderr even when it is not a terminal\n"
    "\n"
    "The access token is read from MAPILLARY_ACCESS_TOKEN (needed for http(s) sources).\n"
    "Every option also takes its dashed spelling (--input-aoi) and the form '--opt value'.\n"
    "Exit status: 0 done, 1 failed while running, 2 bad usage or input, 3 stopped early.\n"
    "\n"
    "Other commands:\n"
    "  mapillary organizations --input_aoi=<...> [source options]\n"
    "      organization ids in the area with image counts and names (Graph API)\n"
    "  mapillary organization <id>...\n"
    "      the name of each organization id\n"
    "  mapillary merge_cache --cache=<dest.mbtiles> <shard.mbtiles>...\n"
    "      merge the caches of --shard runs; then run without --shard to write outputs\n",
    out);
}

void cli_version(FILE *out)
{
  curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  fprintf(out, "mapillary %s (libcurl %s, GEOS %s, jansson %s)\n", MLY_VERSION, cv->version,
          GEOSversion(), jansson_version_str());
}

#!/usr/bin/env bash
# check_man.sh -- the man page renders without warnings; it and the bash completion know every long option of the CLI
#
# Usage: tests/docs/check_man.sh [SOURCE_DIR]
# Exit 0 when all is well, 1 on any problem (each printed on its own line),
# 77 when the drift checks passed but no man/groff is installed to render
# the page (CTest: SKIP_RETURN_CODE 77).
set -u
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
man_page=$src/docs/mapillary.1
completion=$src/completions/mapillary.bash
opts_c=$src/src/cli/cli_opts.c
fail=0
problem() { echo "check_man: $*"; fail=1; }

for f in "$man_page" "$completion" "$opts_c"; do
  [ -r "$f" ] || { echo "check_man: cannot read $f"; exit 1; }
done

# ---- the options: every {"name", ..._argument, ...} row of cli_opts.c ----
mapfile -t opts < <(sed -n 's/^[[:space:]]*{"\([A-Za-z0-9_-]*\)",[[:space:]]*\(no\|required\|optional\)_argument.*/\1/p' \
                    "$opts_c" | sort -u)
# a table that no longer matches the pattern must not pass as "no options"
[ "${#opts[@]}" -ge 10 ] || { echo "check_man: found ${#opts[@]} options in $opts_c; has the table changed form?"; exit 1; }

# ---- the man page names each one (underscore spelling stands for both) ----
# roff source with its escapes for '-', break points and zero-width spaces removed
man_text=$(sed -e 's/\\-/-/g' -e 's/\\://g' -e 's/\\&//g' "$man_page")
for o in "${opts[@]}"; do
  u=${o//-/_}
  grep -qE -- "--($o|$u)([^A-Za-z0-9_-]|\$)" <<<"$man_text" || problem "man page: --$o is not documented"
done

# ---- the completion offers each one, in its own spelling ----
# Ask the completion function itself, as bash would for "mapillary -<TAB>"
# and "mapillary get_mapillary_points -<TAB>".
offered=$(bash --norc --noprofile -c '
  source "$1" || exit 1
  for line in "mapillary -" "mapillary get_mapillary_points -"; do
    read -r -a COMP_WORDS <<<"$line"
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    _mapillary 2>/dev/null
    printf "%s\n" "${COMPREPLY[@]}"
  done' check "$completion" | sed 's/=$//' | sort -u)
[ -n "$offered" ] || problem "completion: offers nothing for 'mapillary get_mapillary_points -'"
for o in "${opts[@]}"; do
  grep -qx -- "--$o" <<<"$offered" || problem "completion: --$o is not offered"
done
# the other way round only warns: options may be documented ahead of the CLI
for w in $offered; do
  n=${w#--}
  printf '%s\n' "${opts[@]}" | grep -qx -- "$n" || echo "check_man: note: completion offers $w, which cli_opts.c does not know"
done

# ---- the workflow commands: the option table of each src/cli/cmd_<name>.c ----
# rows written with the CLI_OPT_* macros of cli_args.h; CLI_OPTS_MESSAGES
# and CLI_OPTS_NET stand for the shared options
nwf=0
for f in "$src"/src/cli/cmd_*.c; do
  grep -q 'CLI_OPT' "$f" || continue
  cmd=$(basename "$f" .c)
  cmd=${cmd#cmd_}
  mapfile -t wopts < <(
    sed -n 's/.*CLI_OPT_[A-Z]*("\([A-Za-z0-9_]*\)".*/\1/p' "$f"
    grep -q 'CLI_OPTS_MESSAGES\|CLI_OPTS_NET' "$f" && printf '%s\n' quiet progress
    grep -q 'CLI_OPTS_NET' "$f" && printf '%s\n' concurrency retries timeout graph_url max_requests
  )
  [ "${#wopts[@]}" -ge 1 ] || problem "$cmd: no options found in $f"
  grep -qE -- "^\.(B|SS|TP)?.*\b$cmd\b" <<<"$man_text" || problem "man page: command $cmd is not documented"
  woffered=$(bash --norc --noprofile -c '
    source "$1" || exit 1
    line="mapillary $2 -"
    read -r -a COMP_WORDS <<<"$line"
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _mapillary 2>/dev/null
    printf "%s\n" "${COMPREPLY[@]}"' check "$completion" "$cmd" | sed 's/=$//' | sort -u)
  for o in "${wopts[@]}"; do
    nwf=$((nwf + 1))
    grep -qE -- "--$o([^A-Za-z0-9_-]|\$)" <<<"$man_text" || problem "man page: $cmd --$o is not documented"
    grep -qx -- "--$o" <<<"$woffered" || problem "completion: $cmd --$o is not offered"
    grep -qx -- "--${o//_/-}" <<<"$woffered" || problem "completion: $cmd --${o//_/-} is not offered"
  done
  grep -q "mapillary $cmd " "$src/README.md" || problem "README.md: 'mapillary $cmd' is not shown"
done
[ "$nwf" -ge 3 ] || problem "found only $nwf workflow command options in src/cli/cmd_*.c; has the table changed form?"

# ---- a few completions behave as a user expects ----
complete_line() { # words... -> the candidates, one per line
  bash --norc --noprofile -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _mapillary 2>/dev/null
    printf "%s\n" "${COMPREPLY[@]}"' check "$completion" "$@"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/aoi.geojson" "$tmp/area.csv"
[ "$(complete_line mapillary get_)" = get_mapillary_points ] || problem "completion: 'mapillary get_' does not give get_mapillary_points"
[ "$(complete_line mapillary merge_c)" = merge_cache ] || problem "completion: 'mapillary merge_c' does not give merge_cache"
[ "$(complete_line mapillary get_mapillary_points --input_a)" = "--input_aoi=" ] || problem "completion: '--input_a' does not give --input_aoi="
[ "$(complete_line mapillary get_mapillary_points --input_aoi = "$tmp/aoi")" = "$tmp/aoi.geojson" ] || problem "completion: --input_aoi=<file> does not complete file names"
[ "$(complete_line mapillary get_mapillary_points --output-file-sequence "$tmp/ar")" = "$tmp/area.csv" ] || problem "completion: '--output-file-sequence <file>' does not complete file names"
[ "$(complete_line mapillary get_mapillary_points --cache = "$tmp/a" | wc -l)" = 2 ] || problem "completion: --cache=<file> does not complete file names"
[ -z "$(complete_line mapillary get_mapillary_points --field_name = "$tmp/a")" ] || problem "completion: --field_name= should not offer file names"

# ---- the page renders without a warning, at usual terminal widths ----
if command -v man >/dev/null 2>&1; then
  for width in 80 120 60; do
    warnings=$(MANWIDTH=$width man --warnings -l "$man_page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || problem "man --warnings at width $width: $warnings"
  done
elif command -v groff >/dev/null 2>&1; then
  warnings=$(groff -man -ww -z -Tutf8 "$man_page" 2>&1)
  [ -z "$warnings" ] || problem "groff warnings: $warnings"
else
  [ "$fail" = 0 ] && { echo "check_man: no man or groff to render the page (install man-db); skipped"; exit 77; }
fi

if [ "$fail" = 0 ]; then
  echo "check_man: ${#opts[@]} options and $nwf workflow command options documented and completed; page renders cleanly"
fi
exit "$fail"

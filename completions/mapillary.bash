# mapillary.bash -- bash completion of the mapillary command: subcommands, options in both spellings, file names
#
# Installed as share/bash-completion/completions/mapillary (loaded on
# demand by bash-completion), or source it from ~/.bashrc. It needs nothing
# from bash-completion itself. tests/docs/check_man.sh fails when a long
# option of src/cli/cli_opts.c is missing here.

# Options of get_mapillary_points that take a value, in the underscore
# spelling (the dashed one is derived). Those that name a file come first.
_mapillary_file_opts="input_aoi output_file_point output_file_sequence cache"
# download_mapillary_imgs' options that name a file or folder, and its other
# value options (not offered to get_mapillary_points)
_mapillary_dl_file_opts="input_file_points output_images_path output_file_points"
_mapillary_dl_value_opts="$_mapillary_dl_file_opts image_size fields"
_mapillary_value_opts="$_mapillary_file_opts field_name timestamp_from timestamp_to
  organization_ids tiles_url graph_url concurrency retries timeout max_tile_bytes max_tiles
  max_age max_requests max_retry_wait shard table_point table_sequence"
_mapillary_flag_opts="only_pano split_pano dry_run prune_empty no_id_repair organization_names
  quiet progress help"

_mapillary_commands="get_mapillary_points organizations organization merge_cache
  create_custom_sequences review simplify_sequence download_mapillary_imgs merge_sequences
  match_point_sequences simplify_points"

# The workflow commands' options (src/cli/cmd_<name>.c): those naming a
# file, other value options, flags; _mapillary_wf_opts gives each command's
# "value options|flags"
_mapillary_wf_file_opts="geojson_input geojson_out geojson_output geojson_polygons geojson_points
  input_points output_points review_html output_file_sequence"
_mapillary_wf_value_opts="buffer points_distance image_size"
_mapillary_wf_flag_opts="quiet progress help"
_mapillary_wf_opts()
{
  case ${1//-/_} in
    create_custom_sequences)
      echo "geojson_points output_file_sequence review_html image_size graph_url concurrency retries
        timeout|$_mapillary_wf_flag_opts" ;;
    simplify_sequence) echo "geojson_input buffer geojson_out|$_mapillary_wf_flag_opts" ;;
    merge_sequences) echo "geojson_input geojson_output|$_mapillary_wf_flag_opts" ;;
    match_point_sequences) echo "geojson_polygons geojson_points geojson_output|$_mapillary_wf_flag_opts" ;;
    simplify_points) echo "input_points points_distance output_points|$_mapillary_wf_flag_opts" ;;
    *) return 1 ;;
  esac
}

# Both spellings of each name: --name and --na-me
_mapillary_spellings()
{
  local n
  for n in "$@"; do
    printf -- '--%s\n' "$n"
    [[ $n == *_* ]] && printf -- '--%s\n' "${n//_/-}"
  done
}

# Whether option $1 (--x_y or --x-y) names a file
_mapillary_is_file_opt()
{
  local o=${1#--}
  o=${o//-/_}
  [[ " $_mapillary_file_opts $_mapillary_wf_file_opts $_mapillary_dl_file_opts " == *" $o "* ]]
}

# Whether option $1 takes a value
_mapillary_takes_value()
{
  local o=${1#--}
  o=${o//-/_}
  local v
  for v in $_mapillary_value_opts $_mapillary_wf_file_opts $_mapillary_wf_value_opts \
    $_mapillary_dl_value_opts; do
    [[ $v == "$o" ]] && return 0
  done
  return 1
}

# Complete the value of option $1 from text $2
_mapillary_value()
{
  if _mapillary_is_file_opt "$1"; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$2")
  elif [[ ${1//-/_} == __image_size ]]; then
    mapfile -t COMPREPLY < <(compgen -W "256 1024 2048 original" -- "$2")
  else
    COMPREPLY=() # free text: a bbox, a date, a number, a URL
  fi
}

_mapillary()
{
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # The subcommand: the last word naming one (chained command lines run
  # several), not counting a word that is an option's value
  local cmd="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    [[ $cmd == "" && $w != -* && $w != "=" ]] && { cmd=$w; continue; }
    if [[ " $_mapillary_commands " == *" ${w//-/_} "* ]] &&
       ! { [[ ${COMP_WORDS[i - 1]} == --* ]] && _mapillary_takes_value "${COMP_WORDS[i - 1]}"; }; then
      cmd=$w
    fi
  done

  # --opt=value: bash splits at '=' (COMP_WORDBREAKS), so the words are
  # "--opt" "=" "value"; only the part after '=' is replaced
  if [[ $cur == "=" && $prev == --* ]]; then
    _mapillary_value "$prev" ""
    return 0
  fi
  if [[ $prev == "=" && $COMP_CWORD -ge 2 && ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
    _mapillary_value "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
    return 0
  fi
  # --opt value (the space form)
  if [[ $prev == --* ]] && _mapillary_takes_value "$prev"; then
    _mapillary_value "$prev" "$cur"
    return 0
  fi

  local words
  case $cmd in
    "")
      if [[ $cur == -* ]]; then
        words="--help --version"
      else
        words=$_mapillary_commands
      fi
      ;;
    get_mapillary_points|get-mapillary-points|organizations)
      local v
      words=$(
        for v in $_mapillary_value_opts; do
          _mapillary_spellings "$v" | sed 's/$/=/'
        done
        # shellcheck disable=SC2086
        _mapillary_spellings $_mapillary_flag_opts
      )
      ;;
    merge_cache|merge-cache)
      # --cache=<dest> and the source caches: all files
      if [[ $cur != -* ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
      fi
      words="--cache= --help --quiet"
      ;;
    review)
      words="--geojson_input= --geojson-input= --review_html= --review-html= --quiet --progress --help"
      ;;
    download_mapillary_imgs|download-mapillary-imgs)
      words=$(_mapillary_spellings input_file_points= output_images_path= output_file_points= \
        image_size= fields= dry_run concurrency= retries= timeout= max_requests= graph_url= \
        quiet progress help)
      ;;
    organization)
      # then organization ids: nothing to guess
      words="--graph_url= --graph-url= --retries= --timeout= --help --quiet"
      ;;
    *)
      local spec
      spec=$(_mapillary_wf_opts "$cmd") || return 0
      words=$(
        for v in ${spec%%|*}; do
          _mapillary_spellings "$v" | sed 's/$/=/'
        done
        # shellcheck disable=SC2086
        _mapillary_spellings ${spec#*|}
      )
      if [[ $cur != -* ]]; then
        words="$words $_mapillary_commands" # the next command of a chain
      fi
      ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  # "--opt=" waits for its value: no space after it
  if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
    compopt -o nospace 2>/dev/null
  fi
  return 0
}

complete -F _mapillary mapillary

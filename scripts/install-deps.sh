#!/usr/bin/env bash
# install-deps.sh -- the Debian 12 packages the build, the example and the tests need
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config python3
      libcurl4-openssl-dev libjansson-dev libgeos-dev zlib1g-dev libsqlite3-dev libcmocka-dev
      sqlite3
      gdal-bin libgdal-dev postgresql-15 postgresql-15-postgis-3
      clang libclang-rt-14-dev man-db groff-base valgrind
      libjpeg-turbo-progs)  # cjpeg: the test server's real JPEGs
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# run.sh BINARY WORKDIR [--screenshot PNG] -- the review page's browser test
#
# Installs what it needs: Debian's chromium (apt-get, when missing) and
# playwright-core (npm ci from the committed package-lock.json, into
# WORKDIR, never into the source tree), then runs review.test.js. Exit 77
# (skipped) only when chromium cannot be installed. With --screenshot, the
# screenshot the test took is copied to PNG (how docs/review.png is made:
#   tests/browser/run.sh build/mapillary build/tests/browser-work --screenshot docs/review.png).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=$(realpath "$1")
work=$(mkdir -p "$2" && cd "$2" && pwd)
shot=""
if [ "${3:-}" = "--screenshot" ]; then shot=$4; fi

chromium=${MLY_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "browser test: installing chromium" >&2
  if ! { $SUDO apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
           --no-install-recommends chromium fonts-dejavu-core >/dev/null; } || [ ! -x "$chromium" ]; then
    echo "browser test: chromium cannot be installed here: skipped" >&2
    exit 77
  fi
fi

# node and npm: Debian's when the machine has none
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "browser test: installing nodejs and npm" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends nodejs npm >/dev/null
fi

# playwright-core, exactly as locked, only when the lock changed
modules=$work/npm
if ! cmp -s "$here/package-lock.json" "$modules/package-lock.json" 2>/dev/null ||
   [ ! -d "$modules/node_modules/playwright-core" ]; then
  rm -rf "$modules"
  mkdir -p "$modules"
  cp "$here/package.json" "$here/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

MLY_BINARY=$binary MLY_WORK=$work/run MLY_NODE_MODULES=$modules/node_modules MLY_CHROMIUM=$chromium \
  node "$here/review.test.js"
if [ -n "$shot" ]; then
  cp "$work/run/review.png" "$shot"
  echo "browser test: screenshot written to $shot" >&2
fi

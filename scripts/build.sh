#!/usr/bin/env bash
# Configures (once) and builds arca into build/ with Ninja and ccache.
set -euo pipefail
cd "$(dirname "$0")/.."
# Let ccache share objects between clones of the repository (paths are hashed relative to here).
export CCACHE_BASEDIR="$PWD"
export CCACHE_NOHASHDIR=true
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
jobs=$(nproc)
ninja -C build -j "$jobs" "$@"

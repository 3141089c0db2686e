#!/usr/bin/env bash
# Configures (once) and builds arca into build/ with Ninja and ccache.
#   scripts/build.sh [ninja args]              build/: RelWithDebInfo, tcmalloc
#   scripts/build.sh --sanitize [ninja args]   build-asan/: the same with ASan + UBSan, no tcmalloc
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
sanitize_flags=()
if [ "${1:-}" = "--sanitize" ]; then
  shift
  dir=build-asan
  sanitize_flags=(-DARCA_SANITIZE=address,undefined)
fi
# Let ccache share objects between clones of the repository (paths are hashed relative to here).
export CCACHE_BASEDIR="$PWD"
export CCACHE_NOHASHDIR=true
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${sanitize_flags[@]}" >/dev/null
fi
jobs=$(nproc)
ninja -C "$dir" -j "$jobs" "$@"

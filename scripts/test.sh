#!/usr/bin/env bash
# Installs what is missing, builds arca and its tests, and runs the whole suite (unit tests,
# then integration tests that drive the real binary with real package managers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh
cd build
ctest --output-on-failure --timeout 1500 "$@"

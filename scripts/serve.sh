#!/usr/bin/env bash
# Installs what is missing, builds arca and runs `arca serve` with the embedded default
# configuration (http://127.0.0.1:5080, data in ./arca-data). Extra arguments go to `arca serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh arca
exec build/arca serve "$@"

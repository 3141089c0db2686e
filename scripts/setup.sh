#!/usr/bin/env bash
# Installs what building and testing arca needs on Debian 12, as root. Idempotent: when
# everything is already there it only checks (a second or so) and changes nothing.
#   scripts/setup.sh          build dependencies
#   scripts/setup.sh --test   build and test dependencies
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

build_packages=(cmake ninja-build ccache g++ pkg-config ca-certificates
  libboost1.81-dev librocksdb-dev nlohmann-json3-dev doctest-dev libpugixml-dev
  libarchive-dev libzstd-dev zlib1g-dev libssl-dev libspdlog-dev libcli11-dev
  libgoogle-perftools-dev libyaml-cpp-dev)
# pip (23.0.1 in venvs), the wheels venvs and the PyPI tests use, twine and python3-build.
test_packages=(openssl python3 curl python3-venv python3-pip-whl python3-setuptools-whl
  python3-wheel-whl twine python3-build)

# The AWS CLI (v2) drives the CodeArtifact API tests.
test_packages+=(awscli)

# Ruby 3.1 with gem 3.3 and bundler 2.3 drive the RubyGems tests.
test_packages+=(ruby ruby-bundler)

# Maven 3.8 (Java 17) and Debian's plugin packages: they fill /usr/share/maven-repo, which the
# Maven tests serve as the stand-in upstream.
test_packages+=(maven libmaven-resources-plugin-java libmaven-compiler-plugin-java libsurefire-java
  libmaven-jar-plugin-java libmaven-install-plugin-java libmaven-deploy-plugin-java
  libmaven-dependency-plugin-java)

# poetry 1.3 and pipenv 2022.12 drive tests/integration/clients_python.test.mjs; Gradle 4.4
# (about 95 packages with its Java/Groovy dependencies) drives clients_gradle.test.mjs.
test_packages+=(python3-poetry pipenv gradle)

packages=("${build_packages[@]}")
[ $want_test = 1 ] && packages+=("${test_packages[@]}")
# node and npm drive the integration tests; any installed node >= 18 will do.
if [ $want_test = 1 ] && ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
# Debian's `nuget` (2.8.7, on mono) drives the NuGet V2 feed tests; installed only when missing.
if [ $want_test = 1 ] && ! command -v nuget >/dev/null 2>&1; then
  packages+=(nuget)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tests/integration/package.json: the CodeArtifact tests drive @aws-sdk/client-codeartifact, and
# clients_npm.test.mjs drives yarn v1, Yarn Berry (@yarnpkg/cli-dist), pnpm and bun (whose
# binary comes in an optional dependency, @oven/bun-linux-*) from tests/integration/node_modules.
# `npm install` runs only when one of them is missing (it then installs only what is missing).
if [ $want_test = 1 ]; then
  it_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/integration"
  node_missing=()
  for f in @aws-sdk/client-codeartifact/package.json yarn/bin/yarn.js @yarnpkg/cli-dist/bin/yarn.js \
      pnpm/bin/pnpm.cjs bun/bin/bun.exe; do
    [ -f "$it_dir/node_modules/$f" ] || node_missing+=("${f%%/bin/*}")
  done
  if [ ${#node_missing[@]} -gt 0 ]; then
    echo "setup: installing ${node_missing[*]%/package.json} for the integration tests"
    (cd "$it_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

# The Cargo tests drive rustup's cargo (~/.cargo/bin/cargo; Debian 12's cargo predates sparse
# registries). Installed with rustup's minimal profile only when missing.
if [ $want_test = 1 ] && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "setup: installing cargo (rustup, minimal profile) for the Cargo tests"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y -q --profile minimal --no-modify-path
fi

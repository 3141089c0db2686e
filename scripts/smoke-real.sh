#!/usr/bin/env bash
# Smoke test against the real public registries (not run by CI; needs the internet).
#
#   scripts/smoke-real.sh [npm] [pip] [maven] [cargo]     (default: all four)
#   SMOKE_KEEP=DIR          also copy every log into DIR
#   SMOKE_DIRECT=0          skip resolving the projects directly against the public registries
#   SMOKE_WARM_DELAY=310    wait before the warm run, so that arca's cached metadata is older than
#                           metadata_ttl_seconds (300) and has to be revalidated (and fail over to
#                           the stale copy) instead of being served fresh
#
# Starts build/arca with its embedded default configuration (no --config; ARCA_DATA_DIR and
# ARCA_LISTEN point into a temporary directory and at a free port) and drives real clients through
# repository `main` in domain `local`:
#   npm    `npm ci` of a generated project (express, webpack, eslint, ... : a few hundred packages;
#          its package-lock.json is made once with `npm install --package-lock-only` through arca)
#   pip    `pip install -r` of real packages with wheels and an sdist-only one, into a fresh venv
#   maven  `mvn package` of a tiny project with a JUnit test (plugins resolved through arca)
#   cargo  `cargo build` of a tiny crate depending on serde (derive), serde_json, itoa, anyhow
# Each runs twice with fresh client caches: cold (arca fills from the internet), then warm, with
# arca restarted with HTTPS_PROXY/HTTP_PROXY pointing at an unreachable proxy so that everything has
# to come from arca's store. The clients themselves always have that unreachable proxy (and
# NO_PROXY=127.0.0.1), so they cannot reach the internet except through arca.
# Prints one markdown table. Bytes are arca's `arca_bytes_served_total` (asset bytes sent to the
# client) for the cold / warm run. Exits non-zero when a run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARCA=$ROOT/build/arca
[ -x "$ARCA" ] || { echo "build/arca is missing: run scripts/build.sh first" >&2; exit 2; }

clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(npm pip maven cargo)
for c in "${clients[@]}"; do
  case $c in npm | pip | maven | cargo) ;; *) echo "unknown client: $c (npm, pip, maven, cargo)" >&2; exit 2 ;; esac
done

T=$(mktemp -d "${TMPDIR:-/tmp}/arca-smoke.XXXXXX")
ARCA_PID= ARCA_MODE=
cleanup() {
  local rc=$?
  if [ -n "$ARCA_PID" ]; then kill "$ARCA_PID" 2>/dev/null || true; wait "$ARCA_PID" 2>/dev/null || true; fi
  if [ -n "${SMOKE_KEEP:-}" ]; then
    mkdir -p "$SMOKE_KEEP"
    find "$T" -maxdepth 1 \( -name '*.log' -o -name '*.txt' \) -exec cp {} "$SMOKE_KEEP"/ \; 2>/dev/null || true
    cp -r "$T/projects" "$SMOKE_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Tools, resolved before HOME is changed (rustup and pyenv find their homes through it).
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
export HOME=$T/home
mkdir -p "$HOME" "$T/projects"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
DEAD_PROXY=http://127.0.0.1:9   # discard port: nothing listens, every connection is refused

# --- arca ---------------------------------------------------------------------------------------
start_arca() {  # start_arca online|offline
  local mode=$1
  ARCA_MODE=$mode
  (
    cd "$T"
    unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy NO_PROXY no_proxy ALL_PROXY all_proxy
    if [ "$mode" = offline ]; then export HTTPS_PROXY=$DEAD_PROXY HTTP_PROXY=$DEAD_PROXY; fi
    ARCA_DATA_DIR=$T/arca-data ARCA_LISTEN=127.0.0.1:$PORT exec "$ARCA" serve
  ) >>"$T/arca-$mode.log" 2>&1 &
  ARCA_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null --noproxy '*' "$BASE/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$ARCA_PID" 2>/dev/null || { echo "arca exited:" >&2; tail -5 "$T/arca-$mode.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "arca did not become ready on $BASE" >&2
  exit 1
}
stop_arca() {
  kill "$ARCA_PID" 2>/dev/null || true
  wait "$ARCA_PID" 2>/dev/null || true
  ARCA_PID=
}
metric() {  # the value of an unlabelled counter (0 when arca does not answer)
  local v
  v=$(curl -fsS --noproxy '*' "$BASE/metrics" 2>/dev/null | awk -v m="$1" '$1 == m { print $2 }') || true
  echo "${v:-0}"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }
human() { awk -v n="$1" 'BEGIN { if (n >= 1048576) printf "%.1f MiB", n / 1048576; else printf "%.0f KiB", n / 1024 }'; }

# Clients: never the internet directly, never the user's configuration.
client_env() {
  local v
  for v in $(compgen -e); do
    case $v in PIP_* | NPM_CONFIG_* | npm_config_* | CARGO_* | MAVEN_* | UV_*) unset "$v" ;; esac
  done
  export HTTPS_PROXY=$DEAD_PROXY https_proxy=$DEAD_PROXY HTTP_PROXY=$DEAD_PROXY http_proxy=$DEAD_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
}

# run NAME PHASE CMD...: runs CMD in a subshell with the client environment, logs to
# $T/NAME-PHASE.log, sets RUN_OK (0/1), RUN_TIME, RUN_BYTES and RUN_WHY (a failure's reason).
run() {
  local name=$1 phase=$2
  shift 2
  local log=$T/$name-$phase.log b0 b1 t0 t1 rc=0
  b0=$(metric arca_bytes_served_total)
  t0=$(now)
  (client_env; "$@") >"$log" 2>&1 || rc=$?
  t1=$(now)
  b1=$(metric arca_bytes_served_total)
  RUN_TIME=$(elapsed "$t0" "$t1")
  RUN_BYTES=$((b1 - b0))
  if ! kill -0 "$ARCA_PID" 2>/dev/null; then  # arca died under the client: say so, start it again
    RUN_OK=0 RUN_WHY="arca exited: $(tail -1 "$T/arca-$ARCA_MODE.log" | cut -c1-160 | tr '|' '/')"
    echo "--- arca exited during $name $phase; last lines of $T/arca-$ARCA_MODE.log:" >&2
    tail -15 "$T/arca-$ARCA_MODE.log" >&2
    wait "$ARCA_PID" 2>/dev/null || true
    start_arca "$ARCA_MODE"
  elif [ "$rc" -eq 0 ]; then
    RUN_OK=1 RUN_WHY=
  else
    RUN_OK=0
    RUN_WHY="exit $rc: $(grep -Eim1 'error|failed|could not|not found|E404|E5[0-9][0-9]' "$log" | cut -c1-160 | tr '|' '/' || true)"
    echo "--- $name $phase failed (exit $rc), last lines of $log:" >&2
    tail -15 "$log" >&2
  fi
}

ROWS=()
FAILED=0
declare -A COLD_OK COLD_TIME COLD_BYTES COLD_WHY PKGS
record_cold() {
  COLD_OK[$1]=$RUN_OK COLD_TIME[$1]=$RUN_TIME COLD_BYTES[$1]=$RUN_BYTES COLD_WHY[$1]=$RUN_WHY
  PKGS[$1]=$2
}
record_warm() {  # record_warm NAME PROJECT PACKAGES
  local name=$1 result
  if [ "${COLD_OK[$name]}" = 1 ] && [ "$RUN_OK" = 1 ]; then
    result=ok
  else
    FAILED=1
    result=failed
    [ "${COLD_OK[$name]}" = 1 ] || result+=" cold (${COLD_WHY[$name]})"
    [ "$RUN_OK" = 1 ] || result+=" warm ($RUN_WHY)"
  fi
  local pk=${PKGS[$name]}
  [ "$3" = "${PKGS[$name]}" ] || pk="$pk cold / $3 warm"
  ROWS+=("| $name | $2 | $result | ${COLD_TIME[$name]} | $RUN_TIME | $pk | $(human "${COLD_BYTES[$name]}") / $(human "$RUN_BYTES") | ${SAME[$name]} |")
}
has() { local c; for c in "${clients[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }

# --- projects -----------------------------------------------------------------------------------
NPM_REGISTRY=$BASE/local/npm/main/
PIP_INDEX=$BASE/local/pypi/main/simple/
MAVEN_URL=$BASE/local/maven/main/
CARGO_INDEX=sparse+$BASE/local/cargo/main/

npm_env() {  # npm_env DIR: a userconfig of our own (the user's may say omit-lockfile-registry-resolved)
  export NPM_CONFIG_USERCONFIG=$1/npmrc NPM_CONFIG_CACHE=$1/npm-cache
  printf 'registry=%s\naudit=false\nfund=false\nupdate-notifier=false\n' "$NPM_REGISTRY" >"$1/npmrc"
}
npm_project() {
  local p=$T/projects/npm
  mkdir -p "$p"
  cat >"$p/package.json" <<'EOF'
{
  "name": "arca-smoke-npm",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "express": "^4.21.0",
    "webpack": "^5.94.0",
    "eslint": "^8.57.0",
    "typescript": "^5.6.0",
    "lodash": "^4.17.21",
    "axios": "^1.7.0",
    "chalk": "^4.1.2",
    "commander": "^12.1.0",
    "@babel/core": "^7.25.0",
    "@types/node": "^22.0.0"
  }
}
EOF
}
npm_lock() { npm_env "$T/npm-lock"; cd "$T/projects/npm" && npm install --package-lock-only --no-audit --no-fund; }
npm_ci() {  # npm_ci PHASE
  local d=$T/npm-$1
  mkdir -p "$d"
  rm -rf "$d/project" && cp -r "$T/projects/npm" "$d/project"
  npm_env "$d"
  cd "$d/project" && npm ci --no-audit --no-fund
}
npm_lock_count() { python3 -c 'import json,sys; print(sum(1 for k in json.load(open(sys.argv[1]))["packages"] if k))' "$T/projects/npm/package-lock.json"; }

pip_project() {
  mkdir -p "$T/projects/pip"
  # Wheels (pure and binary), and docopt 0.6.2, which PyPI has only as an sdist (built with
  # setuptools fetched through arca into pip's isolated build environment).
  cat >"$T/projects/pip/requirements.txt" <<'EOF'
requests
PyYAML
MarkupSafe
Jinja2
click
attrs
packaging
python-dateutil
six
docopt==0.6.2
EOF
}
pip_install() {  # pip_install PHASE
  local d=$T/pip-$1
  rm -rf "$d" && mkdir -p "$d"
  export PIP_CONFIG_FILE=/dev/null PIP_CACHE_DIR=$d/cache PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  "$PYTHON" -m venv "$d/venv"
  "$d/venv/bin/pip" install --index-url "$PIP_INDEX" -r "$T/projects/pip/requirements.txt"
}
pip_count() { grep -h '^Successfully installed' "$T/pip-$1.log" | tr ' ' '\n' | grep -c -- '-[0-9]' || true; }

maven_project() {
  local p=$T/projects/maven
  mkdir -p "$p/src/main/java/smoke" "$p/src/test/java/smoke"
  cat >"$p/pom.xml" <<'EOF'
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>arca.smoke</groupId>
  <artifactId>smoke</artifactId>
  <version>1.0.0</version>
  <packaging>jar</packaging>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId><version>33.3.1-jre</version></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version><scope>test</scope></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
      <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
      <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.5.1</version></plugin>
      <plugin><artifactId>maven-jar-plugin</artifactId><version>3.4.2</version></plugin>
    </plugins>
  </build>
</project>
EOF
  cat >"$p/src/main/java/smoke/Greeter.java" <<'EOF'
package smoke;

import com.google.common.base.Joiner;

public final class Greeter {
  public static String greet(String... names) { return "hello " + Joiner.on(", ").join(names); }
}
EOF
  cat >"$p/src/test/java/smoke/GreeterTest.java" <<'EOF'
package smoke;

import static org.junit.Assert.assertEquals;
import org.junit.Test;

public class GreeterTest {
  @Test public void greets() { assertEquals("hello a, b", Greeter.greet("a", "b")); }
}
EOF
}
maven_package() {  # maven_package PHASE
  local d=$T/maven-$1
  rm -rf "$d" && mkdir -p "$d"
  cp -r "$T/projects/maven" "$d/project"
  cat >"$d/settings.xml" <<EOF
<settings>
  <mirrors>
    <mirror><id>arca</id><mirrorOf>*</mirrorOf><url>$MAVEN_URL</url></mirror>
  </mirrors>
</settings>
EOF
  unset MAVEN_OPTS
  cd "$d/project" && mvn -B -V -s "$d/settings.xml" -gs "$d/settings.xml" -Dmaven.repo.local="$d/repo" package
}
maven_count() { find "$T/maven-$1/repo" -name '*.pom' 2>/dev/null | wc -l; }

cargo_project() {
  local p=$T/projects/cargo
  mkdir -p "$p/src"
  cat >"$p/Cargo.toml" <<'EOF'
[package]
name = "arca-smoke"
version = "0.1.0"
edition = "2021"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
itoa = "1"
anyhow = "1"
EOF
  cat >"$p/src/main.rs" <<'EOF'
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct Point { x: i64, y: i64 }

fn main() -> anyhow::Result<()> {
    let p: Point = serde_json::from_str(r#"{"x": 1, "y": 2}"#)?;
    let mut buf = itoa::Buffer::new();
    println!("{:?} {}", p, buf.format(p.x + p.y));
    Ok(())
}
EOF
}
cargo_build() {  # cargo_build PHASE: the warm run builds with the cold run's Cargo.lock (--locked)
  local d=$T/cargo-$1 locked=()
  rm -rf "$d" && mkdir -p "$d/home"
  cp -r "$T/projects/cargo" "$d/project"
  cat >"$d/home/config.toml" <<EOF
[registries.arca]
index = "$CARGO_INDEX"

[source.crates-io]
replace-with = "arca-src"

[source.arca-src]
registry = "$CARGO_INDEX"
EOF
  export CARGO_HOME=$d/home CARGO_TARGET_DIR=$d/target CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never
  [ "$1" = cold ] || locked=(--locked)
  cd "$d/project" && cargo build "${locked[@]}" && cargo run -q "${locked[@]}"
}
cargo_count() { grep -c '^\[\[package\]\]' "$T/cargo-$1/project/Cargo.lock" 2>/dev/null | awk '{ print $1 - 1 }'; }

# --- the same projects resolved directly against the public registries (SMOKE_DIRECT=0 skips) ---
# Each writes a sorted list of what the client resolved or downloaded to $T/NAME-direct.txt (npm:
# every package-lock entry but `resolved`; pip: name==version; Maven: the .pom and .jar files in
# the local repository; cargo: name@version, source and checksum from Cargo.lock); the arca run's
# list goes to $T/NAME-arca.txt; the table's "same as direct" column compares them.
direct_env() {  # the user's proxy settings, none of ours; the user's configuration still ignored
  local v cert=${PIP_CERT:-}
  for v in $(compgen -e); do
    case $v in PIP_* | NPM_CONFIG_* | npm_config_* | CARGO_* | MAVEN_* | UV_*) unset "$v" ;; esac
  done
  [ -z "$cert" ] || export PIP_CERT=$cert   # a CA bundle the site may need to reach pypi.org
}
npm_list() { python3 -c '
import json, sys
for k, v in json.load(open(sys.argv[1]))["packages"].items():
    if k: print(k, json.dumps({f: x for f, x in v.items() if f != "resolved"}, sort_keys=True))' "$1" | sort; }
npm_direct() {
  local d=$T/npm-direct
  mkdir -p "$d" && cp "$T/projects/npm/package.json" "$d/"
  export NPM_CONFIG_USERCONFIG=$d/npmrc NPM_CONFIG_CACHE=$d/npm-cache
  printf 'registry=https://registry.npmjs.org/\naudit=false\nfund=false\nupdate-notifier=false\n' >"$d/npmrc"
  cd "$d" && npm install --package-lock-only --no-audit --no-fund && npm_list package-lock.json >"$T/npm-direct.txt"
}
pip_norm() { tr 'A-Z_.' 'a-z--' | sort -u; }
pip_direct() {
  local d=$T/pip-direct
  rm -rf "$d" && mkdir -p "$d"
  export PIP_CONFIG_FILE=/dev/null PIP_CACHE_DIR=$d/cache PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  "$PYTHON" -m venv "$d/venv"
  "$d/venv/bin/pip" install --dry-run --ignore-installed --report "$d/report.json" -r "$T/projects/pip/requirements.txt"
  python3 -c '
import json, sys
for i in json.load(open(sys.argv[1]))["install"]: print(i["metadata"]["name"] + "==" + i["metadata"]["version"])' \
    "$d/report.json" | pip_norm >"$T/pip-direct.txt"
}
pip_arca_list() { "$T/pip-cold/venv/bin/pip" freeze --all | grep -viE '^(pip|setuptools)==' | pip_norm; }
maven_files() { (cd "$1" && find . -type f \( -name '*.jar' -o -name '*.pom' \) | sed 's|^\./||' | sort); }
maven_direct() {
  local d=$T/maven-direct
  rm -rf "$d" && mkdir -p "$d"
  cp -r "$T/projects/maven" "$d/project"
  echo '<settings/>' >"$d/settings.xml"
  unset MAVEN_OPTS
  cd "$d/project" && mvn -B -s "$d/settings.xml" -gs "$d/settings.xml" -Dmaven.repo.local="$d/repo" package \
    && maven_files "$d/repo" >"$T/maven-direct.txt"
}
cargo_list() {
  awk '/^name = /{ n = $3 } /^version = /{ v = $3 } /^source = /{ s = $3 } /^checksum = /{ c = $3 }
       /^$/ { if (n != "" && n != "\"arca-smoke\"") print n "@" v, s, c; n = v = s = c = "" }
       END { if (n != "" && n != "\"arca-smoke\"") print n "@" v, s, c }' "$1" | tr -d '"' | sort
}
cargo_direct() {
  local d=$T/cargo-direct
  rm -rf "$d" && mkdir -p "$d/home"
  cp -r "$T/projects/cargo" "$d/project" && rm -f "$d/project/Cargo.lock"
  export CARGO_HOME=$d/home CARGO_TARGET_DIR=$d/target CARGO_TERM_COLOR=never
  cd "$d/project" && cargo generate-lockfile && cargo_list Cargo.lock >"$T/cargo-direct.txt"
}
declare -A SAME
compare() {  # compare NAME: sets SAME[NAME]
  local name=$1 a=$T/$1-arca.txt d=$T/$1-direct.txt
  if [ "${SMOKE_DIRECT:-1}" = 0 ]; then SAME[$name]="not run"; return; fi
  if [ ! -s "$d" ]; then SAME[$name]="direct run failed"; return; fi
  if [ ! -s "$a" ]; then SAME[$name]="-"; return; fi
  local only_arca only_direct
  only_arca=$(comm -23 "$a" "$d" | wc -l)
  only_direct=$(comm -13 "$a" "$d" | wc -l)
  if [ "$only_arca" = 0 ] && [ "$only_direct" = 0 ]; then
    SAME[$name]="yes ($(wc -l <"$a"))"
  else
    SAME[$name]="no: $only_arca only through arca, $only_direct only direct"
    echo "--- $name: through arca (<) vs direct (>):" >&2
    diff "$a" "$d" | grep '^[<>]' | head -40 >&2 || true
  fi
}
run_direct() {  # run_direct NAME FN
  [ "${SMOKE_DIRECT:-1}" != 0 ] || return 0
  if ! (direct_env; "$2") >"$T/$1-direct.log" 2>&1; then
    echo "--- $1 direct run failed, last lines of $T/$1-direct.log:" >&2
    tail -10 "$T/$1-direct.log" >&2
  fi
}

# --- cold: arca online ---------------------------------------------------------------------------
start_arca online
echo "arca on $BASE (data in $T/arca-data)" >&2
if has npm; then
  npm_project
  mkdir -p "$T/npm-lock"
  run npm lock npm_lock
  if [ "$RUN_OK" = 1 ]; then
    echo "npm: package-lock.json with $(npm_lock_count) packages ($RUN_TIME)" >&2
    run npm cold npm_ci cold
  fi
  record_cold npm "$(npm_lock_count 2>/dev/null || echo '?')"
  [ ! -f "$T/projects/npm/package-lock.json" ] || npm_list "$T/projects/npm/package-lock.json" >"$T/npm-arca.txt"
  run_direct npm npm_direct
  compare npm
fi
if has pip; then
  pip_project
  run pip cold pip_install cold
  record_cold pip "$(pip_count cold)"
  [ "$RUN_OK" = 0 ] || pip_arca_list >"$T/pip-arca.txt"
  run_direct pip pip_direct
  compare pip
fi
if has maven; then
  maven_project
  run maven cold maven_package cold
  record_cold maven "$(maven_count cold)"
  [ "$RUN_OK" = 0 ] || maven_files "$T/maven-cold/repo" >"$T/maven-arca.txt"
  run_direct maven maven_direct
  compare maven
fi
if has cargo; then
  cargo_project
  run cargo cold cargo_build cold
  [ ! -f "$T/cargo-cold/project/Cargo.lock" ] || cp "$T/cargo-cold/project/Cargo.lock" "$T/projects/cargo/"
  record_cold cargo "$(cargo_count cold)"
  [ "$RUN_OK" = 0 ] || cargo_list "$T/cargo-cold/project/Cargo.lock" >"$T/cargo-arca.txt"
  run_direct cargo cargo_direct
  compare cargo
fi
if has pip; then
  # PEP 691 + 658: how many files on the JSON page of `requests` offer core metadata, through arca
  # and (unless SMOKE_DIRECT=0) on pypi.org itself.
  core_metadata() {
    python3 -c 'import json, sys; f = json.load(sys.stdin)["files"]; print(sum(1 for x in f if x.get("core-metadata") or x.get("dist-info-metadata")), "of", len(f))'
  }
  meta=$(curl -fsS --noproxy '*' -H 'Accept: application/vnd.pypi.simple.v1+json' "${PIP_INDEX}requests/" | core_metadata || echo '?')
  up=
  [ "${SMOKE_DIRECT:-1}" = 0 ] ||
    up=", on pypi.org for $(curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/requests/ | core_metadata || echo '?')"
  echo "pip: $(grep -c 'GET /local/pypi/main/files/.*\.metadata ' "$T/arca-online.log" || true) PEP 658 .metadata requests;" \
    "the PEP 691 page of requests offers core metadata through arca for $meta files$up" >&2
fi
echo "cold: upstream requests $(metric arca_upstream_requests_total), upstream errors $(metric arca_upstream_errors_total)" >&2
stop_arca

# --- warm: arca restarted with its upstreams unreachable ----------------------------------------
if [ "${SMOKE_WARM_DELAY:-0}" -gt 0 ]; then
  echo "waiting ${SMOKE_WARM_DELAY} s (cached metadata older than metadata_ttl_seconds must be revalidated)" >&2
  sleep "$SMOKE_WARM_DELAY"
fi
start_arca offline
if has npm; then
  run npm warm npm_ci warm
  record_warm npm "express, webpack, eslint, typescript, @babel/core, ... (npm ci)" "$(npm_lock_count)"
fi
if has pip; then
  run pip warm pip_install warm
  record_warm pip "requests, PyYAML, Jinja2, ... + docopt (sdist)" "$(pip_count warm)"
fi
if has maven; then
  run maven warm maven_package warm
  record_warm maven "jar + guava + junit 4 test (mvn package)" "$(maven_count warm)"
fi
if has cargo; then
  run cargo warm cargo_build warm
  record_warm cargo "serde (derive), serde_json, itoa, anyhow (cargo build)" "$(cargo_count warm)"
fi
echo "warm: upstream requests $(metric arca_upstream_requests_total), upstream errors $(metric arca_upstream_errors_total)," \
  "stale metadata served $(curl -fsS --noproxy '*' "$BASE/metrics" | awk '$1 == "arca_metadata_requests_total{outcome=\"stale\"}" { print $2 }')" >&2
stop_arca

echo
echo "| client | project | result | time cold | time warm (upstreams unreachable) | packages | bytes from arca (cold / warm) | same as direct |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"

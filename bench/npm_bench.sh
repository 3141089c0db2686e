#!/usr/bin/env bash
# arca npm benchmark: warm throughput against nginx, RSS under a 500 MB fan-out, cold TTFB.
#
#   bench/npm_bench.sh                 # progress on stderr, markdown table on stdout
#   bench/npm_bench.sh > results.md    # just the table in results.md
#
# Needs: build/arca (build it first: scripts/build.sh), wrk, nginx (nginx-light), curl, node.
# Knobs (environment): ARCA_BIN, DURATION (10s), CONNECTIONS (32), WRK_THREADS (2),
# SERVER_THREADS (2: arca listener.threads and nginx worker_processes), CLIENTS (100),
# BIG_MB (500), RSS_TIMEOUT (90: seconds per fan-out phase), COLD_N (20),
# PACKUMENT_VERSIONS (500), KEEP_TMP (0: delete the temp dir).
# See bench/README.md for what each figure means.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ARCA_BIN=${ARCA_BIN:-$root/build/arca}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-2}
SERVER_THREADS=${SERVER_THREADS:-2}
CLIENTS=${CLIENTS:-100}
BIG_MB=${BIG_MB:-500}
RSS_TIMEOUT=${RSS_TIMEOUT:-90}
COLD_N=${COLD_N:-20}
PACKUMENT_VERSIONS=${PACKUMENT_VERSIONS:-500}
KEEP_TMP=${KEEP_TMP:-0}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in wrk nginx curl node awk cmp; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y wrk nginx-light curl nodejs)"
done
[[ -x $ARCA_BIN ]] || die "arca binary not found at $ARCA_BIN (build it first, or set ARCA_BIN)"

tmp=$(mktemp -d /tmp/arca-bench.XXXXXX)
chmod 755 "$tmp"   # nginx workers may run as another user
pids=()
sampler_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ $KEEP_TMP == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_file FILE PID SECONDS: until FILE exists, PID dies, or the time is up.
wait_for_file() {
  local file=$1 pid=$2 deadline=$((SECONDS + $3))
  while [[ ! -s $file ]]; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
fixture() { node -e 'const f=require(process.argv[1]);let v=f;for(const k of process.argv.slice(2))v=v[k];console.log(v)' "$tmp/up/fixtures.json" "$@"; }
rss_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN{printf "%.1f", kb/1024}'; }
median() { sort -g | awk '{a[NR]=$1} END{if(NR==0){print "nan";exit} if(NR%2)print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
upstream_hits() { curl -s "$UP/_stats" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }

# idle_pct SECONDS: share of CPU time the whole machine spent idle over that many seconds.
idle_pct() {
  local a b
  a=($(head -1 /proc/stat)); sleep "$1"; b=($(head -1 /proc/stat))
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN{ n=split(a,x," "); split(b,y," "); t=0
    for(i=2;i<=n;i++) t+=y[i]-x[i]; idle=(y[5]-x[5])+(y[6]-x[6]); printf "%.0f", (t > 0 ? 100 * idle / t : 100) }'
}
start=$SECONDS
log "temp dir $tmp; $(nproc) cores; $(uname -sr)"
idle_before=$(idle_pct 2)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "machine idle before the run: ${idle_before}% (load average $load_before)"
((idle_before >= 90)) || log "WARNING: the machine is busy; other processes will disturb the figures"

# ---------------------------------------------------------------- stand-in upstream
log "starting the stand-in npm registry (generating a ${BIG_MB} MB tarball, streaming sha512)"
node "$here/upstream.js" --dir "$tmp/up" --port-file "$tmp/up.port" --big-mb "$BIG_MB" \
  --cold "$COLD_N" --packument-versions "$PACKUMENT_VERSIONS" >"$tmp/upstream.log" 2>&1 &
up_pid=$!; pids+=("$up_pid")
wait_for_file "$tmp/up.port" "$up_pid" 120 || { cat "$tmp/upstream.log" >&2; die "stand-in upstream did not start"; }
UP="http://127.0.0.1:$(cat "$tmp/up.port")"

# ---------------------------------------------------------------- arca
mkdir -p "$tmp/arca"
cat >"$tmp/arca/config.json" <<EOF
{
  "listen": "127.0.0.1:0",
  "port_file": "$tmp/arca/port",
  "data_dir": "$tmp/arca/data",
  "log_level": "warn",
  "listener": { "threads": $SERVER_THREADS },
  "external_connections": {
    "public:npmjs": { "url": "$UP/", "metadata_ttl_seconds": 3600 }
  },
  "domains": [ { "name": "local", "repositories": [
    { "name": "npm-store", "external_connection": "public:npmjs" },
    { "name": "main", "upstreams": ["npm-store"] } ] } ]
}
EOF
cp "$ARCA_BIN" "$tmp/arca/arca"   # a rebuild during the run must not swap the binary under us
arca_version=$("$tmp/arca/arca" --version 2>&1 | head -1 || true)
# arca runs with its log appended to $tmp/arca/log; if it dies during a measurement, the
# measurement is reported as a crash and arca is restarted on the same data directory.
arca_starts=0
start_arca() {
  rm -f "$tmp/arca/port"
  arca_starts=$((arca_starts + 1))
  echo "--- arca start #$arca_starts" >>"$tmp/arca/log"
  "$tmp/arca/arca" serve --config "$tmp/arca/config.json" >>"$tmp/arca/log" 2>&1 &
  arca_pid=$!; pids+=("$arca_pid")
  wait_for_file "$tmp/arca/port" "$arca_pid" 30 || { cat "$tmp/arca/log" >&2; die "arca did not write its port file"; }
  ARCA="http://127.0.0.1:$(cat "$tmp/arca/port")"
  REG="$ARCA/local/npm/main"
  curl -sf "$ARCA/readyz" >/dev/null || die "arca /readyz is not 200"
}
crashes=()
# arca_crashed STEP: if arca is no longer running, log why, remember it, restart arca, return 0.
arca_crashed() {
  kill -0 "$arca_pid" 2>/dev/null && return 1
  local rc=0; wait "$arca_pid" 2>/dev/null || rc=$?
  local why="exit status $rc"; ((rc > 128)) && why="signal $((rc - 128))$( ((rc == 134)) && echo ' SIGABRT')"
  local last; last=$(grep -v '^--- arca start' "$tmp/arca/log" | tail -n 1 | cut -c1-160)
  log "ARCA CRASHED ($why) during: $1"
  log "arca's log ends with:"; tail -n 8 "$tmp/arca/log" >&2
  crashes+=("$1: $why, last log line \`$last\`")
  LAST_CRASH="$why: $last"
  start_arca
  log "restarted arca on the same data directory at $ARCA"
  return 0
}
log "starting arca ($arca_version)"
start_arca

# fetch LABEL URL OUT [curl args...]: GET that must be 200; prints the status line on failure.
fetch() {
  local label=$1 url=$2 out=$3; shift 3
  local code
  code=$(curl -s -o "$out" -w '%{http_code}' "$@" "$url") || true
  if [[ $code != 200 ]]; then
    log "$label: GET $url -> HTTP $code"; head -c 600 "$out" >&2 2>/dev/null || true; echo >&2
    return 1
  fi
}

# ---------------------------------------------------------------- warm arca, build nginx docroot
log "warming arca (one GET of each URL) and saving the same bytes for nginx"
www="$tmp/www"; mkdir -p "$www"
small_path=$(fixture packages bench-small tarballPath)
large_path=$(fixture packages bench-large tarballPath)
fetch packument "$REG/bench-packument" "$www/packument.json" -H 'Accept: application/json' \
  || die "arca did not serve the packument"
fetch small "$REG/$small_path" "$www/small.tgz" || die "arca did not serve the 60 KB tarball"
fetch large "$REG/$large_path" "$www/large.tgz" || die "arca did not serve the 4 MB tarball"
cmp -s "$www/small.tgz" "$(fixture packages bench-small file)" || die "60 KB tarball bytes differ from the upstream's"
cmp -s "$www/large.tgz" "$(fixture packages bench-large file)" || die "4 MB tarball bytes differ from the upstream's"
node -e '
  const d=JSON.parse(require("fs").readFileSync(process.argv[1]));
  const vs=Object.values(d.versions); const bad=vs.filter(v=>!v.dist.tarball.startsWith(process.argv[2]));
  if(bad.length){console.error(bad.length+" tarball URLs not rewritten, e.g. "+bad[0].dist.tarball);process.exit(1)}
  console.error("packument: "+vs.length+" versions, tarball URLs point at arca")' \
  "$www/packument.json" "$REG/" || die "arca packument check failed"
# Second GET of each: must be identical (served from arca's cache, not re-rendered differently).
curl -s -H 'Accept: application/json' "$REG/bench-packument" | cmp -s - "$www/packument.json" \
  || log "WARNING: two GETs of the packument returned different bytes"
arca_crashed "the warm-up GETs" && die "arca crashed while warming up; nothing to measure"
up_before=$(curl -s "$UP/_stats")

# ---------------------------------------------------------------- nginx
mkdir -p "$tmp/nginx/tmp"
NGINX_PORT=$(free_port)
temp_paths="client_body_temp_path $tmp/nginx/tmp/body; proxy_temp_path $tmp/nginx/tmp/proxy; fastcgi_temp_path $tmp/nginx/tmp/fastcgi;"
nginx -V 2>&1 | grep -q -- --without-http_uwsgi_module || temp_paths+=" uwsgi_temp_path $tmp/nginx/tmp/uwsgi;"
nginx -V 2>&1 | grep -q -- --without-http_scgi_module || temp_paths+=" scgi_temp_path $tmp/nginx/tmp/scgi;"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes $SERVER_THREADS;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  sendfile on; tcp_nopush on; tcp_nodelay on;
  access_log off;
  keepalive_timeout 65; keepalive_requests 1000000;
  $temp_paths
  types { application/json json; application/octet-stream tgz; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:$NGINX_PORT; root $www; location / { } }
}
EOF
nginx -t -q -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" || die "nginx config test failed"
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e "$tmp/nginx/error.log" &
pids+=("$!")
NGX="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 50); do curl -sf -o /dev/null "$NGX/small.tgz" && break; sleep 0.1; done
for f in small.tgz large.tgz packument.json; do
  curl -sf "$NGX/$f" | cmp -s - "$www/$f" || die "nginx does not serve $f correctly"
done

# ---------------------------------------------------------------- warm throughput (wrk)
# run_wrk NAME URL [header]: prints "req/s p99_ms requests non2xx socket_errors"
run_wrk() {
  local name=$1 url=$2 hdr=${3:-}
  local args=(-t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency)
  [[ -n $hdr ]] && args+=(-H "$hdr")
  wrk "${args[@]}" "$url" >"$tmp/wrk-$name.txt" 2>&1 || true
  awk '
    function ms(s,  n,u){ n=s+0; u=s; sub(/^[0-9.]+/,"",u);
      if(u=="us")return n/1000; if(u=="ms")return n; if(u=="s")return n*1000; if(u=="m")return n*60000; if(u=="h")return n*3600000; return n }
    /Requests\/sec:/ {rps=$2}
    /^ *99%/ {p99=ms($2)}
    / requests in / {reqs=$1}
    /Non-2xx or 3xx responses:/ {non=$NF}
    /Socket errors:/ {gsub(/,/,""); err=$4+$6+$8+$10}
    END {if(reqs+0==0){rps="nan";p99="nan"}
         printf "%s %s %s %d %d\n", (rps==""?"nan":rps), (p99==""?"nan":p99), (reqs==""?0:reqs), non, err}
  ' "$tmp/wrk-$name.txt"
}
declare -A W
warm_rows=(
  "small|60 KB tarball|/$small_path|small.tgz||0.8"
  "large|4 MB tarball|/$large_path|large.tgz||0.8"
  "packument|full packument|/bench-packument|packument.json|Accept: application/json|0.5"
)
for row in "${warm_rows[@]}"; do
  IFS='|' read -r key label apath nfile hdr target <<<"$row"
  log "wrk $label: arca"
  W[$key.arca]=$(run_wrk "$key-arca" "$REG$apath" "$hdr")
  if arca_crashed "wrk on the $label (GET $REG$apath${hdr:+, $hdr})"; then
    W[$key.crash]=$LAST_CRASH
  fi
  log "  -> $(echo "${W[$key.arca]}" | awk '{printf "%s req/s, p99 %s ms, %s requests, non-2xx %s, socket errors %s", $1,$2,$3,$4,$5}')"
  log "wrk $label: nginx"
  W[$key.nginx]=$(run_wrk "$key-nginx" "$NGX/$nfile" "$hdr")
  log "  -> $(echo "${W[$key.nginx]}" | awk '{printf "%s req/s, p99 %s ms, %s requests, non-2xx %s, socket errors %s", $1,$2,$3,$4,$5}')"
done
up_after=$(curl -s "$UP/_stats")
[[ $up_before == "$up_after" ]] || log "WARNING: the upstream saw requests during the warm runs: $up_before -> $up_after"

# ---------------------------------------------------------------- cold time to first byte
log "cold TTFB: $COLD_N fresh packages, packument then tarball, directly and through arca"
: >"$tmp/ttfb.txt"
cold_errors=0
for ((i = 0; i < COLD_N; i++)); do
  name=bench-cold-$i
  tpath=$(fixture packages "$name" tarballPath)
  read -r dc dp < <(curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' -H 'Accept: application/json' "$UP/$name")
  read -r ac ap < <(curl -s -o "$tmp/cold.json" -w '%{http_code} %{time_starttransfer}\n' -H 'Accept: application/json' "$REG/$name")
  read -r dc2 dt < <(curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' "$UP/$tpath")
  read -r ac2 at < <(curl -s -o "$tmp/cold.tgz" -w '%{http_code} %{time_starttransfer}\n' "$REG/$tpath")
  if [[ $dc$ac$dc2$ac2 != 200200200200 ]]; then
    cold_errors=$((cold_errors + 1))
    log "cold $name: upstream packument $dc, arca packument $ac, upstream tarball $dc2, arca tarball $ac2"
    if [[ $ac2 != 200 && -s $tmp/cold.tgz ]]; then head -c 400 "$tmp/cold.tgz" >&2; echo >&2; fi
    arca_crashed "cold requests for $name" || true
    continue
  fi
  cmp -s "$tmp/cold.tgz" "$(fixture packages "$name" file)" || { cold_errors=$((cold_errors + 1)); log "cold $name: arca tarball bytes differ"; }
  echo "$dp $ap $dt $at" >>"$tmp/ttfb.txt"
done
ttfb_med() { awk -v c="$1" '{print $c*1000}' "$tmp/ttfb.txt" | median; }
T_DP=$(ttfb_med 1); T_AP=$(ttfb_med 2); T_DT=$(ttfb_med 3); T_AT=$(ttfb_med 4)
cold_n=$(wc -l <"$tmp/ttfb.txt")
arca_crashed "the cold requests" || true
log "  -> tarball: upstream ${T_DT} ms, arca ${T_AT} ms; packument: upstream ${T_DP} ms, arca ${T_AP} ms (n=$cold_n)"

# ---------------------------------------------------------------- RSS under a big fan-out
huge_path=$(fixture packages bench-huge tarballPath)
huge_size=$(fixture packages bench-huge size)
fetch huge-packument "$REG/bench-huge" /dev/null -H 'Accept: application/json' || die "arca did not serve bench-huge's packument"

sample_rss() {  # PID OUT: one "time VmRSS VmHWM" line (kB) every 100 ms
  local pid=$1 out=$2 k v rss hwm
  while [[ -r /proc/$pid/status ]]; do
    rss=0 hwm=0
    while read -r k v _; do
      case $k in VmRSS:) rss=$v ;; VmHWM:) hwm=$v ;; esac
    done <"/proc/$pid/status" || break
    echo "$EPOCHREALTIME $rss $hwm" >>"$out"
    sleep 0.1
  done
}
declare -A R
# rss_phase NAME: CLIENTS concurrent GETs of the big tarball while sampling arca's RSS.
rss_phase() {
  local name=$1 hwm_reset=yes
  echo 5 >"/proc/$arca_pid/clear_refs" 2>/dev/null || hwm_reset=no   # reset VmHWM to current RSS
  local base; base=$(rss_kb "$arca_pid" VmRSS)
  for ((i = 0; i < CLIENTS; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$REG/$huge_path"; done >"$tmp/clients.curlrc"
  : >"$tmp/rss-$name.txt"
  sample_rss "$arca_pid" "$tmp/rss-$name.txt" & sampler_pid=$!
  local t0=$EPOCHREALTIME
  curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$CLIENTS" --max-time "$RSS_TIMEOUT" \
    -K "$tmp/clients.curlrc" -w '%{http_code} %{size_download}\n' >"$tmp/clients-$name.txt" 2>"$tmp/clients-$name.err" || true
  local t1=$EPOCHREALTIME
  sleep 0.2
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
  local hwm
  if arca_crashed "the $name fan-out of the ${BIG_MB} MB tarball to $CLIENTS clients"; then
    R[$name.crash]=$LAST_CRASH
    hwm=$(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$tmp/rss-$name.txt")
  else
    hwm=$(rss_kb "$arca_pid" VmHWM)
  fi
  local peak; peak=$(awk 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$tmp/rss-$name.txt")
  local ok; ok=$(awk -v s="$huge_size" '$1==200 && $2==s' "$tmp/clients-$name.txt" | wc -l)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  local bytes; bytes=$(awk '$1 ~ /^[0-9]+$/ {b+=$2} END{printf "%.0f", b}' "$tmp/clients-$name.txt")
  local gbps; gbps=$(awk -v n="$bytes" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", n/(b-a)/1e9}')
  local timedout=no
  awk -v t="$t0" -v u="$t1" -v m="$RSS_TIMEOUT" 'BEGIN{exit !(u-t >= m-0.5)}' && timedout=yes
  [[ $hwm_reset == no ]] && hwm="$hwm (not reset)"
  R[$name]="$base $peak ${hwm%% *} $ok $secs $gbps $hwm_reset $bytes $timedout"
  log "  -> $ok/$CLIENTS complete 200s in ${secs}s$([[ $timedout == yes ]] && echo " (stopped at RSS_TIMEOUT)"), $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e9}') GB delivered (${gbps} GB/s); RSS before $(mib "$base") MiB, sampled peak $(mib "$peak") MiB, VmHWM $(mib "${hwm%% *}") MiB"
  if ((ok != CLIENTS)); then
    log "  client results (status bytes) other than '200 $huge_size':"
    awk -v s="$huge_size" '!($1==200 && $2==s)' "$tmp/clients-$name.txt" | sort | uniq -c | head -5 >&2
  fi
}
log "RSS: $CLIENTS clients fetch the ${BIG_MB} MB tarball through arca, first fetch (cold)"
huge_hits0=$(upstream_hits "/$huge_path")
rss_phase cold
huge_hits1=$(upstream_hits "/$huge_path")
cold_gets=$((huge_hits1 - huge_hits0))
log "  upstream GETs of the big tarball during the cold fan-out: $cold_gets"
if [[ ${R[cold]} == *" yes" ]]; then
  # The clients were stopped early; the fill goes on inside arca. One more client waits for it
  # (or starts a new one), so that the warm phase really reads from the store.
  log "completing the fill with one more client before the warm phase"
  fill_result=$(curl -s -o /dev/null --max-time 300 -w '%{http_code} %{size_download} %{time_total}' "$REG/$huge_path" || true)
  log "  -> $fill_result (status, bytes, seconds)"
  arca_crashed "completing the fill of the ${BIG_MB} MB tarball" || true
fi
huge_hits1=$(upstream_hits "/$huge_path")
log "RSS: $CLIENTS clients fetch the ${BIG_MB} MB tarball again (warm, from arca's store)"
rss_phase warm
huge_hits2=$(upstream_hits "/$huge_path")
((huge_hits2 == huge_hits1)) || log "WARNING: the warm fan-out made $((huge_hits2 - huge_hits1)) upstream requests"

arca_alive=yes; kill -0 "$arca_pid" 2>/dev/null || arca_alive=no
log_problems=$(grep -cv -e '^--- arca start' -e '^$' "$tmp/arca/log" || true)   # log_level is warn: every line is a warning or worse
curl -s "$ARCA/metrics" >"$tmp/metrics.txt" 2>/dev/null || true
elapsed=$((SECONDS - start))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
pass() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN{ if(a=="nan"){print "n/a"; exit}
  r = (op==">=") ? (a+0>=b+0) : (op=="<") ? (a+0<b+0) : (a+0<=b+0); print (r ? "pass" : "**FAIL**") }'; }
num() { awk -v v="$1" -v f="$2" 'BEGIN{ if (v == "nan" || v == "" || v ~ /nan/) print "–"; else printf f, v }'; }
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
{
  echo "### arca npm benchmark"
  echo
  echo "arca \`${arca_version:-?}\` vs nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($cpu), $(uname -r)."
  echo "Both servers: $SERVER_THREADS threads/workers on loopback. wrk: \`-t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency\`, runs alternate arca/nginx."
  echo "Machine idle before the run: ${idle_before}% of CPU time (load average $load_before; after the run: $load_after)."
  ((idle_before >= 90)) || echo "**Warning:** other processes were using the CPU when the run started; the figures are disturbed."
  echo "**Caveat:** the machine has $(nproc) cores and wrk runs on them too, so absolute figures are CPU-bound on the client side as well; compare the ratios."
  echo
  echo "#### Warm hits (wrk)"
  echo
  echo "| request | bytes | arca req/s | nginx req/s | ratio | target | arca p99 | nginx p99 | result |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for row in "${warm_rows[@]}"; do
    IFS='|' read -r key label apath nfile hdr target <<<"$row"
    read -r ar ap areq anon aerr <<<"${W[$key.arca]}"
    read -r nr np nreq nnon nerr <<<"${W[$key.nginx]}"
    ratio=$(awk -v a="$ar" -v n="$nr" 'BEGIN{ if(a=="nan"||n=="nan"||n==0) print "nan"; else printf "%.2f", a/n }')
    note=""
    ((anon + aerr > 0)) && note=" (arca: $anon non-2xx, $aerr socket errors)"
    ((nnon + nerr > 0)) && note+=" (nginx: $nnon non-2xx, $nerr socket errors)"
    result=$(pass "$ratio" '>=' "$target")
    if [[ -n ${W[$key.crash]:-} ]]; then result="**FAIL: arca crashed** (${W[$key.crash]})"; ratio=nan; fi
    printf '| %s | %s | %s | %s | %s | ≥ %s× | %s | %s | %s%s |\n' \
      "$label" "$(stat -c %s "$www/$nfile")" "$(num "$ar" %.0f)" "$(num "$nr" %.0f)" "$(num "$ratio" %.2f×)" "$target" \
      "$(num "$ap" '%.2f ms')" "$(num "$np" '%.2f ms')" "$result" "$note"
  done
  echo
  echo "#### Memory: $CLIENTS concurrent clients download one ${BIG_MB} MB tarball through arca"
  echo
  echo "| phase | complete | wall time | delivered | throughput | RSS before | peak RSS (100 ms samples) | VmHWM | target | result |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for phase in cold warm; do
    read -r base peak hwm ok secs gbps reset bytes timedout <<<"${R[$phase]}"
    worst=$(( peak > hwm ? peak : hwm ))
    label=$([[ $phase == cold ]] && echo "first fetch (miss; upstream GETs: $cold_gets)" || echo "warm (from store)")
    result=$(pass "$(mib "$worst")" '<' 200)
    [[ $ok != "$CLIENTS" ]] && result+=" ($((CLIENTS - ok)) downloads incomplete$([[ $timedout == yes ]] && echo ", stopped after ${RSS_TIMEOUT} s" || true))"
    [[ -n ${R[$phase.crash]:-} ]] && result="**FAIL: arca crashed** (${R[$phase.crash]})"
    printf '| %s | %s/%s | %s s | %s GB | %s GB/s | %s MiB | %s MiB | %s MiB%s | < 200 MiB | %s |\n' "$label" "$ok" "$CLIENTS" "$secs" \
      "$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e9}')" "$gbps" \
      "$(mib "$base")" "$(mib "$peak")" "$(mib "$hwm")" "$([[ $reset == no ]] && echo ' (lifetime)')" "$result"
  done
  echo
  echo "#### Cold path: time to first byte, median of $cold_n fresh packages (new connection each)"
  echo
  echo "| request | upstream direct | through arca | difference | target | result |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  dt=$(awk -v a="$T_AT" -v d="$T_DT" 'BEGIN{printf "%.2f", a-d}')
  dp=$(awk -v a="$T_AP" -v d="$T_DP" 'BEGIN{printf "%.2f", a-d}')
  printf '| tarball (20 KB, packument already fetched) | %.2f ms | %.2f ms | +%s ms | ≤ 2 ms | %s |\n' "$T_DT" "$T_AT" "$dt" "$(pass "$dt" '<=' 2)"
  printf '| packument, first fetch (informational) | %.2f ms | %.2f ms | +%s ms | | |\n' "$T_DP" "$T_AP" "$dp"
  echo
  notes=()
  for c in "${crashes[@]}"; do notes+=("arca crashed during $c (restarted on the same data directory)"); done
  ((cold_errors > 0)) && notes+=("$cold_errors cold requests failed or returned wrong bytes (see the log above)")
  [[ $up_before != "$up_after" ]] && notes+=("the upstream saw requests during the warm wrk runs")
  ((huge_hits2 != huge_hits1)) && notes+=("the warm fan-out made $((huge_hits2 - huge_hits1)) upstream requests")
  [[ $arca_alive == no ]] && notes+=("arca was not running at the end of the run")
  ((log_problems > 0)) && notes+=("arca logged $log_problems warning/error lines")
  if ((${#notes[@]})); then
    echo "Problems:"
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
    echo
  fi
  echo "Total bench time: ${elapsed} s. Rerun: \`bench/npm_bench.sh\`."
} | tee "$tmp/results.md"

if ((log_problems > 0)); then
  log "arca warnings/errors (first 20):"
  grep -v -e '^--- arca start' -e '^$' "$tmp/arca/log" | head -20 >&2
fi

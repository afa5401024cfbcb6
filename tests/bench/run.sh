#!/usr/bin/env bash
# Drukyul ID load benchmark: the release build of `idp` on SQLite, driven by wrk (a separate
# process on the same host), then -- in the same run -- the peer harness (panva/node-oidc-provider),
# and one combined table. See bench/README.md.
#
#   tests/bench/run.sh                        # everything: build, ours, passkey logins, peer, table
#   PEER=0 tests/bench/run.sh                 # ours only
#
# Knobs (env): THREADS=2 CONNS=50 DURATION=20 WARMUP=5 (seconds)  PORT=8080 (next free one is
# used if busy)  PEER=1 PEER_MODES="single cluster2" PEER_DIR=<../shared/bench/peer>  LOGIN=1
# PERF=0 (1: perf profile of the server during the token run)  BUILD=1 (0: use the existing
# binary)  NICE=10 (niceness of the cargo build)  KEEP_DATA=0 (1: keep the temporary data dir)
# LOGIN_CONNS=<CONNS> (concurrent browsers in the login row)  QUIET_WAIT=120 (seconds to wait, before each row, for other processes to leave the CPUs idle)
# CHECK_GET_BODIES=0 (1: wrk also reads every discovery/JWKS body in Lua; costs wrk CPU)
# Output: tests/bench/results/<timestamp>/ (summary.md, raw.log, server.log, peer.log; git-ignored).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/../.." && pwd)
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
PORT=${PORT:-8080}
PEER=${PEER:-1}
PEER_MODES=${PEER_MODES:-"single cluster2"}
PEER_DIR=${PEER_DIR:-$ROOT/../shared/bench/peer}
LOGIN=${LOGIN:-1}
PERF=${PERF:-0}
BUILD=${BUILD:-1}
NICE=${NICE:-10}
KEEP_DATA=${KEEP_DATA:-0}
QUIET_WAIT=${QUIET_WAIT:-120}
CHECK_GET_BODIES=${CHECK_GET_BODIES:-0}
# Browsers logging in at once: a login is 7 sequential requests, three of them durable writes
# that wait for a group commit's fsync, so each browser is mostly waiting, not computing.
LOGIN_CONNS=${LOGIN_CONNS:-$CONNS}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
IDP=$TARGET_DIR/release/idp
LOADGEN_NAME=idp-loadgen-login
LOADGEN=$TARGET_DIR/release/$LOADGEN_NAME

# Targets of the issue (req/s; ms; MB = 10^6 bytes; s).
T_TOKEN=15000 T_STATIC=40000 T_P99=20 T_IDLE_MB=30 T_LOAD_MB=100 T_READY=1 T_LOGIN=1000

OUT=$BENCH/results/$(date +%Y%m%dT%H%M%S)
mkdir -p "$OUT"
RAW=$OUT/raw.log
CLK_TCK=$(getconf CLK_TCK)
DATA=
SERVER_PID=
PERF_PID=

log() { echo "$*" | tee -a "$RAW"; }
die() { echo "bench: $*" >&2; [ -n "$SERVER_PID" ] && tail -20 "$OUT/server.log" >&2; exit 1; }

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() {
  [ -n "$PERF_PID" ] && kill "$PERF_PID" 2>/dev/null || true
  stop_server
  if [ -n "$DATA" ] && [ "$KEEP_DATA" != 1 ]; then rm -rf "$DATA"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ----
for c in curl awk base64; do command -v "$c" >/dev/null || die "$c is required"; done
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || die "wrk missing: apt-get install -y wrk"
  apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
fi
if command -v jq >/dev/null; then
  jfield() { jq -r --arg k "$1" '.[$k] // empty | if type == "string" then . else tojson end'; }
elif command -v python3 >/dev/null; then
  jfield() { python3 -c 'import json,sys
v=json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v if isinstance(v,str) else json.dumps(v,separators=(",",":")))' "$1"; }
else
  die "jq or python3 is required"
fi
b64url_json() { # decodes one base64url JWT segment
  local s=${1//-/+}
  s=${s//_//}
  while (( ${#s} % 4 )); do s+="="; done
  printf '%s' "$s" | base64 -d
}

# ---- build ----
if [ "$BUILD" = 1 ]; then
  echo "building: cargo build --release -p idp (nice $NICE)"
  (cd "$ROOT" && nice -n "$NICE" cargo build --release -p idp)
  # The passkey-login load generator is built only when the workspace defines it.
  if [ "$LOGIN" = 1 ] && (cd "$ROOT" && cargo metadata --no-deps --format-version 1 2>/dev/null) |
       grep -q "\"name\":\"$LOADGEN_NAME\""; then
    (cd "$ROOT" && nice -n "$NICE" cargo build --release -p e2e --bin "$LOADGEN_NAME")
  fi
fi
[ -x "$IDP" ] || die "$IDP not found (build with: cargo build --release -p idp)"

# ---- port, data dir, server environment (SQLite in a fresh temporary directory) ----
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 100); do port_busy "$PORT" || break; PORT=$((PORT + 1)); done
port_busy "$PORT" && die "no free port found"
BASE=http://127.0.0.1:$PORT
ISSUER=http://localhost:$PORT
DATA=$(mktemp -d -t idp-bench.XXXXXX)
IDP_ENV=(
  -u DATABASE_URL -u IDP_DATABASE_URL -u IDP_CONFIG
  IDP_DATA_DIR="$DATA" IDP_LISTEN="127.0.0.1:$PORT" IDP_ISSUER="$ISSUER"
  IDP_RATE_LIMITS__TOKEN_PER_SECOND=1000000 IDP_RATE_LIMITS__TOKEN_BURST=1000000
  IDP_RATE_LIMITS__LOGIN_PER_MINUTE=100000000 IDP_RATE_LIMITS__ACTIVATION_PER_MINUTE=100000000
  IDP_TOKENS__ACCESS_TOKEN_TTL=600 IDP_LOG=warn
)
# Some builds reject IDP_LOG as an unknown configuration key (the IDP_ prefix is shared by
# configuration and the log filter); then the server runs at its default level instead.
if (cd "$DATA" && env "${IDP_ENV[@]}" IDP_DATA_DIR=/dev/null/x "$IDP" client list 2>&1 || true) |
     grep -q 'unknown field: found `log`'; then
  IDP_LOG_REJECTED=1
  unset 'IDP_ENV[${#IDP_ENV[@]}-1]'
else
  IDP_LOG_REJECTED=0
fi
# Run from the data dir so that no ./idp.toml is picked up.
idp() { (cd "$DATA" && env "${IDP_ENV[@]}" "$IDP" "$@"); }

# ---- environment record ----
: >"$RAW"
log "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "host:      $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
log "loadavg:   $(cat /proc/loadavg)"
log "commit:    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
log "binary:    $IDP ($(du -h "$IDP" | cut -f1), built $(date -u -r "$IDP" +%Y-%m-%dT%H:%M:%SZ))"
log "wrk:       $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
log "load:      wrk -t$THREADS -c$CONNS -d${DURATION}s --latency after a ${WARMUP}s warm-up, same host"
log "server:    $ISSUER, SQLite in $DATA"
[ "$IDP_LOG_REJECTED" = 1 ] && log "WARNING:   this build rejects IDP_LOG=warn (\"unknown field: found \`log\`\"); running without it"

# ---- helpers (CPU and memory from /proc) ----
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }      # CPU of reaped children (wrk)
stat_ticks() { awk '/^cpu /{print $5 + $6, $9}' /proc/stat; }   # machine idle+iowait, steal
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER_PID/status"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k*1024/1e6}'; }
server_non2xx() { # the server's own count of non-2xx responses, all routes, since start
  curl -s --max-time 5 "$BASE/metrics" |
    awk '/^idp_http_requests_total/ && !/status="2[0-9][0-9]"/ {s += $NF} END {print s + 0}'
}

start_server() { # sets SERVER_PID, READY_MS
  local t0 t1 code
  t0=$(date +%s%N)
  (cd "$DATA" && exec env "${IDP_ENV[@]}" "$IDP" serve) >>"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/readyz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; tail -20 "$OUT/server.log" >&2; die "server exited"; }
    (( $(date +%s%N) - t0 > 10000000000 )) && die "server not ready after 10 s"
    sleep 0.005
  done
  t1=$(date +%s%N)
  READY_MS=$(( (t1 - t0) / 1000000 ))
}

ROWS=()
row_get() { # ROW KEY -> value of KEY=value in ROW, or -
  local f
  for f in $1; do [ "${f%%=*}" = "$2" ] && { echo "${f#*=}"; return 0; }; done
  echo "-"
}
# measure LABEL CMD...: runs CMD (which prints a RESULT line) and records it with the server's
# CPU, the load generator's CPU, machine idle/steal and the server's peak RSS.
measure() {
  local label=$1 n0 n1 w0 w1 t0 t1 s0 s1 out res secs cpu wcpu idle steal other e0 e1 c srv us
  shift
  e0=$(server_non2xx)
  n0=$(date +%s%N); w0=$(child_ticks); t0=$(server_ticks); s0=$(stat_ticks)
  if ! out=$("$@" 2>>"$OUT/loadgen.err"); then
    log "   $label: FAILED (exit status); see $OUT/loadgen.err"
    out="$out RESULT rps=FAILED"
  fi
  s1=$(stat_ticks); t1=$(server_ticks); w1=$(child_ticks); n1=$(date +%s%N)
  e1=$(server_non2xx)
  secs=$(awk -v a="$n0" -v b="$n1" 'BEGIN{print (b-a)/1e9}')
  pct() { awk -v d="$1" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN{printf "%.0f", 100*d/hz/s}'; }
  cpu=$(pct $((t1 - t0))); wcpu=$(pct $((w1 - w0)))
  idle=$(pct "$(awk -v a="${s0% *}" -v b="${s1% *}" 'BEGIN{print b-a}')")
  steal=$(pct "$(awk -v a="${s0#* }" -v b="${s1#* }" 'BEGIN{print b-a}')")
  other=$(( $(nproc) * 100 - idle - steal - cpu - wcpu )); (( other > 0 )) || other=0
  { echo "### $label"; echo "$out"; } >>"$RAW"
  res=$(echo "$out" | grep '^RESULT' | tail -1 | cut -d' ' -f2-)
  [ -n "$res" ] || res="rps=FAILED"
  # non-2xx: the larger of the load generator's count and the server's own (/metrics) count
  srv=$((e1 - e0))
  c=$(row_get "$res" non2xx)
  # A login goes through two redirects (303), which /metrics counts as non-2xx; there the load
  # generator, which checks every step's expected status, is the judge.
  if [ "$label" != passkey-login ] && { [ "$c" = - ] || (( c < srv )); }; then
    res="$(echo "$res" | sed -E 's/(^| )non2xx=[^ ]*//') non2xx=$srv"
  fi
  us=$(awk -v c="$cpu" -v r="$(row_get "$res" rps)" 'BEGIN{if (r+0 > 0) printf "%.0f", c*1e4/r; else print "-"}')
  ROWS+=("$label $res cpu=$cpu us=$us wcpu=$wcpu other=$other idle=$idle steal=$steal hwm=$(mib "$(status_kb VmHWM)") rss=$(mib "$(status_kb VmRSS)")")
  log "   $label: $res server_non2xx=$srv server_cpu=${cpu}% server_us_per_req=$us loadgen_cpu=${wcpu}% other_cpu=${other}% machine_idle=${idle}% steal=${steal}% peak_rss_mib=$(mib "$(status_kb VmHWM)")"
}
# Other processes on this machine (builds, ...) distort the figures: wait up to QUIET_WAIT
# seconds for the machine to be >= 80 % idle over one second before each row; the "other CPU"
# column then shows what was left running.
wait_quiet() {
  local s0 s1 idle waited=0
  while :; do
    s0=$(stat_ticks); sleep 1; s1=$(stat_ticks)
    idle=$(awk -v a="${s0% *}" -v b="${s1% *}" -v hz="$CLK_TCK" 'BEGIN{printf "%.0f", 100*(b-a)/hz}')
    (( idle >= $(nproc) * 80 )) && return 0
    waited=$((waited + 1))
    if (( waited >= QUIET_WAIT )); then
      log "   (machine still busy after ${QUIET_WAIT}s: ${idle}% idle of $(nproc)00%; measuring anyway)"
      return 0
    fi
  done
}
bench_wrk() { # LABEL SCRIPT URL: warm-up, then the measured run
  local label=$1 script=$2 url=$3
  wait_quiet
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null
  if [ "$PERF" = 1 ] && [ "$label" = token ] && command -v perf >/dev/null; then
    perf record -F 999 -p "$SERVER_PID" -o "$OUT/perf-token.data" -- sleep "$DURATION" \
      >/dev/null 2>>"$OUT/perf.err" &
    PERF_PID=$!
  fi
  measure "$label" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$script" "$url"
  if [ -n "$PERF_PID" ]; then
    wait "$PERF_PID" || true
    PERF_PID=
    perf report -i "$OUT/perf-token.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
      grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' |
      head -40 >"$OUT/perf-token.txt" || true
    log "   perf profile of the server during the token run (top symbols, self time):"
    head -25 "$OUT/perf-token.txt" | sed 's/^/     /' | tee -a "$RAW"
  fi
}

cd "$BENCH" # wrk scripts dofile("common.lua")

# ---- 1. cold start: empty data dir (creates the database, migrates, generates keys) ----
start_server
COLD_MS=$READY_MS
stop_server
log "start to ready, empty data dir (create + migrate + generate keys): ${COLD_MS} ms"

# ---- 2. clients: the caller, and the resource server that introspects its tokens ----
CC=$(idp client add --name bench --client-id bench --grant client_credentials \
  --scope api --resource urn:bench:api --json)
RS=$(idp client add --name bench-rs --client-id bench-rs --grant client_credentials \
  --scope api --resource urn:bench:rs --json)
CC_ID=$(echo "$CC" | jfield client_id); CC_SECRET=$(echo "$CC" | jfield client_secret)
RS_ID=$(echo "$RS" | jfield client_id); RS_SECRET=$(echo "$RS" | jfield client_secret)
[ -n "$CC_SECRET" ] && [ -n "$RS_SECRET" ] || die "client add did not print a secret: $CC $RS"
CC_BASIC=$(printf '%s:%s' "$CC_ID" "$CC_SECRET" | base64 -w0)
RS_BASIC=$(printf '%s:%s' "$RS_ID" "$RS_SECRET" | base64 -w0)

# ---- 3. warm start (existing database), idle memory ----
start_server
WARM_MS=$READY_MS
STARTUP_HWM=$(status_kb VmHWM)
sleep 1
IDLE_RSS=$(status_kb VmRSS)
log "start to ready, existing data dir: ${WARM_MS} ms   (pid $SERVER_PID, $(ls /proc/$SERVER_PID/task | wc -l) threads)"
log "idle RSS (1 s after ready): $(mib "$IDLE_RSS") MiB = $(mb "$IDLE_RSS") MB; peak during start-up (VmHWM) $(mib "$STARTUP_HWM") MiB"

# ---- 4. sanity: what is benchmarked really works ----
DISCO=$(curl -sf "$BASE/.well-known/openid-configuration") || die "discovery failed"
[ "$(echo "$DISCO" | jfield issuer)" = "$ISSUER" ] || die "discovery issuer is not $ISSUER"
JWKS=$(curl -sf "$BASE/jwks") || die "jwks failed"
log "   jwks: $(echo "$JWKS" | jfield keys | grep -o '"alg":"[A-Za-z0-9]*"' | sort | uniq -c | xargs)"
TOK=$(curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials -d scope=api "$BASE/token") ||
  die "client_credentials failed: $(curl -s -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials -d scope=api "$BASE/token")"
AT=$(echo "$TOK" | jfield access_token)
AT_HDR=$(b64url_json "$(echo "$AT" | cut -d. -f1)")
AT_PAY=$(b64url_json "$(echo "$AT" | cut -d. -f2)")
log "   access token header $AT_HDR"
log "   access token claims $AT_PAY"
[ "$(echo "$AT_HDR" | jfield alg)" = ES256 ] || die "access token is not ES256"
[ "$(echo "$AT_HDR" | jfield typ | tr 'A-Z' 'a-z')" = at+jwt ] || die "access token typ is not at+jwt"
INTRO=$(curl -sf -u "$RS_ID:$RS_SECRET" -d "token=$AT" "$BASE/introspect") || die "introspection failed"
log "   introspect (before): $INTRO"
echo "$INTRO" | grep -q '"active":true' || die "fresh token is not active"

# ---- 5. load ----
log "== drukyul-id (pid $SERVER_PID)"
if [ "$CHECK_GET_BODIES" = 1 ]; then X1='"issuer"' X2='"keys"'; else X1= X2=; fi
BENCH_EXPECT=$X1 bench_wrk discovery get.lua "$BASE/.well-known/openid-configuration"
BENCH_EXPECT=$X2 bench_wrk jwks get.lua "$BASE/jwks"
BENCH_BASIC=$CC_BASIC bench_wrk token token.lua "$BASE/token"
AT=$(curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials -d scope=api "$BASE/token" | jfield access_token)
BENCH_BASIC=$RS_BASIC BENCH_TOKEN=$AT bench_wrk introspect introspect.lua "$BASE/introspect"
log "   introspect (after):  $(curl -s -u "$RS_ID:$RS_SECRET" -d "token=$AT" "$BASE/introspect")"

# ---- 6. complete passkey logins (authorize, assertion, code, token, userinfo) ----
# Contract of the load generator (a separate process, like wrk), when the workspace builds it:
#   idp-loadgen-login prepare --base-url URL --issuer URL --idp-bin PATH --data-dir DIR
#       provisions what it needs (registry, citizens, passkeys from its software authenticator,
#       an authorization_code client) through the idp CLI and HTTP; not measured.
#   idp-loadgen-login run --base-url URL --issuer URL --threads T --connections C --duration S
#       runs complete logins and prints one line:
#       RESULT rps=<logins/s> p50_ms=<per login> p99_ms=.. requests=<logins> non2xx=.. invalid=<failed logins> sock_errors=..
# Both get the server's environment (IDP_DATA_DIR etc.), so CLI calls hit the same database.
if [ "$LOGIN" = 1 ]; then
  if [ -x "$LOADGEN" ] && (cd "$ROOT" && cargo metadata --no-deps --format-version 1 2>/dev/null) |
       grep -q "\"name\":\"$LOADGEN_NAME\""; then
    lg() { (cd "$DATA" && env "${IDP_ENV[@]}" "$LOADGEN" "$@"); }
    lg_args=(--base-url "$BASE" --issuer "$ISSUER")
    if lg prepare "${lg_args[@]}" --idp-bin "$IDP" --data-dir "$DATA" >>"$RAW" 2>>"$OUT/loadgen.err"; then
      lg run "${lg_args[@]}" --threads "$THREADS" --connections "$LOGIN_CONNS" --duration "$WARMUP" >/dev/null 2>>"$OUT/loadgen.err" || true
      measure "passkey-login" lg run "${lg_args[@]}" --threads "$THREADS" --connections "$LOGIN_CONNS" --duration "$DURATION"
    else
      log "   passkey login benchmark: prepare FAILED; see $OUT/loadgen.err"
      ROWS+=("passkey-login rps=FAILED")
    fi
  else
    log "   passkey login benchmark: not available in this build"
  fi
fi

# ---- 7. after load ----
sleep 2
PEAK_HWM=$(status_kb VmHWM)
AFTER_RSS=$(status_kb VmRSS)
log "peak RSS under load (VmHWM): $(mib "$PEAK_HWM") MiB = $(mb "$PEAK_HWM") MB; RSS 2 s after load: $(mib "$AFTER_RSS") MiB"
{ echo "### server metrics: requests by route and status"; curl -s "$BASE/metrics" | grep '^idp_http_requests_total' || true; } >>"$RAW"
SERVER_NON2XX=$(server_non2xx)
stop_server
SERVER_LOG_LINES=$(grep -c . "$OUT/server.log" || true)
log "server-side non-2xx (from /metrics, all routes): $SERVER_NON2XX; server log: $SERVER_LOG_LINES lines, $(grep -c '"level":"\(WARN\|ERROR\)"' "$OUT/server.log" || true) at WARN/ERROR"

# ---- 8. the peer, same run, same knobs ----
PEER_ROWS=
if [ "$PEER" = 1 ]; then
  if [ -x "$PEER_DIR/run.sh" ] || [ -f "$PEER_DIR/run.sh" ]; then
    log "== peer: $PEER_DIR/run.sh (MODES=\"$PEER_MODES\")"
    set +e
    MODES=$PEER_MODES THREADS=$THREADS CONNS=$CONNS DURATION=$DURATION WARMUP=$WARMUP \
      bash "$PEER_DIR/run.sh" 2>&1 | tee "$OUT/peer.log"
    prc=${PIPESTATUS[0]}
    set -e
    [ "$prc" = 0 ] || log "   peer run FAILED (exit $prc); see $OUT/peer.log"
    PEER_ROWS=$(grep -E '^\| (single|cluster2) \|' "$OUT/peer.log" | sed -E 's/^\| (single|cluster2) \|/| oidc-provider \1 |/' |
      awk -F' [|] ' -v OFS=' | ' -v max="$(nproc)00" '{
        o = max - $11 - $12 - $9 - $10; if (o < 0) o = 0
        us = ($3 + 0 > 0) ? sprintf("%.0f", $9 * 1e4 / $3) : "-"
        $10 = $10 " | " o; $9 = $9 " | " us; print }' || true)
  else
    log "   peer harness not found at $PEER_DIR"
  fi
fi

# ---- 9. summary ----
row_of() { local r; for r in "${ROWS[@]}"; do [ "${r%% *}" = "$1" ] && { echo "$r"; return 0; }; done; return 0; }
peer_rps() { # MODE ENDPOINT -> req/s from the peer table
  echo "$PEER_ROWS" | awk -F'|' -v m="oidc-provider $1" -v e="$2" \
    '{gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/ /, "", $4)} $2 == m && $3 == e {print $4}'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 >= b+0 && a != "-" && a != "FAILED")}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a+0 < b+0 && a != "-" && a != "FAILED")}'; }
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }

TOKEN_RPS=$(row_get "$(row_of token)" rps)
DISCO_RPS=$(row_get "$(row_of discovery)" rps)
JWKS_RPS=$(row_get "$(row_of jwks)" rps)
BAD=0
for r in "${ROWS[@]}"; do
  for k in non2xx invalid sock_errors; do
    v=$(row_get "$r" "$k")
    if [ "$v" != - ]; then BAD=$((BAD + v)); fi
  done
  if [ "$(row_get "$r" rps)" = FAILED ]; then BAD=$((BAD + 1)); fi
done
login_row=$(row_of passkey-login)

{
  echo
  echo "## Drukyul ID load benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "$(nproc) CPUs; wrk -t$THREADS -c$CONNS -d${DURATION}s after ${WARMUP}s warm-up, same host; logins with $LOGIN_CONNS concurrent browsers; our server: release build, SQLite."
  echo "CPU columns are % of one core over the run (machine max $(nproc)00 %). RSS in MiB."
  echo
  echo "| server | endpoint | req/s | p50 ms | p99 ms | non-2xx | sock err | bad body / not active | server CPU | server CPU µs/req | wrk CPU | other CPU | machine idle | steal | peak RSS MiB (VmHWM) |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for r in "${ROWS[@]}"; do
    g() { row_get "$r" "$1"; }
    echo "| drukyul-id | ${r%% *} | $(g rps) | $(g p50_ms) | $(g p99_ms) | $(g non2xx) | $(g sock_errors) | $(g invalid) | $(g cpu) | $(g us) | $(g wcpu) | $(g other) | $(g idle) | $(g steal) | $(g hwm) |"
  done
  [ -n "$PEER_ROWS" ] && echo "$PEER_ROWS"
  if [ -z "$login_row" ]; then
    echo "| drukyul-id | passkey-login | not available in this build | | | | | | | | | | | | |"
  fi
  echo
  echo "(non-2xx: ours = the larger of the load generator's count and the server's own /metrics count of every status outside 2xx; peer = wrk's count of status >= 400.)"
  echo
  if [ -n "$PEER_ROWS" ]; then
    echo "| endpoint | drukyul-id req/s | oidc-provider single | oidc-provider cluster2 | ours / best peer |"
    echo "|---|---:|---:|---:|---:|"
    for e in discovery jwks token introspect; do
      o=$(row_get "$(row_of "$e")" rps); s=$(peer_rps single "$e"); c=$(peer_rps cluster2 "$e")
      ratio=$(awk -v o="$o" -v s="${s:-0}" -v c="${c:-0}" 'BEGIN{b = (s > c) ? s : c; if (b > 0 && o+0 > 0) printf "%.1fx", o/b; else print "-"}')
      echo "| $e | $o | ${s:--} | ${c:--} | $ratio |"
    done
    echo
  fi
  echo "| target | measured | verdict |"
  echo "|---|---:|---|"
  echo "| client_credentials (ES256 JWT) >= $T_TOKEN /s | $TOKEN_RPS | $(verdict ge "$TOKEN_RPS" $T_TOKEN) |"
  echo "| discovery >= $T_STATIC /s | $DISCO_RPS | $(verdict ge "$DISCO_RPS" $T_STATIC) |"
  echo "| JWKS >= $T_STATIC /s | $JWKS_RPS | $(verdict ge "$JWKS_RPS" $T_STATIC) |"
  for r in "${ROWS[@]}"; do
    # The p99 target is per request; a passkey-login row is a whole login of seven requests.
    [ "${r%% *}" = passkey-login ] && continue
    p=$(row_get "$r" p99_ms)
    echo "| p99 < $T_P99 ms at $CONNS connections: ${r%% *} | $p ms | $(verdict lt "$p" $T_P99) |"
  done
  echo "| idle RSS <= $T_IDLE_MB MB | $(mb "$IDLE_RSS") MB | $(verdict ge $T_IDLE_MB "$(mb "$IDLE_RSS")") |"
  echo "| peak RSS under load <= $T_LOAD_MB MB | $(mb "$PEAK_HWM") MB | $(verdict ge $T_LOAD_MB "$(mb "$PEAK_HWM")") |"
  echo "| start to ready < $T_READY s (existing data dir) | $WARM_MS ms | $(verdict lt "$WARM_MS" $((T_READY * 1000))) |"
  echo "| start to ready < $T_READY s (empty data dir) | $COLD_MS ms | $(verdict lt "$COLD_MS" $((T_READY * 1000))) |"
  echo "| no non-2xx, bad bodies or socket errors | $BAD | $(verdict [ "$BAD" = 0 ]) |"
  if [ -n "$login_row" ]; then
    lr=$(row_get "$login_row" rps)
    echo "| complete passkey logins >= $T_LOGIN /s | $lr | $(verdict ge "$lr" $T_LOGIN) |"
    echo "| (per whole login of 7 requests, for information) p50 / p99 | $(row_get "$login_row" p50_ms) / $(row_get "$login_row" p99_ms) ms | - |"
  else
    echo "| complete passkey logins >= $T_LOGIN /s | not available in this build | FAIL |"
  fi
} | tee "$OUT/summary.md" | tee -a "$RAW"
echo
echo "results: $OUT (summary.md, raw.log, server.log$( [ -n "$PEER_ROWS" ] && echo ", peer.log"))"

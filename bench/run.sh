#!/usr/bin/env bash
# make bench: the bridge under load, in processes of their own.
#
# For each backend (PingDirectory and PingOne simulators, served by
# cmd/ldapsim), backend latency (0 and 20 ms), connection count (16, 256)
# and mode (bind, connbind, passwd, mixed), it starts a fresh simulator
# and a fresh bridge (so that peak RSS and password state are per run),
# runs cmd/ldapbench against the bridge with the bridge's pid and the
# simulator's URL, and keeps the JSON report. Then search-then-bind
# logins (searchbind, both backends, 16 connections), the open-loop runs
# (bind capacity at 256 connections and 20 ms, then -rate at 25, 50 and
# 75% of it), idle runs (10,000
# connections, unbound and bound), the same modes against OpenLDAP slapd
# (bench/slapd, when slapd is or can be installed), the Go micro
# benchmarks, and a Markdown summary in $BENCH_OUT/summary.md.
#
# BENCH_QUICK=1: a smoke run of a few minutes (short runs, 16 connections,
# 0 ms, 1,000 idle connections; the open-loop runs keep 256 connections and
# 20 ms, with 1 s windows).
# BENCH_OUT: where reports go (default bench/out).
# BENCH_SLAPD=0: skip the slapd comparison.
# BENCH_ONLY="openloop micro": run only these sections (matrix, searchbind,
# openloop, tuned, bindcache, idle, slapd, micro); the summary covers what ran.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
QUICK=${BENCH_QUICK:-0}
OUT=${BENCH_OUT:-bench/out}
SLAPD=${BENCH_SLAPD:-1}
ONLY=${BENCH_ONLY:-}
# only SECTION: whether BENCH_ONLY (a list of sections) leaves it in.
only() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

if [ "$QUICK" = 1 ]; then
	DUR=1s WARM=500ms LATS="0" CONNS="16" IDLE=1000 HOLD=1s USERS=300 MICRO=200ms
else
	DUR=4s WARM=1s LATS="0 20ms" CONNS="16 256" IDLE=10000 HOLD=3s USERS=1000 MICRO=1s
fi
MODES="bind connbind passwd mixed"

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/json" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
echo "bench: building into $BIN"
$GO build -o "$BIN/ldapbridge" ./cmd/ldapbridge
$GO build -o "$BIN/ldapsim" ./cmd/ldapsim
$GO build -o "$BIN/ldapbench" ./cmd/ldapbench

# Descriptors for 10,000 connections (Go raises its soft limit itself;
# slapd does not).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -d "$OUT/slapd" ] && bench/slapd/stop.sh "$OUT/slapd" 2>/dev/null || true
}
trap cleanup EXIT

wait_file() { # file timeout-seconds
	for _ in $(seq $(($2 * 20))); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "bench: $1 did not appear" >&2
	return 1
}
wait_port() { # host:port timeout-seconds
	local host=${1%:*} port=${1##*:}
	for _ in $(seq $(($2 * 20))); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on $1" >&2
	return 1
}
stop() { # pid
	kill "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	kill -9 "$1" 2>/dev/null || true
}

# start_stack NAME LATENCY [extra ldapsim flags]: a simulator and a bridge
# (with the environment in BRIDGE_ENV, e.g. GOGC=400); sets SIM_PID
# BRIDGE_PID SIM_URL LDAP_ADDR.
BRIDGE_ENV=()
start_stack() {
	local name=$1 lat=$2
	shift 2
	local dir=$OUT/run/$name
	rm -rf "$dir"
	"$BIN/ldapsim" -users "$USERS" -latency "$lat" -out "$dir" -ldap-addr 127.0.0.1:0 -starttls-addr "" "$@" \
		>"$OUT/logs/$name.sim.log" 2>&1 &
	SIM_PID=$!
	pids+=("$SIM_PID")
	wait_file "$dir/sim.json" 30
	SIM_URL=$(sed -n 's/.*"pingdirectory_url": "\(.*\)".*/\1/p' "$dir/sim.json")
	LDAP_ADDR=$(sed -n 's/.*"bridge_ldap_addr": "\(.*\)".*/\1/p' "$dir/sim.json")
	[ "${SIM_ONLY:-0}" = 1 ] && return 0
	env "${BRIDGE_ENV[@]}" "$BIN/ldapbridge" serve --config "$dir/bridge.yaml" >"$OUT/logs/$name.bridge.log" 2>&1 &
	BRIDGE_PID=$!
	pids+=("$BRIDGE_PID")
	wait_port "$LDAP_ADDR" 30
}
stop_stack() {
	stop "$BRIDGE_PID"
	stop "$SIM_PID"
}

bench() { # label name ldapbench-args...
	local label=$1 name=$2
	shift 2
	echo "bench: $name"
	"$BIN/ldapbench" -label "$label" -json "$OUT/json/$name.json" "$@" | sed 's/^/    /'
}

if only matrix; then
for be in pd p1; do
	if [ $be = pd ]; then dn='uid=pd%d,ou=staff,dc=example,dc=com'; pw=2; else dn='uid=p1u%d,ou=people,dc=example,dc=com'; pw=8; fi
	for lat in $LATS; do
		if [ "$lat" = 0 ]; then label="$be/0ms"; else label="$be/$lat"; fi
		for c in $CONNS; do
			for mode in $MODES; do
				name="${be}_${lat}_${c}_${mode}"
				start_stack "$name" "$lat"
				# PingOne's Standard policy keeps 6 previous passwords: cycle
				# through 8 there (the simulator's history is not
				# configurable), through 2 on PingDirectory (no history).
				bench "$label" "$name" -url "ldap://$LDAP_ADDR" -mode "$mode" -c "$c" -d "$DUR" -warmup "$WARM" \
					-users "$USERS" -dn "$dn" -passwords "$pw" -pid "$BRIDGE_PID" -sim "$SIM_URL" || true
				stop_stack
			done
		done
	done
done
fi

if only searchbind; then
# Search-then-bind logins (issue 11): on a connection bound as the local
# service account cn=app, a subtree search under the users' OU for
# (uid=<user>) asking for no attribute (1.1), then a bind as the DN found
# on a second connection, as mod_authnz_ldap-style applications log
# people in. ldapbench counts the window exactly (workers parked at its
# start, the closing samples after its last login), so "backend req/op"
# is backend requests per login; the target is at most 2.
SB_CONNS=16
for be in pd p1; do
	if [ $be = pd ]; then dn='uid=pd%d,ou=staff,dc=example,dc=com'; else dn='uid=p1u%d,ou=people,dc=example,dc=com'; fi
	name="${be}_0_${SB_CONNS}_searchbind"
	start_stack "$name" 0
	bench "$be/0ms" "$name" -url "ldap://$LDAP_ADDR" -mode searchbind -c "$SB_CONNS" -d "$DUR" -warmup "$WARM" \
		-users "$USERS" -dn "$dn" -search-attrs 1.1 -pid "$BRIDGE_PID" -sim "$SIM_URL" || true
	stop_stack
done
fi

CAPACITY=0
if only openloop; then
# Open loop: the bridge's bind capacity with 256 connections and 20 ms of
# backend latency (closed loop, each connection rebinding as soon as it is
# answered), then binds at a fixed arrival rate of 25%, 50% and 75% of it
# (ldapbench -rate: latency from each request's scheduled send time). The
# summary's open-loop table gives the p99 added to the backend's 20 ms.
OL_CONNS=256 OL_LAT=20ms OL_PCTS="25 50 75"
json_num() { # field file: the first numeric value of "field" in a report
	sed -n "s/.*\"$1\": \([0-9.eE+-]*\).*/\1/p" "$2" | head -1
}
name=openloop_capacity
start_stack "$name" "$OL_LAT"
bench "pd/20ms capacity" "$name" -url "ldap://$LDAP_ADDR" -mode bind -c "$OL_CONNS" -d "$DUR" -warmup "$WARM" \
	-users "$USERS" -pid "$BRIDGE_PID" -sim "$SIM_URL" || true
stop_stack
CAPACITY=$(json_num ops_per_s "$OUT/json/$name.json" 2>/dev/null || true)
CAPACITY=$(awk -v c="${CAPACITY:-0}" 'BEGIN { printf "%d", c }')
if [ "$CAPACITY" -gt 0 ]; then
	for pct in $OL_PCTS; do
		rate=$(awk -v c="$CAPACITY" -v p="$pct" 'BEGIN { r = int(c * p / 100); if (r < 1) r = 1; print r }')
		name="openloop_${pct}"
		start_stack "$name" "$OL_LAT"
		bench "pd/20ms open ${pct}% of ${CAPACITY}/s" "$name" -url "ldap://$LDAP_ADDR" -mode bind -c "$OL_CONNS" \
			-rate "$rate" -d "$DUR" -warmup "$WARM" -users "$USERS" -backend-latency "$OL_LAT" \
			-pid "$BRIDGE_PID" -sim "$SIM_URL" || true
		stop_stack
	done
else
	echo "bench: open-loop runs skipped: the capacity run measured no binds (see $OUT/json/openloop_capacity.json)"
fi
fi

if only tuned; then
# The Go runtime's memory settings, as docs/performance.md recommends for
# production: a soft memory limit, and a GC that runs less often below it.
TUNED=(GOGC=400 GOMEMLIMIT=100MiB)
if [ "$QUICK" != 1 ]; then
	BRIDGE_ENV=("${TUNED[@]}")
	for c in $CONNS; do
		for mode in bind passwd; do
			name="pd_0_${c}_${mode}_tuned"
			start_stack "$name" 0
			bench "pd/0ms tuned" "$name" -url "ldap://$LDAP_ADDR" -mode "$mode" -c "$c" -d "$DUR" -warmup "$WARM" \
				-users "$USERS" -passwords 2 -pid "$BRIDGE_PID" -sim "$SIM_URL" || true
			stop_stack
		done
	done
	BRIDGE_ENV=()
	# Backends over HTTPS, where the bridge's clients negotiate HTTP/2.
	for c in $CONNS; do
		name="pd_0_${c}_bind_https"
		start_stack "$name" 0 -tls
		bench "pd/0ms https" "$name" -url "ldap://$LDAP_ADDR" -mode bind -c "$c" -d "$DUR" -warmup "$WARM" \
			-users "$USERS" -pid "$BRIDGE_PID" -sim "$SIM_URL" -cacert "$OUT/run/$name/cert.pem" || true
		stop_stack
	done
fi
fi

if only bindcache; then
# The verified-bind cache, when this build's configuration knows it.
CACHE_YAML=${BENCH_BINDCACHE_YAML:-'bind_cache: {enabled: true, ttl: 30s, size: 10000}'}
SIM_ONLY=1 start_stack cachecheck 0 -bridge-extra "$CACHE_YAML"
stop "$SIM_PID"
if "$BIN/ldapbridge" check-config --config "$OUT/run/cachecheck/bridge.yaml" >"$OUT/logs/bindcache-check.log" 2>&1; then
	for c in $CONNS; do
		for mode in bind mixed; do
			name="pd_0_${c}_${mode}_bindcache"
			start_stack "$name" 0 -bridge-extra "$CACHE_YAML"
			bench "pd/0ms bindcache" "$name" -url "ldap://$LDAP_ADDR" -mode "$mode" -c "$c" -d "$DUR" -warmup "$WARM" \
				-users "$USERS" -passwords 2 -pid "$BRIDGE_PID" -sim "$SIM_URL" || true
			stop_stack
		done
	done
else
	echo "bench: verified-bind cache runs skipped: this build's configuration does not accept '$CACHE_YAML' (see $OUT/logs/bindcache-check.log)"
fi
fi

if only idle; then
for tuned in default tuned; do
	[ $tuned = tuned ] && BRIDGE_ENV=("${TUNED[@]}")
	for bound in unbound bound; do
		name="idle_${bound}_${tuned}_$IDLE"
		start_stack "$name" 0
		args=()
		[ $bound = bound ] && args=(-idle-bind)
		bench "bridge idle $bound $tuned" "$name" -url "ldap://$LDAP_ADDR" -mode idle -c "$IDLE" -d "$HOLD" -users "$USERS" \
			-pid "$BRIDGE_PID" "${args[@]}" || true
		stop_stack
	done
	BRIDGE_ENV=()
done
fi

if only slapd; then
if [ "$SLAPD" = 1 ]; then
	if bench/slapd/setup.sh "$OUT/slapd" "$USERS" "$BIN/ldapsim" >"$OUT/logs/slapd-setup.log" 2>&1; then
		port=$((20000 + RANDOM % 20000))
		while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 20000)); done
		for c in $CONNS; do
			for mode in bind connbind passwd; do
				# A fresh slapd per run, for its peak RSS; the database
				# keeps the passwords passwd changed, so it is rebuilt too.
				bench/slapd/setup.sh "$OUT/slapd" "$USERS" "$BIN/ldapsim" >>"$OUT/logs/slapd-setup.log" 2>&1
				spid=$(bench/slapd/start.sh "$OUT/slapd" "$port")
				bench slapd "slapd_${c}_$mode" -url "ldap://127.0.0.1:$port" -mode "$mode" -c "$c" -d "$DUR" -warmup "$WARM" \
					-users "$USERS" -passwords 2 -pid "$spid" || true
				bench/slapd/stop.sh "$OUT/slapd"
			done
		done
		bench/slapd/setup.sh "$OUT/slapd" "$USERS" "$BIN/ldapsim" >>"$OUT/logs/slapd-setup.log" 2>&1
		spid=$(bench/slapd/start.sh "$OUT/slapd" "$port")
		bench "slapd idle bound" "slapd_idle_bound_$IDLE" -url "ldap://127.0.0.1:$port" -mode idle -c "$IDLE" -d "$HOLD" \
			-users "$USERS" -idle-bind -pid "$spid" || true
		bench/slapd/stop.sh "$OUT/slapd"
	else
		echo "bench: slapd comparison skipped (see $OUT/logs/slapd-setup.log)"
	fi
fi
fi

if only micro; then
echo "bench: Go micro benchmarks"
$GO test -run '^$' -bench . -benchmem -benchtime "$MICRO" ./ldapfront/ ./pwcontrol/ ./bridge/ ./bench/hist/ \
	>"$OUT/micro.txt" 2>&1 || echo "bench: micro benchmarks failed (see $OUT/micro.txt)"
$GO test -run '^$' -bench 'BenchmarkBridge' -benchmem -benchtime "$MICRO" ./cmd/ldapbench/ >>"$OUT/micro.txt" 2>&1 ||
	echo "bench: in-process benchmarks failed (see $OUT/micro.txt)"
# One bind through ldapfront, the core and each backend client (issue 14's
# hot path): time and allocations, then every allocation recorded to split
# them between the bridge and the in-process simulator.
$GO test -run '^$' -bench 'BindHotPath' -benchmem -benchtime "$MICRO" ./bench/hotpath/ >>"$OUT/micro.txt" 2>&1 ||
	echo "bench: hot-path benchmark failed (see $OUT/micro.txt)"
$GO test -run '^$' -bench 'BindHotPath' -benchmem -benchtime 2000x -memprofilerate 1 -v ./bench/hotpath/ >"$OUT/hotpath-allocs.txt" 2>&1 ||
	echo "bench: hot-path allocation split failed (see $OUT/hotpath-allocs.txt)"
fi

{
	echo "# ldapbridge benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(uname -sr), $($GO version | cut -d' ' -f3)."
	echo "Load tool, simulators, bridge (and slapd) share the machine; figures from one run; other work on the machine adds noise."
	echo
	if [ "${CAPACITY:-0}" -gt 0 ]; then
		busy=$(json_num machine_busy_cores "$OUT/json/openloop_capacity.json" 2>/dev/null || true)
		busy=$(awk -v b="${busy:-0}" 'BEGIN { printf "%.2f", b }')
		echo "Bind capacity with $OL_CONNS connections and $OL_LAT backend latency (closed loop, run \"pd/20ms capacity\"): $CAPACITY binds/s"
		echo "(the machine's $(nproc) CPUs were busy ${busy:-?} cores during it, this run and other work together);"
		echo "the open-loop runs send at ${OL_PCTS// /%, }% of it (table \"Open loop\" below; \"added p99\" is p99 minus the backend's $OL_LAT)."
		echo
	fi
	if compgen -G "$OUT/json/*.json" >/dev/null; then
		"$BIN/ldapbench" summarize "$OUT"/json/*.json
	fi
	if [ -f "$OUT/micro.txt" ]; then
		echo
		echo '```'
		grep -E '^(Benchmark|goos|pkg)' "$OUT/micro.txt" || true
		echo '```'
	fi
	if [ -f "$OUT/hotpath-allocs.txt" ]; then
		echo
		echo "The hot path's allocations split between the bridge and the in-process simulator (every allocation recorded; the top sites are in hotpath-allocs.txt):"
		echo
		echo '```'
		grep -E '^Benchmark[^ ]*-[0-9]+[[:space:]]' "$OUT/hotpath-allocs.txt" || true
		echo '```'
	fi
} >"$OUT/summary.md"
echo "bench: summary in $OUT/summary.md"

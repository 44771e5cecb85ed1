#!/usr/bin/env bash
# Stops the slapd started by start.sh (by its pid file) and waits for it.
# usage: bench/slapd/stop.sh DIR
set -euo pipefail
dir=${1:?usage: stop.sh DIR}
[ -s "$dir/slapd.pid" ] || exit 0
pid=$(cat "$dir/slapd.pid")
kill "$pid" 2>/dev/null || exit 0
for _ in $(seq 100); do
	kill -0 "$pid" 2>/dev/null || exit 0
	sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true

#!/usr/bin/env bash
# Starts the slapd that setup.sh built, as an unprivileged process on a
# loopback port, and waits until it answers. Prints its pid.
#
# usage: bench/slapd/start.sh DIR PORT
set -euo pipefail
dir=${1:?usage: start.sh DIR PORT}
port=${2:?port}
PATH=$PATH:/usr/sbin
dir=$(cd "$dir" && pwd)
# 10,000 idle connections need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
args=(-h "ldap://127.0.0.1:$port/" -f "$dir/slapd.conf")
if [ "$(id -u)" = 0 ]; then
	args+=(-u nobody -g nogroup)
fi
slapd "${args[@]}"
for _ in $(seq 100); do
	if [ -s "$dir/slapd.pid" ] && ldapwhoami -x -H "ldap://127.0.0.1:$port" -D "cn=admin,dc=example,dc=com" -y "$dir/rootpw" >/dev/null 2>&1; then
		cat "$dir/slapd.pid"
		exit 0
	fi
	sleep 0.1
done
echo "bench/slapd: slapd did not start on port $port" >&2
exit 1

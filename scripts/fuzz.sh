#!/usr/bin/env bash
# Runs every Fuzz target in the module for $1 each (default 60s; a count
# such as 10000000x runs that many executions), goes on past a failing one,
# and lists the failures at the end. $2, when given, is an extended regular
# expression: only the targets whose "package target" matches run (e.g.
# 'ldapfront|pwcontrol'). A crasher is written to the package's
# testdata/fuzz/, where it stays as a regression test once committed.
#
# At the end it prints one line per target with the executions and the time
# the fuzzer reported last: the figures docs/security.md records.
set -uo pipefail
t=${1:-60s}
only=${2:-}
failed=()
summary=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //'); do
    if [ -n "$only" ] && ! printf '%s %s\n' "$pkg" "$f" | grep -Eq -- "$only"; then
      continue
    fi
    echo "== $pkg $f ($t)"
    if go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$pkg" 2>&1 | tee "$log"; then
      status=ok
    else
      status=FAILED
      failed+=("$pkg $f")
    fi
    # "fuzz: elapsed: 3m0s, execs: 10000000 (55555/sec), new interesting: ..."
    last=$(grep -o 'elapsed: [^,]*, execs: [0-9]*' "$log" | tail -n 1)
    summary+=("$status ${pkg#github.com/ldapbridge/ldapbridge/} $f ${last:-no figures}")
  done
done
echo
echo "== summary ($t each)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
echo "all fuzz targets passed"

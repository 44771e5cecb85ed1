#!/usr/bin/env bash
# Runs every Fuzz target in the module for $1 (default 60s) each, goes on
# past a failing one, and lists the failures at the end. A crasher is
# written to the package's testdata/fuzz/, where it stays as a regression
# test once committed.
set -uo pipefail
t=${1:-60s}
failed=()
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //'); do
    echo "== $pkg $f ($t)"
    go test -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$pkg" || failed+=("$pkg $f")
  done
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
echo "all fuzz targets passed"

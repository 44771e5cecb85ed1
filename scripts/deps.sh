#!/usr/bin/env bash
# Installs what the tests drive: the real LDAP clients, Apache httpd, promtool (the
# deploy/monitoring rules) and helm (the deploy/helm chart). Idempotent;
# quiet when present.
set -euo pipefail
need=()
command -v ldappasswd >/dev/null 2>&1 || need+=(ldap-utils)
/usr/bin/python3 -c 'import ldap3' >/dev/null 2>&1 || need+=(python3-ldap3)
# Apache httpd with mod_authnz_ldap, for the search-then-bind end-to-end
# test (cmd/ldapbridge/e2e_apache_test.go runs it as a child process; the
# service the package may start is not used).
[ -x /usr/sbin/apache2 ] && [ -e /usr/lib/apache2/modules/mod_authnz_ldap.so ] || need+=(apache2)
# Debian's prometheus package ships /usr/bin/promtool. Its service is not
# started here (no init in CI containers; policy-rc.d or no systemd).
# Without its recommends (node exporter and the like).
lean=()
command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
if [ $((${#need[@]} + ${#lean[@]})) -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]} ${lean[*]}"
  $sudo apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ${#lean[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi
# helm is not packaged by Debian: built from the Go module proxy into
# GOPATH/bin, where deploy/helm_test.go looks (besides PATH). The build
# takes minutes of CPU from a cold cache, while the unit tests leave the
# cores half idle (they wait on sockets and timeouts): with HELM_BACKGROUND
# set (make test sets it), the build runs beside them and
# scripts/wait-helm.sh, before the deploy tests, waits for it.
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
GO="${GO:-go}"
gobin="$($GO env GOPATH | cut -d: -f1)/bin"
# A background build's state from an earlier run that never waited for it.
rm -rf "${TMPDIR:-/tmp}/ldapbridge-helm-install"
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$gobin/helm" ]; then
  if [ -n "${HELM_BACKGROUND:-}" ]; then
    state="${TMPDIR:-/tmp}/ldapbridge-helm-install"
    mkdir -p "$state"
    rm -f "$state/status"
    echo "installing helm $HELM_VERSION in the background (go install; log: $state/log)"
    # (set -e would end the subshell before it writes a failure's status)
    ( code=0; $GO install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || code=$?; echo "$code" >"$state/status" ) </dev/null >"$state/log" 2>&1 &
  else
    echo "installing helm $HELM_VERSION (go install, a few minutes from a cold build cache)"
    $GO install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  fi
fi

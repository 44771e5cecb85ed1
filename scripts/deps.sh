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
# GOPATH/bin, where deploy/helm_test.go looks (besides PATH).
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
GO="${GO:-go}"
gobin="$($GO env GOPATH | cut -d: -f1)/bin"
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$gobin/helm" ]; then
  echo "installing helm $HELM_VERSION (go install, a few minutes from a cold build cache)"
  $GO install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

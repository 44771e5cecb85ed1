#!/usr/bin/env bash
# Installs the real LDAP clients the tests drive. Idempotent; quiet when present.
set -euo pipefail
need=()
command -v ldappasswd >/dev/null 2>&1 || need+=(ldap-utils)
/usr/bin/python3 -c 'import ldap3' >/dev/null 2>&1 || need+=(python3-ldap3)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

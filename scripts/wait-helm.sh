#!/usr/bin/env bash
# Waits for a helm build that scripts/deps.sh started in the background
# (HELM_BACKGROUND), and fails with its log if it failed. Nothing to wait
# for when no build was started.
set -euo pipefail
state="${TMPDIR:-/tmp}/ldapbridge-helm-install"
[ -d "$state" ] || exit 0
[ -f "$state/log" ] || exit 0
for _ in $(seq 1 900); do
  if [ -f "$state/status" ]; then
    code=$(cat "$state/status")
    if [ "$code" != 0 ]; then
      echo "helm install failed (exit $code):"
      cat "$state/log"
      rm -rf "$state"
      exit 1
    fi
    rm -rf "$state"
    exit 0
  fi
  sleep 1
done
echo "helm install still running after 15 minutes:"
cat "$state/log"
exit 1

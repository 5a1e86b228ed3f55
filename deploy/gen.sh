#!/usr/bin/env bash
# Generates a new network of N validators in deploy/net (one home per node:
# keys, genesis, data; and deploy/net/compose.yaml), replacing any network
# generated there before. Needs deploy/floe from deploy/build.sh.
# Usage: deploy/gen.sh [N]
set -euo pipefail
cd "$(dirname "$0")"
if [[ -f net/compose.yaml ]] && docker ps -q --filter name='^floe-node' | grep -q .; then
  echo "a floe network is running; stop it first: docker compose -p floe -f deploy/net/compose.yaml down" >&2
  exit 1
fi
./floe e2e gen --dir net --validators "${1:-4}"

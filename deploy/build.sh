#!/usr/bin/env bash
# Builds a statically linked floe (cgo for blst, linked with -static) and the
# floe:local image FROM scratch. No registry is needed.
#
#   deploy/build.sh [VALIDATORS]   image, plus a network of VALIDATORS (default
#                                  4) in deploy/net if there is none yet
#   deploy/build.sh --image-only   just the image (what 'floe e2e run' calls)
#
# Then: docker compose -p floe -f deploy/net/compose.yaml up -d
#       (or docker-compose with the same arguments); see docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
image_only=0
validators=4
case "${1:-}" in
  --image-only) image_only=1 ;;
  "") ;;
  *[!0-9]*) echo "usage: deploy/build.sh [--image-only | VALIDATORS]" >&2; exit 2 ;;
  *) validators=$1 ;;
esac
CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
  -ldflags '-s -w -linkmode external -extldflags "-static"' -o deploy/floe ./cmd/floe
docker build -q -t floe:local deploy
if [[ $image_only == 0 ]]; then
  if [[ -f deploy/net/compose.yaml ]]; then
    echo "deploy/net already holds a network (deploy/gen.sh N makes a new one)"
  else
    deploy/floe e2e gen --dir deploy/net --validators "$validators"
  fi
fi

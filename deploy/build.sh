#!/usr/bin/env bash
# Builds a statically linked floe (cgo for blst, linked with -static) and the
# floe:local image FROM scratch. No registry is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
  -ldflags '-s -w -linkmode external -extldflags "-static"' -o deploy/floe ./cmd/floe
docker build -q -t floe:local deploy

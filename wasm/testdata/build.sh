#!/bin/sh
# Rebuilds the .wasm fixtures from their .wat sources. The tests use the
# committed .wasm files, so they run without wabt; run this after editing a
# .wat (needs wat2wasm from Debian's wabt package: apt-get install wabt).
set -eu
cd "$(dirname "$0")"
for wat in *.wat; do
	wat2wasm --disable-bulk-memory --disable-reference-types --disable-multi-value \
		--disable-saturating-float-to-int "$wat" -o "${wat%.wat}.wasm"
done

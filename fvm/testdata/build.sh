#!/bin/sh
# Rebuilds the test modules from their WAT sources (wat2wasm, from
# Debian's wabt package). The tests use the committed .wasm files.
set -eu
cd "$(dirname "$0")"
for f in *.wat; do wat2wasm "$f" -o "${f%.wat}.wasm"; done

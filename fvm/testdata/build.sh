#!/bin/sh
# Rebuilds the test modules: the WAT sources with wat2wasm (Debian's wabt
# package), the C ones with clang and lld (Debian's clang and lld) like
# examples/build.sh. The tests use the committed .wasm files.
set -eu
cd "$(dirname "$0")"
for f in *.wat; do wat2wasm "$f" -o "${f%.wat}.wasm"; done
for f in *.c; do
  clang --target=wasm32 -mcpu=mvp -O2 -nostdlib -ffreestanding -fno-builtin -I../../examples/include -Wall -Werror \
    -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=16384 -Wl,--initial-memory=131072 -o "${f%.c}.wasm" "$f"
done

#!/bin/sh
# Builds the example programs to WebAssembly (wasm32, MVP: no floating
# point, no libc) with clang and lld from Debian's packages:
#   apt-get install clang lld
# Run from anywhere; writes examples/NAME/NAME.wasm.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
for name in token tickets; do
  "$CLANG" --target=wasm32 -mcpu=mvp -O2 -nostdlib -ffreestanding -fno-builtin \
    -Iinclude -Wall -Werror \
    -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=16384 -Wl,--initial-memory=131072 \
    -o "$name/$name.wasm" "$name/$name.c"
  echo "built $name/$name.wasm ($(wc -c < "$name/$name.wasm") bytes)"
done

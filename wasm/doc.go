// Package wasm runs WebAssembly programs deterministically and under bounds:
// the same module and input give byte-identical results and the same gas on
// every node, every CPU architecture and either wazero engine, and every run
// is bounded in CPU (gas), memory (pages) and stack (call depth, locals,
// operand stack height).
//
// Determinism comes from the module itself, not from the engine: Compile
// parses and validates the binary with its own reader (the MVP instruction
// set plus the sign-extension operators; no floating point at all), then
// rewrites it so that it meters itself. A gas counter global is decremented
// at the start of every basic block by the block's static cost, a call-depth
// global is checked around every call, memory's maximum is clamped, and
// memory.grow charges per page granted. Because the charges are ordinary
// instructions in the module, every engine that runs the module correctly
// computes the same gas.
//
// Runtime executes compiled Programs with wazero: one fresh instance per
// call (isolation), a bounded LRU cache of compiled modules, host functions
// registered once under the import module "env", and nested calls from host
// functions that share the caller's remaining gas and call depth. The
// package knows nothing about accounts or storage: those are host functions
// the VM built on top of it registers.
//
// See docs/wasm.md for the rules, the cost table and measured overhead.
package wasm

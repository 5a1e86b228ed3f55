package wasm

import "errors"

// Deploy-time refusals returned (wrapped with detail) by Compile.
var (
	// ErrMalformed is wrapped by every error about a binary that is not a
	// well-formed WebAssembly module (or one wazero does not accept).
	ErrMalformed = errors.New("wasm: malformed module")
	// ErrUnsupported is wrapped when the module uses a feature outside the
	// MVP plus sign-extension operators (bulk memory, reference types,
	// SIMD, multi-value, threads...).
	ErrUnsupported = errors.New("wasm: unsupported feature")
	// ErrFloatingPoint is wrapped when f32 or f64 appears anywhere: a type,
	// a local, a global, a block type or an instruction.
	ErrFloatingPoint = errors.New("wasm: floating point is not allowed")
	// ErrImport is wrapped when the module imports anything but a function
	// of module "env" that the host registered, with its exact signature.
	ErrImport = errors.New("wasm: import not allowed")
	// ErrStartFunction is wrapped when the module declares a start function.
	ErrStartFunction = errors.New("wasm: start function not allowed")
	// ErrMemoryLimit is wrapped when the module's memory does not fit the
	// limits (initial pages above MaxMemoryPages) or is missing, duplicated
	// or not exported as "memory".
	ErrMemoryLimit = errors.New("wasm: memory limit")
	// ErrTooLarge is wrapped when the module exceeds a size limit: code
	// bytes, functions, locals, operand stack height, table size, globals.
	ErrTooLarge = errors.New("wasm: module exceeds a limit")
	// ErrLimits is wrapped when a Limits or Config value is unusable.
	ErrLimits = errors.New("wasm: invalid limits")
)

// Run-time errors returned (wrapped with detail) by Runtime.Call.
var (
	// ErrOutOfGas: the call spent its whole gas limit (the gas counter went
	// negative, or a host function's Charge exceeded what was left).
	ErrOutOfGas = errors.New("wasm: out of gas")
	// ErrCallDepth: a call went deeper than Limits.MaxCallDepth, counting
	// nested calls made by host functions.
	ErrCallDepth = errors.New("wasm: call depth exceeded")
	// ErrTrap: the program trapped (unreachable, integer divide by zero,
	// out of bounds memory access, ...). The wrapped message names wazero's
	// trap reason; TrapReason extracts it.
	ErrTrap = errors.New("wasm: trap")
	// ErrNoFunction: the called export does not exist, is not a function,
	// or the arguments do not match its signature.
	ErrNoFunction = errors.New("wasm: no such function")
	// ErrMemoryAccess: a host function read or wrote outside the caller's
	// memory.
	ErrMemoryAccess = errors.New("wasm: memory access out of bounds")
	// ErrCanceled: the call's context was canceled or its deadline passed
	// before the call finished. It is not a trap: the result depends on
	// timing, so callers must not treat it as a deterministic outcome.
	ErrCanceled = errors.New("wasm: call canceled")
	// ErrHost: a host function was called outside a Call, or failed in a
	// way that is not one of the errors above (its own error is wrapped
	// too).
	ErrHost = errors.New("wasm: host function failed")
)

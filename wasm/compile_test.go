package wasm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCompileRefusals(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    error
	}{
		{"float_type", ErrFloatingPoint},
		{"float_local", ErrFloatingPoint},
		{"float_op", ErrFloatingPoint},
		{"float_global", ErrFloatingPoint},
		{"start", ErrStartFunction},
		{"bigmem", ErrMemoryLimit},
		{"no_memory", ErrMemoryLimit},
		{"import_unknown", ErrImport},
		{"import_signature", ErrImport},
		{"import_wasi", ErrImport},
		{"import_memory", ErrImport},
		{"data_oob", ErrMalformed},
		{"elem_oob", ErrMalformed},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			_, err := Compile(fixture(t, tc.fixture), hostImports(), DefaultLimits())
			wantErr(t, err, tc.want)
		})
	}
}

func TestCompileLimits(t *testing.T) {
	code := fixture(t, "compute")
	lim := DefaultLimits()
	lim.MaxCodeBytes = len(code) - 1
	_, err := Compile(code, hostImports(), lim)
	wantErr(t, err, ErrTooLarge)

	lim = DefaultLimits()
	lim.MaxFunctions = 3
	_, err = Compile(code, hostImports(), lim)
	wantErr(t, err, ErrTooLarge)

	lim = DefaultLimits()
	lim.MaxLocals = 2 // mix has one parameter and two locals
	_, err = Compile(code, hostImports(), lim)
	wantErr(t, err, ErrTooLarge)

	lim = DefaultLimits()
	lim.MaxStackHeight = 2 // mix nests deeper than that
	_, err = Compile(code, hostImports(), lim)
	wantErr(t, err, ErrTooLarge)

	lim = DefaultLimits()
	lim.MaxTableSize = 1
	_, err = Compile(code, hostImports(), lim)
	wantErr(t, err, ErrTooLarge)

	lim = DefaultLimits()
	lim.MaxMemoryPages = 1000
	if _, err := Compile(fixture(t, "bigmem"), nil, lim); err != nil {
		t.Fatalf("1000 pages within a 1000-page limit: %v", err)
	}

	lim = DefaultLimits()
	lim.MaxCallDepth = 5000
	_, err = Compile(code, hostImports(), lim)
	wantErr(t, err, ErrLimits)
}

// TestCompileHandBuilt refuses what wat2wasm would not write: non-MVP
// opcodes, bulk memory, multi-value, bad LEB128.
func TestCompileHandBuilt(t *testing.T) {
	// (module (memory (export "memory") 1) (func (export "f") BODY))
	mod := func(body ...byte) []byte {
		b := []byte("\x00asm\x01\x00\x00\x00")
		b = append(b, secType, 4, 1, 0x60, 0, 0)
		b = append(b, secFunction, 2, 1, 0)
		b = append(b, secMemory, 3, 1, 0, 1)
		b = append(b, secExport, 14, 2, 6, 'm', 'e', 'm', 'o', 'r', 'y', kindMemory, 0, 1, 'f', kindFunc, 0)
		fb := append([]byte{0}, body...)
		code := append([]byte{1, byte(len(fb))}, fb...)
		b = append(b, secCode, byte(len(code)))
		return append(b, code...)
	}
	if _, err := Compile(mod(opNop, opEnd), nil, DefaultLimits()); err != nil {
		t.Fatalf("valid module refused: %v", err)
	}
	nested := func(n int) []byte {
		var body []byte
		for i := 0; i < n; i++ {
			body = append(body, opBlock, blockEmpty)
		}
		for i := 0; i <= n; i++ {
			body = append(body, opEnd)
		}
		return body
	}
	// These bodies outgrow mod's one-byte sizes: decode them directly.
	if _, err := decodeBody(&module{}, Signature{}, append([]byte{0}, nested(MaxBlockNesting)...), DefaultLimits()); err != nil {
		t.Fatalf("nesting at the limit refused: %v", err)
	}
	_, err := decodeBody(&module{}, Signature{}, append([]byte{0}, nested(MaxBlockNesting+1)...), DefaultLimits())
	wantErr(t, err, ErrTooLarge)
	for _, tc := range []struct {
		name string
		code []byte
		want error
	}{
		{"memory.fill", mod(0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 11, 0, opEnd), ErrUnsupported},
		{"trunc_sat", mod(0x43, 0, 0, 0, 0, 0xFC, 0, 0x1A, opEnd), ErrFloatingPoint},
		{"simd", mod(0xFD, 0, opEnd), ErrUnsupported},
		{"select_t", mod(0x41, 0, 0x41, 0, 0x41, 0, 0x1C, 1, 0x7F, 0x1A, opEnd), ErrUnsupported},
		{"block_typeidx", mod(opBlock, 0, opEnd, opEnd), ErrUnsupported},
		{"f64 block", mod(opBlock, valF64, opUnreachable, opEnd, 0x1A, opEnd), ErrFloatingPoint},
		{"no end", mod(opNop), ErrMalformed},
		{"after end", mod(opEnd, opNop), ErrMalformed},
		{"overlong i32.const", mod(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1A, opEnd), ErrMalformed},
		{"bad padding", mod(0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x4F, 0x1A, opEnd), ErrMalformed},
		{"type mismatch", mod(0x41, 0, opEnd), ErrMalformed}, // wazero's check
		{"truncated", mod(opNop, opEnd)[:30], ErrMalformed},
		{"magic", []byte("\x00ASM\x01\x00\x00\x00"), ErrMalformed},
		// Indices that only exist after instrumentation: the gas counter
		// (global 0 here) and the memory.grow helper (function 1).
		{"set gas", mod(opI64Const, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, opGlobalSet, 0, opEnd), ErrMalformed},
		{"get depth", mod(opGlobalGet, 1, 0x1A, opEnd), ErrMalformed},
		{"call helper", mod(opI32Const, 1, opMemoryGrow, 0, 0x1A, opI32Const, 1, opCall, 1, 0x1A, opEnd), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.code, nil, DefaultLimits())
			wantErr(t, err, tc.want)
		})
	}
}

func TestCompileProgram(t *testing.T) {
	code := fixture(t, "compute")
	p := mustCompile(t, "compute", DefaultLimits())
	q := mustCompile(t, "compute", DefaultLimits())
	if !bytes.Equal(p.Instrumented(), q.Instrumented()) {
		t.Fatal("instrumentation is not deterministic")
	}
	if p.CodeHash() != sha(code) {
		t.Fatal("CodeHash is not the SHA-256 of the code")
	}
	sig, ok := p.Function("sum")
	if !ok || !sig.Equal(Signature{Params: []ValueType{I64}, Results: []ValueType{I64}}) {
		t.Fatalf("sum signature %v %v", sig, ok)
	}
	if _, ok := p.Function("memory"); ok {
		t.Fatal("memory listed as a function")
	}
	if _, ok := p.Function("fib"); !ok {
		t.Fatal("fib missing")
	}
	// A program cannot export the metering counters' names: compiling an
	// instrumented module again is refused.
	_, err := Compile(p.Instrumented(), nil, DefaultLimits())
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("re-compiling an instrumented module: %v", err)
	}
}

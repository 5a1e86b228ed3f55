package wasm

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// BenchmarkMetering compares sum(100000), a tight integer loop, metered
// (through Runtime.Call) and unmetered (the original module run by wazero
// directly), on both engines, with and without interruption on context
// cancellation. All include one instantiation per call.
func BenchmarkMetering(b *testing.B) {
	ctx := context.Background()
	code := fixture(b, "compute")
	prog := mustCompile(b, "compute", DefaultLimits())
	const n = 100000
	for _, cancel := range []bool{false, true} {
		suffix := "/nocancel"
		if cancel {
			suffix = "/cancel"
		}
		for _, e := range enginesWith(b, Config{IgnoreCancel: !cancel}) {
			b.Run(e.name+"/metered"+suffix, func(b *testing.B) {
				for b.Loop() {
					if _, err := e.rt.Call(ctx, prog, "sum", []uint64{n}, 1<<40, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(e.name+"/plain"+suffix, func(b *testing.B) {
				benchPlain(b, e.name == "interpreter", cancel, code, n)
			})
		}
	}
}

// benchPlain runs the uninstrumented module with wazero directly.
func benchPlain(b *testing.B, interpreter, cancel bool, code []byte, n uint64) {
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigCompiler()
	if interpreter {
		cfg = wazero.NewRuntimeConfigInterpreter()
	}
	wz := wazero.NewRuntimeWithConfig(ctx, cfg.WithCoreFeatures(coreFeatures).WithCloseOnContextDone(cancel))
	defer wz.Close(ctx)
	cm, err := wz.CompileModule(ctx, code)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		mod, err := wz.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mod.ExportedFunction("sum").Call(ctx, n); err != nil {
			b.Fatal(err)
		}
		_ = mod.Close(ctx)
	}
}

// BenchmarkCompile measures deploy-time work on compute.wasm (471 bytes,
// 13 functions): decoding, validation and instrumentation alone; the
// package's Compile (adds wazero's validation); and a cold compile with
// the compiler engine (what a cache miss costs on the first call).
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	code := fixture(b, "compute")
	imports := hostImports()
	b.Run("instrument", func(b *testing.B) {
		for b.Loop() {
			if _, err := prepare(code, imports, DefaultLimits()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Compile", func(b *testing.B) {
		for b.Loop() {
			if _, err := Compile(code, imports, DefaultLimits()); err != nil {
				b.Fatal(err)
			}
		}
	})
	prog := mustCompile(b, "compute", DefaultLimits())
	for _, e := range engines(b, 0) {
		b.Run("cold-"+e.name, func(b *testing.B) {
			for b.Loop() {
				cm, err := e.rt.wz.CompileModule(ctx, prog.instrumented)
				if err != nil {
					b.Fatal(err)
				}
				_ = cm.Close(ctx)
			}
		})
	}
}

// BenchmarkCallCached is the per-call cost with the compiled module cached:
// a fresh instance, add(40, 2), and closing the instance.
func BenchmarkCallCached(b *testing.B) {
	ctx := context.Background()
	prog := mustCompile(b, "add", DefaultLimits())
	for _, e := range engines(b, 0) {
		b.Run(e.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.rt.Call(ctx, prog, "add", []uint64{40, 2}, 10000, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

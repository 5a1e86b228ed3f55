package wasm

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzCompile: any bytes give an error or a Program whose instrumented
// module wazero accepts; never a panic. Compile is deterministic, and a
// module that both our decoder and wazero accept is never broken by the
// instrumentation.
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"add", "compute", "control", "host", "float_op", "start", "bigmem", "import_unknown", "no_memory"} {
		f.Add(fixture(f, name))
	}
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(coreFeatures))
	defer wz.Close(ctx)
	lim := DefaultLimits()
	lim.MaxCallDepth = 64
	f.Fuzz(func(t *testing.T, code []byte) {
		p, err := Compile(code, hostImports(), lim)
		if err != nil {
			pre, perr := prepare(code, hostImports(), lim)
			if perr != nil {
				return // refused by our own decoder
			}
			// Our decoder accepted it, wazero refused the instrumented
			// module: fine only if wazero refuses the original too.
			if cm, werr := wz.CompileModule(ctx, code); werr == nil {
				_ = cm.Close(ctx)
				t.Fatalf("instrumentation broke a valid module: %v\ninstrumented: %x", err, pre.instrumented)
			}
			return
		}
		q, err := Compile(code, hostImports(), lim)
		if err != nil || !bytes.Equal(p.instrumented, q.instrumented) {
			t.Fatalf("Compile is not deterministic: %v", err)
		}
	})
}

// FuzzCallDeterministic: the same call twice, and on the interpreter and
// the compiler, gives the same values, gas and error class.
func FuzzCallDeterministic(f *testing.F) {
	for _, seed := range []struct {
		x   int64
		gas uint64
	}{{1, 1 << 30}, {63, 1500}, {-1, 1 << 20}, {0, 100}, {12345, 3000}} {
		f.Add(seed.x, seed.gas)
	}
	compute := mustCompile(f, "compute", DefaultLimits())
	es := engines(f, 0)
	f.Fuzz(func(t *testing.T, x int64, gas uint64) {
		gas %= 1 << 20
		var outs []string
		for _, e := range append(es, es...) {
			res, err := e.rt.Call(context.Background(), compute, "mix", []uint64{uint64(x)}, gas, nil)
			outs = append(outs, fmt.Sprintf("%v %s", res, errClass(err)))
		}
		for _, o := range outs[1:] {
			if o != outs[0] {
				t.Fatalf("mix(%d) gas %d diverged: %q", x, gas, outs)
			}
		}
	})
}

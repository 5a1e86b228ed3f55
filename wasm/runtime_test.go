package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

func call(t *testing.T, rt *Runtime, p *Program, fn string, gas uint64, args ...uint64) (Result, error) {
	t.Helper()
	return rt.Call(context.Background(), p, fn, args, gas, nil)
}

// TestGasHandComputed pins the gas of small programs to values computed by
// hand from the cost table, on both engines.
func TestGasHandComputed(t *testing.T) {
	add := mustCompile(t, "add", DefaultLimits())
	compute := mustCompile(t, "compute", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			// One page of memory (1024), then local.get + local.get +
			// i32.add = 3 (end costs nothing).
			res, err := call(t, e.rt, add, "add", 10000, 40, 2)
			if err != nil || res.Values[0] != 42 || res.GasUsed != 1024+3 {
				t.Fatalf("add: %v %+v, want 42 and gas 1027", err, res)
			}
			if add.InstanceCost() != CostPerPage {
				t.Fatalf("instance cost %d", add.InstanceCost())
			}
			// sum: one page (1024); the loop body is one segment of 12
			// (the exit test local.get, i64.eqz, br_if, then 9 ending in
			// br), charged on every entry including the last, when br_if
			// exits; then the final local.get (1): 1024 + 12(n+1) + 1.
			for _, n := range []uint64{0, 1, 10, 1000} {
				want := 1024 + 12*(n+1) + 1
				res, err := call(t, e.rt, compute, "sum", 1<<40, n)
				if err != nil || res.Values[0] != n*(n+1)/2 || res.GasUsed != want {
					t.Fatalf("sum(%d): %v %+v, want %d and gas %d", n, err, res, n*(n+1)/2, want)
				}
			}
		})
	}
}

// TestOutOfGas: an unbounded loop ends with ErrOutOfGas having used its
// whole limit, and the exhaustion point is exact: sum(100) needs exactly
// 1024 + 1213 gas on either engine.
func TestOutOfGas(t *testing.T) {
	compute := mustCompile(t, "compute", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			for i := 0; i < 3; i++ {
				res, err := call(t, e.rt, compute, "spin", 100_000)
				wantErr(t, err, ErrOutOfGas)
				if res.GasUsed != 100_000 {
					t.Fatalf("spin used %d, want the whole limit", res.GasUsed)
				}
			}
			_, err := call(t, e.rt, compute, "sum", 1024+1212, 100)
			wantErr(t, err, ErrOutOfGas)
			res, err := call(t, e.rt, compute, "sum", 1024+1213, 100)
			if err != nil || res.GasUsed != 1024+1213 {
				t.Fatalf("sum(100) with exactly enough gas: %v %+v", err, res)
			}
			_, err = call(t, e.rt, compute, "spin", 0)
			wantErr(t, err, ErrOutOfGas)
		})
	}
}

func TestCallDepth(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxCallDepth = 50
	compute := mustCompile(t, "compute", lim)
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			_, err := call(t, e.rt, compute, "recurse", 1<<40, 0)
			wantErr(t, err, ErrCallDepth)
			// countdown(n) makes n nested calls: exactly MaxCallDepth fit.
			res, err := call(t, e.rt, compute, "countdown", 1<<40, 50)
			if err != nil || res.Values[0] != 50 {
				t.Fatalf("countdown(50): %v %+v", err, res)
			}
			_, err = call(t, e.rt, compute, "countdown", 1<<40, 51)
			wantErr(t, err, ErrCallDepth)
		})
	}
	// The ceiling: the default limits recurse on both engines without
	// reaching wazero's own stack limits, and the maximum allowed depth
	// still ends in ErrCallDepth rather than an engine stack overflow.
	lim.MaxCallDepth = ceilCallDepth
	deep := mustCompile(t, "compute", lim)
	for _, e := range engines(t, 0) {
		_, err := call(t, e.rt, deep, "recurse", 1<<40, 0)
		wantErr(t, err, ErrCallDepth)
	}
}

func TestMemoryGrow(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxMemoryPages = 16
	compute := mustCompile(t, "compute", lim)
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			// Grows from 1 page until refused at the clamped maximum.
			res, err := call(t, e.rt, compute, "grow", 1<<40)
			if err != nil || res.Values[0] != 16 {
				t.Fatalf("grow: %v %+v, want 16 pages", err, res)
			}
			if res.GasUsed < 15*CostPerPage {
				t.Fatalf("grow used %d gas, want at least %d for 15 pages", res.GasUsed, 15*CostPerPage)
			}
			// Not enough gas for the pages: out of gas, not a bigger memory.
			_, err = call(t, e.rt, compute, "grow", 5*CostPerPage)
			wantErr(t, err, ErrOutOfGas)
			res, err = call(t, e.rt, compute, "grow_huge", 1<<40)
			if err != nil || uint32(res.Values[0]) != math.MaxUint32 {
				t.Fatalf("grow_huge: %v %+v, want -1", err, res)
			}
			if want := uint64(CostPerPage + CostMemoryGrow + CostBase); res.GasUsed != want {
				t.Fatalf("a refused grow used %d gas, want %d", res.GasUsed, want)
			}
		})
	}
}

func TestTraps(t *testing.T) {
	compute := mustCompile(t, "compute", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			for _, tc := range []struct {
				fn     string
				args   []uint64
				reason string
			}{
				{"div", []uint64{1, 0}, "integer divide by zero"},
				{"oob", nil, "out of bounds memory access"},
				{"trap", nil, "unreachable"},
				{"indirect", []uint64{7, 1}, "invalid table access"},
			} {
				_, err := e.rt.Call(context.Background(), compute, tc.fn, tc.args, 1<<20, nil)
				wantErr(t, err, ErrTrap)
				if got := TrapReason(err); got != tc.reason {
					t.Fatalf("%s: trap reason %q, want %q", tc.fn, got, tc.reason)
				}
			}
			res, err := call(t, e.rt, compute, "indirect", 1<<20, 1, 21)
			if err != nil || res.Values[0] != 42 {
				t.Fatalf("indirect double: %v %+v", err, res)
			}
			res, err = call(t, e.rt, compute, "indirect", 1<<20, 0, 10)
			if err != nil || res.Values[0] != 55 {
				t.Fatalf("indirect fib: %v %+v", err, res)
			}
		})
	}
}

func TestNoFunction(t *testing.T) {
	compute := mustCompile(t, "compute", DefaultLimits())
	rt := engines(t, 0)[0].rt
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"missing", nil},
		{"memory", nil},
		{"floe_gas", nil},
		{"sum", nil},                  // wrong number of arguments
		{"div", []uint64{1 << 32, 1}}, // does not fit i32
	} {
		_, err := rt.Call(context.Background(), compute, tc.fn, tc.args, 1000, nil)
		wantErr(t, err, ErrNoFunction)
	}
	_, err := rt.Call(context.Background(), nil, "sum", nil, 1000, nil)
	wantErr(t, err, ErrNoFunction)
	host := mustCompile(t, "host", DefaultLimits())
	_, err = rt.Call(context.Background(), host, "charge", []uint64{1}, 10000, nil)
	wantErr(t, err, ErrNoFunction)
}

func TestHostFunctions(t *testing.T) {
	host := mustCompile(t, "host", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			// pay(n): one page, local.get + call (1 + 5), then the host
			// charges n.
			res, err := call(t, e.rt, host, "pay", 2000, 500)
			if err != nil || res.GasUsed != 1024+6+500 {
				t.Fatalf("pay(500): %v %+v, want gas 1530", err, res)
			}
			res, err = call(t, e.rt, host, "pay", 2000, 2000-1024-6+1)
			wantErr(t, err, ErrOutOfGas)
			if res.GasUsed != 2000 {
				t.Fatalf("out of gas in a host function used %d", res.GasUsed)
			}
			// echo copies "hello" from 16 to 256 and returns its first byte.
			res, err = call(t, e.rt, host, "echo", 2000, 16, 5)
			if err != nil || res.Values[0] != 'h' {
				t.Fatalf("echo: %v %+v", err, res)
			}
			_, err = call(t, e.rt, host, "echo", 2000, PageSize-2, 5)
			wantErr(t, err, ErrMemoryAccess)
			_, err = call(t, e.rt, host, "boom", 2000)
			wantErr(t, err, ErrHost)
		})
	}
}

func TestNestedCall(t *testing.T) {
	add := mustCompile(t, "add", DefaultLimits())
	host := mustCompile(t, "host", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			env := &hostEnv{nested: add, nestedFn: "add"}
			// call_other(x) = nested add(x, 2) + 1. Gas: the caller's page,
			// local.get + call (6), nested add (its page and 3), then
			// i32.const + i32.add (2).
			const want = 1024 + 6 + 1024 + 3 + 2
			res, err := e.rt.Call(context.Background(), host, "call_other", []uint64{40}, 10000, env)
			if err != nil || res.Values[0] != 43 || res.GasUsed != want {
				t.Fatalf("call_other: %v %+v, want 43 and gas %d", err, res, want)
			}
			// The nested call shares the remaining gas: one less and add
			// runs out inside the nested call.
			res, err = e.rt.Call(context.Background(), host, "call_other", []uint64{40}, want-1, env)
			wantErr(t, err, ErrOutOfGas)
			if res.GasUsed != want-1 {
				t.Fatalf("nested out of gas used %d", res.GasUsed)
			}
			res, err = e.rt.Call(context.Background(), host, "call_other", []uint64{40}, want, env)
			if err != nil || res.GasUsed != want {
				t.Fatalf("call_other with exactly enough gas: %v %+v", err, res)
			}
			// A program calling itself through the host stops at the
			// shared call depth.
			env = &hostEnv{nestedFn: "call_other"}
			env.nested = host
			_, err = e.rt.Call(context.Background(), host, "call_other", []uint64{1}, 1<<40, env)
			wantErr(t, err, ErrCallDepth)
		})
	}
}

// TestCancel: a canceled context stops a running program, as ErrCanceled
// and not as a trap. The host function cancels, so the test is not timed.
func TestCancel(t *testing.T) {
	host := mustCompile(t, "host", DefaultLimits())
	for _, e := range engines(t, 0) {
		t.Run(e.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := e.rt.Call(ctx, host, "poke_then_spin", nil, math.MaxInt64, &hostEnv{poke: cancel})
			wantErr(t, err, ErrCanceled)
			if errors.Is(err, ErrTrap) || errors.Is(err, ErrOutOfGas) {
				t.Fatalf("cancellation reported as %v", err)
			}
			_, err = e.rt.Call(ctx, host, "pay", []uint64{1}, 100, nil)
			wantErr(t, err, ErrCanceled)
		})
	}
	// With IgnoreCancel, gas alone ends the run; a context canceled
	// beforehand still stops the call from starting.
	for _, e := range enginesWith(t, Config{IgnoreCancel: true}) {
		t.Run(e.name+"/ignore", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := e.rt.Call(ctx, host, "poke_then_spin", nil, 100_000, &hostEnv{poke: cancel})
			wantErr(t, err, ErrOutOfGas)
			_, err = e.rt.Call(ctx, host, "pay", []uint64{1}, 100, nil)
			wantErr(t, err, ErrCanceled)
		})
	}
}

// TestEnginesAgree runs the same calls on both engines: same values, gas
// and error class.
func TestEnginesAgree(t *testing.T) {
	compute := mustCompile(t, "compute", DefaultLimits())
	es := engines(t, 0)
	for x := int64(-5); x < 300; x += 7 {
		for _, gas := range []uint64{1100, 1500, 1 << 30} {
			a, errA := es[0].rt.Call(context.Background(), compute, "mix", []uint64{uint64(x)}, gas, nil)
			b, errB := es[1].rt.Call(context.Background(), compute, "mix", []uint64{uint64(x)}, gas, nil)
			if fmt.Sprint(a) != fmt.Sprint(b) || errClass(errA) != errClass(errB) {
				t.Fatalf("mix(%d) gas %d: %v %v vs %v %v", x, gas, a, errA, b, errB)
			}
		}
	}
}

func errClass(err error) string {
	for _, e := range []error{ErrOutOfGas, ErrCallDepth, ErrNoFunction, ErrMemoryAccess, ErrCanceled, ErrHost} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if errors.Is(err, ErrTrap) {
		return "trap: " + TrapReason(err)
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// TestCacheBounded: the cache never holds more than its size, and calls on
// evicted programs recompile transparently, also under concurrency.
func TestCacheBounded(t *testing.T) {
	var progs []*Program
	for depth := uint32(10); depth < 16; depth++ {
		lim := DefaultLimits()
		lim.MaxCallDepth = depth // a different instrumented module each
		progs = append(progs, mustCompile(t, "compute", lim))
	}
	for _, e := range engines(t, 2) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 6; i++ {
					p := progs[(g+i)%len(progs)]
					res, err := e.rt.Call(context.Background(), p, "sum", []uint64{10}, 2000, nil)
					if err != nil || res.Values[0] != 55 || res.GasUsed != 1024+133 {
						errs <- fmt.Errorf("%s: %v %+v", e.name, err, res)
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := e.rt.Cached(); n > 2 {
			t.Fatalf("%s: %d modules cached, bound 2", e.name, n)
		}
	}
}

func TestRuntimeCompile(t *testing.T) {
	rt := engines(t, 4)[1].rt
	p, err := rt.Compile(context.Background(), fixture(t, "host"), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if rt.Cached() != 1 {
		t.Fatalf("Runtime.Compile did not cache the module")
	}
	if _, err := rt.Call(context.Background(), p, "pay", []uint64{1}, 2000, nil); err != nil {
		t.Fatal(err)
	}
	_, err = rt.Compile(context.Background(), fixture(t, "import_unknown"), DefaultLimits())
	wantErr(t, err, ErrImport)
	// A program compiled for other host functions is refused at call time.
	bare, err := NewRuntime(context.Background(), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(context.Background())
	_, err = bare.Call(context.Background(), p, "pay", []uint64{1}, 2000, nil)
	wantErr(t, err, ErrImport)
}

// TestInstrumentationPreservesResults runs the original module with plain
// wazero and the instrumented one through the runtime: with enough gas,
// the results are the same.
func TestInstrumentationPreservesResults(t *testing.T) {
	ctx := context.Background()
	code := fixture(t, "compute")
	lim := DefaultLimits()
	lim.MaxMemoryPages = 1000 // compute's declared maximum: grow reaches it too
	prog := mustCompile(t, "compute", lim)
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(coreFeatures))
	defer wz.Close(ctx)
	cm, err := wz.CompileModule(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	rt := engines(t, 0)[1].rt
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"sum", []uint64{77}}, {"fib", []uint64{15}}, {"countdown", []uint64{100}},
		{"indirect", []uint64{1, 9}}, {"grow", nil}, {"div", []uint64{100, 7}},
	} {
		want := plainCall(t, wz, cm, tc.fn, tc.args...)
		res, err := rt.Call(ctx, prog, tc.fn, tc.args, 1<<40, nil)
		if err != nil || fmt.Sprint(res.Values) != fmt.Sprint(want) {
			t.Fatalf("%s%v: instrumented %v %v, original %v", tc.fn, tc.args, res.Values, err, want)
		}
	}
	control := fixture(t, "control")
	cprog := mustCompile(t, "control", DefaultLimits())
	ccm, err := wz.CompileModule(ctx, control)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"dead", []uint64{0}}, {"dead", []uint64{1}}, {"nested", []uint64{0}}, {"nested", []uint64{9}},
		{"switch", []uint64{0}}, {"switch", []uint64{3}}, {"switch", []uint64{4}}, {"switch", []uint64{5}}, {"switch", []uint64{1 << 31}},
	} {
		want := plainCall(t, wz, ccm, tc.fn, tc.args...)
		for _, e := range engines(t, 0) {
			res, err := e.rt.Call(ctx, cprog, tc.fn, tc.args, 1<<40, nil)
			if err != nil || fmt.Sprint(res.Values) != fmt.Sprint(want) {
				t.Fatalf("%s: %s%v: instrumented %v %v, original %v", e.name, tc.fn, tc.args, res.Values, err, want)
			}
		}
	}
	for x := uint64(1); x < 2000; x += 13 {
		if x&0xff == 0 {
			continue // mix divides by x & 0xff
		}
		want := plainCall(t, wz, cm, "mix", x)
		res, err := rt.Call(ctx, prog, "mix", []uint64{x}, 1<<40, nil)
		if err != nil || fmt.Sprint(res.Values) != fmt.Sprint(want) {
			t.Fatalf("mix(%d): instrumented %v %v, original %v", x, res.Values, err, want)
		}
	}
}

func plainCall(t *testing.T, wz wazero.Runtime, cm wazero.CompiledModule, fn string, args ...uint64) []uint64 {
	t.Helper()
	ctx := context.Background()
	mod, err := wz.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	out, err := mod.ExportedFunction(fn).Call(ctx, args...)
	if err != nil {
		t.Fatalf("plain %s: %v", fn, err)
	}
	return out
}

package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fixture reads a committed .wasm file (built from its .wat by
// testdata/build.sh).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testHosts are the host functions host.wat imports. env, when a
// *hostEnv, tells them what to do.
type hostEnv struct {
	nested   *Program // program "nested" calls
	nestedFn string
	rt       *Runtime
	poke     func()
}

func testHosts(rt **Runtime) []HostFunc {
	return []HostFunc{
		{Name: "charge", Signature: Signature{Params: []ValueType{I64}},
			Fn: func(ctx context.Context, c *Call, stack []uint64) error {
				return c.Charge(stack[0])
			}},
		{Name: "nested", Signature: Signature{Params: []ValueType{I32}, Results: []ValueType{I32}},
			Fn: func(ctx context.Context, c *Call, stack []uint64) error {
				env := c.Env().(*hostEnv)
				var args []uint64
				switch env.nestedFn {
				case "add":
					args = []uint64{stack[0], 2}
				default:
					args = []uint64{stack[0]}
				}
				res, err := (*rt).Call(ctx, env.nested, env.nestedFn, args, ^uint64(0), env)
				if err != nil {
					return err
				}
				stack[0] = res.Values[0]
				return nil
			}},
		{Name: "echo", Signature: Signature{Params: []ValueType{I32, I32}},
			Fn: func(ctx context.Context, c *Call, stack []uint64) error {
				b, err := c.Read(uint32(stack[0]), uint32(stack[1]))
				if err != nil {
					return err
				}
				return c.Write(256, b)
			}},
		{Name: "boom", Signature: Signature{},
			Fn: func(ctx context.Context, c *Call, stack []uint64) error {
				var m map[string]int
				m["x"] = 1 // a host bug: nil map write
				return nil
			}},
		{Name: "poke", Signature: Signature{},
			Fn: func(ctx context.Context, c *Call, stack []uint64) error {
				if env, ok := c.Env().(*hostEnv); ok && env.poke != nil {
					env.poke()
				}
				return nil
			}},
	}
}

type engine struct {
	name string
	rt   *Runtime
}

// engines returns a runtime per wazero engine, both with testHosts.
func engines(t testing.TB, cacheSize int) []engine {
	return enginesWith(t, Config{CacheSize: cacheSize})
}

// enginesWith is engines with a configuration; Interpreter is set per
// engine.
func enginesWith(t testing.TB, cfg Config) []engine {
	t.Helper()
	var out []engine
	for _, interp := range []bool{true, false} {
		rt := new(*Runtime)
		cfg.Interpreter = interp
		r, err := NewRuntime(context.Background(), cfg, testHosts(rt))
		if err != nil {
			t.Fatal(err)
		}
		*rt = r
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		name := "compiler"
		if interp {
			name = "interpreter"
		}
		out = append(out, engine{name: name, rt: r})
	}
	return out
}

func hostImports() []Import {
	var rt *Runtime
	var out []Import
	for _, h := range testHosts(&rt) {
		out = append(out, Import{Name: h.Name, Signature: h.Signature})
	}
	return out
}

func mustCompile(t testing.TB, name string, lim Limits) *Program {
	t.Helper()
	p, err := Compile(fixture(t, name), hostImports(), lim)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return p
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

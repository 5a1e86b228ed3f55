package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
)

// genModule builds a valid module from fuzz bytes: two functions
// (param i32) (result i32) over four i32 locals, with random structured
// control flow (blocks and loops with and without results, if/else, br,
// br_if, br_table, return, unreachable, dead code), arithmetic, memory
// and calls, including recursion. It exercises the instrumentation on
// shapes no hand-written fixture has.
func genModule(seed []byte) []byte {
	g := &gen{src: seed}
	f0 := g.body()
	f1 := g.body()
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, secType, 6, 1, 0x60, 1, byte(I32), 1, byte(I32))
	b = append(b, secFunction, 3, 2, 0, 0)
	b = append(b, secMemory, 4, 1, 1, 1, 2)
	b = append(b, secExport, 16, 2, 6, 'm', 'e', 'm', 'o', 'r', 'y', kindMemory, 0, 3, 'r', 'u', 'n', kindFunc, 0)
	var code []byte
	code = appendU32(code, 2)
	for _, f := range [][]byte{f0, f1} {
		code = appendU32(code, uint32(len(f)))
		code = append(code, f...)
	}
	b = append(b, secCode)
	b = appendU32(b, uint32(len(code)))
	return append(b, code...)
}

type genFrame struct {
	op      byte
	results int
	base    int
	dead    bool
	hasElse bool
}

type gen struct {
	src    []byte
	pos    int
	out    []byte
	frames []genFrame
	height int
}

func (g *gen) next() byte {
	if g.pos >= len(g.src) {
		return 0
	}
	b := g.src[g.pos]
	g.pos++
	return b
}

func (g *gen) emit(b ...byte) { g.out = append(g.out, b...) }

func (g *gen) top() *genFrame { return &g.frames[len(g.frames)-1] }

func (g *gen) avail() int { return g.height - g.top().base }

func (g *gen) push(n int) { g.height += n }

func (g *gen) pop(n int) { g.height -= n }

// arity is what a branch to label l carries: nothing into a loop, the
// results out of anything else.
func (g *gen) arity(l int) int {
	f := g.frames[len(g.frames)-1-l]
	if f.op == opLoop {
		return 0
	}
	return f.results
}

func (g *gen) becomeDead() {
	f := g.top()
	g.height = f.base
	f.dead = true
}

// settle makes the stack hold exactly the frame's results. In dead code
// missing values are made up by the polymorphic stack, but values pushed
// after the branch are real and must be dropped.
func (g *gen) settle() {
	f := g.top()
	for g.avail() > f.results {
		g.emit(opDrop)
		g.pop(1)
	}
	if f.dead {
		g.height = f.base + f.results
		return
	}
	for g.avail() < f.results {
		g.emit(opI32Const, 5)
		g.push(1)
	}
}

func (g *gen) end() {
	f := g.top()
	if f.op == opIf && f.results > 0 && !f.hasElse {
		g.settle()
		g.emit(opElse)
		f.hasElse = true
		f.dead = false
		g.height = f.base
	}
	g.settle()
	g.emit(opEnd)
	g.frames = g.frames[:len(g.frames)-1]
	g.height = f.base + f.results
}

func (g *gen) body() []byte {
	g.out = []byte{1, 4, byte(I32)} // four i32 locals (index 1..4)
	g.frames = []genFrame{{op: opBlock, results: 1}}
	g.height = 0
	for steps := 0; steps < 200 && g.pos < len(g.src); steps++ {
		op := g.next()
		arg := g.next()
		f := g.top()
		switch op % 24 {
		case 0, 1:
			g.emit(opI32Const, arg&0x3f)
			g.push(1)
		case 2:
			g.emit(opLocalGet, arg%5)
			g.push(1)
		case 3:
			if g.avail() >= 1 {
				g.emit(opLocalSet, arg%5)
				g.pop(1)
			}
		case 4:
			if g.avail() >= 1 {
				g.emit(opLocalTee, arg%5)
			}
		case 5, 6:
			if g.avail() >= 2 {
				// add sub mul div_u rem_u and or xor shl shr_u rotl, lt_u, eq
				ops := []byte{0x6A, 0x6B, 0x6C, 0x6E, 0x70, 0x71, 0x72, 0x73, 0x74, 0x76, 0x77, 0x49, 0x46}
				g.emit(ops[int(arg)%len(ops)])
				g.pop(1)
			}
		case 7:
			if g.avail() >= 1 {
				g.emit([]byte{0x45, 0x67, 0x68, 0xC0, 0xC1}[arg%5])
			}
		case 8:
			if g.avail() >= 1 {
				g.emit(opDrop)
				g.pop(1)
			}
		case 9:
			if g.avail() >= 3 {
				g.emit(opSelect)
				g.pop(2)
			}
		case 10, 11:
			if len(g.frames) < 12 {
				kind := []byte{opBlock, opLoop}[arg&1]
				results := int(arg>>1) & 1
				bt := byte(blockEmpty)
				if results == 1 {
					bt = byte(I32)
				}
				g.emit(kind, bt)
				g.frames = append(g.frames, genFrame{op: kind, results: results, base: g.height})
			}
		case 12:
			if len(g.frames) < 12 && g.avail() >= 1 {
				g.pop(1)
				results := int(arg) & 1
				bt := byte(blockEmpty)
				if results == 1 {
					bt = byte(I32)
				}
				g.emit(opIf, bt)
				g.frames = append(g.frames, genFrame{op: opIf, results: results, base: g.height})
			}
		case 13:
			if f.op == opIf && !f.hasElse {
				g.settle()
				g.emit(opElse)
				f.hasElse = true
				f.dead = false
				g.height = f.base
			}
		case 14, 15:
			if len(g.frames) > 1 {
				g.end()
			}
		case 16:
			l := int(arg) % len(g.frames)
			if g.avail() >= g.arity(l) {
				g.emit(opBr)
				g.out = appendU32(g.out, uint32(l))
				g.becomeDead()
			}
		case 17:
			l := int(arg) % len(g.frames)
			if g.avail() >= g.arity(l)+1 {
				g.emit(opBrIf)
				g.out = appendU32(g.out, uint32(l))
				g.pop(1)
			}
		case 18:
			// br_table over labels of the same arity as the default.
			l := int(arg) % len(g.frames)
			a := g.arity(l)
			if g.avail() >= a+1 {
				var labels []uint32
				for i := 0; i < len(g.frames); i++ {
					if g.arity(i) == a {
						labels = append(labels, uint32(i))
					}
				}
				g.emit(opBrTable)
				g.out = appendU32(g.out, uint32(len(labels)))
				for _, x := range labels {
					g.out = appendU32(g.out, x)
				}
				g.out = appendU32(g.out, uint32(l))
				g.becomeDead()
			}
		case 19:
			if g.avail() >= 1 && arg < 32 {
				g.emit(opReturn)
				g.becomeDead()
			}
		case 20:
			if arg < 8 {
				g.emit(opUnreachable)
				g.becomeDead()
			}
		case 21:
			if g.avail() >= 1 {
				g.emit(opCall, arg&1)
			}
		case 22:
			if g.avail() >= 1 {
				g.emit(0x28, 2, arg&0x7f) // i32.load align 2, offset arg
			} else {
				g.emit(opI32Const, 1, opMemoryGrow, 0)
				g.push(1)
			}
		case 23:
			if g.avail() >= 2 {
				g.emit(0x36, 2, arg&0x7f) // i32.store
				g.pop(2)
			}
		}
	}
	for len(g.frames) > 1 {
		g.end()
	}
	g.settle()
	g.emit(opEnd)
	return g.out
}

// FuzzInstrumentation: for a generated valid module, the instrumented
// program returns exactly what the original returns under plain wazero
// (value or trap reason) whenever it finishes within its gas and depth,
// and both engines agree on values, gas and errors.
func FuzzInstrumentation(f *testing.F) {
	f.Add([]byte{10, 0, 2, 0, 5, 0, 17, 1, 14, 0, 0, 9}, uint32(3))
	f.Add([]byte{11, 2, 2, 0, 0, 1, 5, 1, 4, 1, 0, 3, 5, 11, 17, 1, 14, 0}, uint32(3))
	f.Add([]byte{12, 1, 0, 7, 13, 0, 0, 9, 14, 0, 21, 1, 22, 4, 23, 8}, uint32(3))
	f.Add([]byte{10, 2, 0, 1, 18, 0, 2, 3, 14, 0, 19, 0, 20, 0, 21, 0}, uint32(3))
	ctx := context.Background()
	wz := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(coreFeatures))
	defer wz.Close(ctx)
	es := engines(f, 8)
	lim := DefaultLimits()
	lim.MaxCallDepth = 64
	f.Fuzz(func(t *testing.T, seed []byte, arg uint32) {
		code := genModule(seed)
		cm, err := wz.CompileModule(ctx, code)
		if err != nil {
			t.Fatalf("generator made an invalid module: %v\n%x", err, code)
		}
		defer cm.Close(ctx)
		prog, err := Compile(code, nil, lim)
		if err != nil {
			t.Fatalf("valid module refused: %v\n%x", err, code)
		}
		var outs []string
		var res Result
		var gotErr error
		for _, e := range es {
			r, err := e.rt.Call(ctx, prog, "run", []uint64{uint64(arg)}, 200_000, nil)
			outs = append(outs, fmt.Sprintf("%v %s", r, errClass(err)))
			res, gotErr = r, err
			if e.name == "compiler" && outs[0] != outs[1] {
				t.Fatalf("engines disagree: %q\n%x", outs, code)
			}
			if errClass(err) == ErrOutOfGas.Error() || errClass(err) == ErrCallDepth.Error() {
				return
			}
		}
		mod, err := wz.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		want, perr := mod.ExportedFunction("run").Call(ctx, uint64(arg))
		if perr != nil {
			if TrapReason(gotErr) != trapReason(perr) {
				t.Fatalf("original trapped with %q, instrumented %v\n%x", trapReason(perr), gotErr, code)
			}
			return
		}
		if gotErr != nil || fmt.Sprint(res.Values) != fmt.Sprint(want) {
			t.Fatalf("original %v, instrumented %v %v\n%x", want, res.Values, gotErr, code)
		}
	})
}

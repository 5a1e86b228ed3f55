package blockstm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/floe-bft/floe/state"
)

func rid(k string) state.RegisterID { return state.RegisterID{Owner: "o", Key: k} }

// TestSequentialByHand pins Sequential's output on a block worked out by
// hand: reads of the start state and of earlier transactions are
// recorded, reads of a transaction's own writes are not, a delete hides
// the start state, and Final keeps the last write per register.
func TestSequentialByHand(t *testing.T) {
	base := state.MapReader{rid("a"): u64(5), rid("b"): u64(1)}
	b := testBlock{base: base, txs: [][]op{
		{{kind: opTransfer, a: rid("a"), b: rid("c"), amt: 2}}, // a 5→3, c 0→2
		{{kind: opDelete, a: rid("b")}, {kind: opEmit, a: rid("b"), b: rid("c")}},
		{{kind: opOverwrite, a: rid("d"), amt: 7}, {kind: opFail, a: rid("c")}},
	}}
	for _, exec := range []string{"sequential", "parallel"} {
		var out *Output
		var err error
		if exec == "sequential" {
			out, err = Sequential(base, 3, b.fn())
		} else {
			out, err = Execute(context.Background(), base, 3, b.fn(), Options{Workers: 2})
		}
		if err != nil {
			t.Fatal(err)
		}
		want := &Output{
			Results: []Result{
				{OK: true, Computation: 1},
				{OK: true, Computation: 2, Events: []Event{{Type: "seen", Payload: u64(2)}}},
				{OK: false, Error: "failed at 2", Computation: 2},
			},
			Reads: [][]state.RegisterID{{rid("a"), rid("c")}, {rid("c")}, {rid("c")}},
			Writes: [][]state.Write{
				{{ID: rid("a"), Value: u64(3)}, {ID: rid("c"), Value: u64(2)}},
				{{ID: rid("b")}},
				{{ID: rid("d"), Value: u64(8)}},
			},
			Final: []state.Write{{ID: rid("a"), Value: u64(3)}, {ID: rid("b")}, {ID: rid("c"), Value: u64(2)}, {ID: rid("d"), Value: u64(8)}},
		}
		if d := diffOutputs(want, out); d != "" {
			t.Fatalf("%s: %s", exec, d)
		}
		chunk, err := out.NetWrites(1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if wantChunk := []state.Write{{ID: rid("b")}, {ID: rid("d"), Value: u64(8)}}; !reflect.DeepEqual(chunk, wantChunk) {
			t.Fatalf("%s: NetWrites(1, 3) = %v, want %v", exec, chunk, wantChunk)
		}
	}
}

// TestNetWritesOfChunksComposeToFinal: applying the chunks' net writes
// one after another gives the block's.
func TestNetWritesOfChunksComposeToFinal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := genBlock(rng, 300, 40, 5)
	out, err := Execute(context.Background(), b.base, len(b.txs), b.fn(), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[state.RegisterID][]byte{}
	for from := 0; from < len(b.txs); {
		to := min(len(b.txs), from+1+rng.IntN(50))
		ws, err := out.NetWrites(from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			applied[w.ID] = w.Value
		}
		from = to
	}
	if len(applied) != len(out.Final) {
		t.Fatalf("%d registers from chunks, %d in Final", len(applied), len(out.Final))
	}
	for _, w := range out.Final {
		if v, ok := applied[w.ID]; !ok || !reflect.DeepEqual(v, w.Value) {
			t.Fatalf("register %v: chunks %x, Final %x", w.ID, v, w.Value)
		}
	}
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, len(b.txs) + 1}} {
		if _, err := out.NetWrites(r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Fatalf("NetWrites%v: %v, want ErrRange", r, err)
		}
	}
}

var errStorage = errors.New("disk on fire")

// failingReader fails reads of one register.
type failingReader struct {
	state.MapReader
	bad state.RegisterID
}

func (f failingReader) Get(id state.RegisterID) ([]byte, error) {
	if id == f.bad {
		return nil, errStorage
	}
	return f.MapReader.Get(id)
}

// TestErrorsStopTheBlockLikeSequential: a Func error, a panic and a
// storage failure (even one the Func swallows) end both executions with
// the same error, that of the lowest failing transaction.
func TestErrorsStopTheBlockLikeSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := genBlock(rng, 200, 8, 4)
	funcErr := errors.New("func failed")
	cases := []struct {
		name string
		base state.Reader
		run  Func
		is   error
	}{
		{"func error", b.base, func(i int, v View) (Result, error) {
			if i == 150 || i == 170 {
				return Result{}, funcErr
			}
			return b.fn()(i, v)
		}, funcErr},
		{"panic", b.base, func(i int, v View) (Result, error) {
			if i == 120 {
				panic("boom")
			}
			return b.fn()(i, v)
		}, ErrPanic},
		{"storage error swallowed", failingReader{b.base, state.RegisterID{Owner: "x", Key: "bad"}}, func(i int, v View) (Result, error) {
			if i == 90 {
				_, _ = v.Get(state.RegisterID{Owner: "x", Key: "bad"})
				return Result{OK: true}, nil
			}
			return b.fn()(i, v)
		}, errStorage},
	}
	for _, c := range cases {
		_, werr := Sequential(c.base, len(b.txs), c.run)
		if !errors.Is(werr, c.is) {
			t.Fatalf("%s: sequential %v, want %v", c.name, werr, c.is)
		}
		for _, w := range []int{1, 2, 4} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, err := Execute(ctx, c.base, len(b.txs), c.run, Options{Workers: w})
			cancel()
			if out != nil || !errors.Is(err, c.is) || err.Error() != werr.Error() {
				t.Fatalf("%s workers %d: %v, want %v", c.name, w, err, werr)
			}
		}
	}
}

// TestCancelReturnsPromptly: cancelling mid-block returns ctx's error
// without running the rest of a long block.
func TestCancelReturnsPromptly(t *testing.T) {
	const n = 10_000
	slow := func(i int, v View) (Result, error) {
		time.Sleep(time.Millisecond)
		_, err := v.Get(rid(fmt.Sprint(i % 10)))
		return Result{OK: true}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Execute(ctx, state.MapReader{}, n, slow, Options{Workers: 2})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Execute after cancel: %v", err)
		}
	case <-time.After(10 * time.Second): // the block would take ≥ 5 s
		t.Fatal("Execute did not return after cancel")
	}
	if _, err := Execute(ctx, state.MapReader{}, n, slow, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute on a cancelled context: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	ok := func(int, View) (Result, error) { return Result{OK: true}, nil }
	ctx := context.Background()
	for _, n := range []int{-1, MaxTxs + 1} {
		if _, err := Sequential(state.MapReader{}, n, ok); !errors.Is(err, ErrTooManyTxs) {
			t.Fatalf("Sequential n=%d: %v", n, err)
		}
		if _, err := Execute(ctx, state.MapReader{}, n, ok, Options{}); !errors.Is(err, ErrTooManyTxs) {
			t.Fatalf("Execute n=%d: %v", n, err)
		}
	}
	for _, w := range []int{-1, MaxWorkers + 1} {
		if _, err := Execute(ctx, state.MapReader{}, 1, ok, Options{Workers: w}); !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("Execute workers=%d: %v", w, err)
		}
	}
	if _, err := Execute(ctx, nil, 1, ok, Options{}); err == nil {
		t.Fatal("Execute with a nil start state")
	}
	if _, err := Sequential(nil, 1, ok); err == nil {
		t.Fatal("Sequential with a nil start state")
	}
	for _, exec := range []func() (*Output, error){
		func() (*Output, error) { return Sequential(state.MapReader{}, 0, ok) },
		func() (*Output, error) { return Execute(ctx, state.MapReader{}, 0, ok, Options{}) },
	} {
		if out, err := exec(); err != nil || !reflect.DeepEqual(out, newOutput(0)) {
			t.Fatalf("empty block: %v, %v", out, err)
		}
	}
}

// TestViewRefusesBadInput: invalid IDs and values, and a transaction
// past its limits, get errors the Func can turn into a failed result.
func TestViewRefusesBadInput(t *testing.T) {
	v := newView(&overlay{base: state.MapReader{}, written: map[state.RegisterID][]byte{}})
	if _, err := v.Get(state.RegisterID{Owner: "o"}); !errors.Is(err, state.ErrInvalidRegister) {
		t.Fatalf("Get of an empty key: %v", err)
	}
	if err := v.Set(rid("k"), []byte{}); !errors.Is(err, state.ErrInvalidRegister) {
		t.Fatalf("Set of an empty value: %v", err)
	}
	if err := v.Set(rid("k"), make([]byte, state.MaxValueSize+1)); !errors.Is(err, state.ErrInvalidRegister) {
		t.Fatalf("Set of an oversized value: %v", err)
	}
	for k := range MaxRegistersPerTx {
		if err := v.Set(rid(fmt.Sprint(k)), u64(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Set(rid("one more"), u64(1)); !errors.Is(err, ErrTxLimit) {
		t.Fatalf("Set past the register limit: %v", err)
	}
	if _, err := v.Get(rid("one more")); !errors.Is(err, ErrTxLimit) {
		t.Fatalf("Get past the register limit: %v", err)
	}
	if err := v.Set(rid("7"), u64(2)); err != nil {
		t.Fatalf("overwriting within the limit: %v", err)
	}
	big := newView(&overlay{base: state.MapReader{}, written: map[state.RegisterID][]byte{}})
	var err error
	for k := 0; err == nil; k++ {
		err = big.Set(rid(fmt.Sprint(k)), make([]byte, state.MaxValueSize))
		if k > MaxWriteBytesPerTx/state.MaxValueSize {
			t.Fatalf("%d bytes written", big.writeBytes)
		}
	}
	if !errors.Is(err, ErrTxLimit) {
		t.Fatalf("Set past the byte limit: %v", err)
	}
	// Set copies: the caller may reuse its buffer.
	buf := u64(9)
	w := newView(&overlay{base: state.MapReader{}, written: map[state.RegisterID][]byte{}})
	if err := w.Set(rid("copy"), buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 0xff
	if got, _ := w.Get(rid("copy")); val(got) != 9 {
		t.Fatalf("Set did not copy: %x", got)
	}
}

// TestManyRegistersPerTx covers the views' indexed sets (past
// linearLimit) in both executions.
func TestManyRegistersPerTx(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := genBlock(rng, 60, 200, 3*linearLimit)
	checkEqual(t, "many registers", b, []int{2})
}

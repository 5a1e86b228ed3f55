package blockstm

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"

	"github.com/floe-bft/floe/state"
)

// A test block is a list of transactions, each a list of ops over a
// small key space, interpreted by opFunc. Values are 8-byte big-endian
// counters; an absent register counts as 0.

type opKind uint8

const (
	opIncrement opKind = iota // a += 1
	opTransfer                // if a >= amt {a -= amt; b += amt} else fail
	opCondWrite               // if a even {b = 3a+1} else delete b
	opDelete                  // delete a
	opEmit                    // event with a and b
	opFail                    // read a, fail the transaction (what was written stays)
	opOverwrite               // a = amt twice, then read a back (not a read of the state)
	opBadSet                  // Set with an invalid ID: the transaction fails
	numOpKinds
)

type op struct {
	kind opKind
	a, b state.RegisterID
	amt  uint64
}

type testBlock struct {
	txs  [][]op
	base state.MapReader
	// spin makes runs take different times, so workers interleave
	// differently; it changes nothing a transaction does.
	spin bool
}

// genBlock builds a random block: n transactions of 1..maxOps ops over
// hot keys (hot = 1: every transaction touches the one key).
func genBlock(rng *rand.Rand, n, hot, maxOps int) testBlock {
	key := func() state.RegisterID {
		k := rng.IntN(hot)
		return state.RegisterID{Owner: string([]byte{byte(k % 3)}), Key: fmt.Sprintf("k%d", k)}
	}
	b := testBlock{base: state.MapReader{}, txs: make([][]op, n), spin: true}
	for k := range hot {
		if rng.IntN(2) == 0 {
			id := state.RegisterID{Owner: string([]byte{byte(k % 3)}), Key: fmt.Sprintf("k%d", k)}
			b.base[id] = u64(uint64(rng.IntN(20)))
		}
	}
	for i := range n {
		ops := make([]op, 1+rng.IntN(maxOps))
		for j := range ops {
			ops[j] = op{kind: opKind(rng.IntN(int(numOpKinds))), a: key(), b: key(), amt: uint64(1 + rng.IntN(5))}
		}
		b.txs[i] = ops
	}
	return b
}

func u64(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

func val(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (b testBlock) fn() Func {
	return func(i int, v View) (Result, error) {
		if b.spin {
			// Up to ~20 µs of spinning, and a yield now and then.
			h := uint64(i)*0x9e3779b97f4a7c15 ^ uint64(len(b.txs))
			for range h % 4000 {
				h = h*6364136223846793005 + 1
			}
			if h%7 == 0 {
				runtime.Gosched()
			}
		}
		return b.runTx(i, v)
	}
}

func (b testBlock) runTx(i int, v View) (Result, error) {
	var res Result
	fail := func(msg string) (Result, error) {
		res.OK, res.Error = false, msg
		return res, nil
	}
	for _, o := range b.txs[i] {
		res.Computation++
		switch o.kind {
		case opIncrement:
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			if err := v.Set(o.a, u64(val(x)+1)); err != nil {
				return Result{}, err
			}
		case opTransfer:
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			y, err := v.Get(o.b)
			if err != nil {
				return Result{}, err
			}
			if val(x) < o.amt {
				return fail(fmt.Sprintf("insufficient: %d < %d", val(x), o.amt))
			}
			if err := v.Set(o.a, u64(val(x)-o.amt)); err != nil {
				return Result{}, err
			}
			y, err = v.Get(o.b) // o.b may be o.a
			if err != nil {
				return Result{}, err
			}
			if err := v.Set(o.b, u64(val(y)+o.amt)); err != nil {
				return Result{}, err
			}
		case opCondWrite:
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			var w []byte
			if val(x)%2 == 0 {
				w = u64(3*val(x) + 1)
			}
			if err := v.Set(o.b, w); err != nil {
				return Result{}, err
			}
		case opDelete:
			if err := v.Set(o.a, nil); err != nil {
				return Result{}, err
			}
		case opEmit:
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			y, err := v.Get(o.b)
			if err != nil {
				return Result{}, err
			}
			payload := append(append([]byte{}, x...), y...)
			res.Events = append(res.Events, Event{Type: "seen", Payload: payload})
		case opFail:
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			return fail(fmt.Sprintf("failed at %d", val(x)))
		case opOverwrite:
			if err := v.Set(o.a, u64(o.amt)); err != nil {
				return Result{}, err
			}
			if err := v.Set(o.a, u64(o.amt+1)); err != nil {
				return Result{}, err
			}
			x, err := v.Get(o.a)
			if err != nil {
				return Result{}, err
			}
			if val(x) != o.amt+1 {
				return Result{}, fmt.Errorf("own write not visible: %d", val(x))
			}
		case opBadSet:
			if err := v.Set(state.RegisterID{Owner: o.a.Owner}, u64(1)); err != nil {
				return fail(err.Error())
			}
			return Result{}, fmt.Errorf("invalid register accepted")
		}
	}
	res.OK = true
	return res, nil
}

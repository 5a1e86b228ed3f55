package fvm

import (
	"encoding/binary"
	"testing"

	"github.com/floe-bft/floe/transaction"
)

// FuzzHostBoundary drives every host function with arbitrary pointers,
// lengths, indexes and amounts (testdata/fuzzhost.c): whatever a program
// passes, the VM answers with an outcome, never a Go error (execute fails
// the test on one) and never a panic, the fee is charged, and the chunk
// re-executes from its data pack to the same result (execute checks it).
func FuzzHostBoundary(f *testing.F) {
	rec := func(op uint32, v ...uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, op)
		for i := range 5 {
			x := uint32(0)
			if i < len(v) {
				x = v[i]
			}
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		return b
	}
	f.Add([]byte{})
	f.Add(rec(1, 1024, 4, 2048, 8))                                    // set
	f.Add(append(rec(1, 1024, 4, 2048, 8), rec(0, 1024, 4, 0, 64)...)) // set, get
	f.Add(rec(0, 0xfffffff0, 64, 0, 8))                                // a key past memory
	f.Add(rec(10, 1024, 5000, 0, 0))                                   // an event type too long
	f.Add(rec(16, 0, 1<<20))                                           // too much randomness
	f.Add(rec(11, 1024, 3, 2048, 0, 0))                                // a call to an address read from memory
	f.Add(rec(20, 0, 10))                                              // abort
	f.Add(rec(14, 1024, 7))                                            // debit
	c := newChain(f, 2, 1_000_000_000, 1)
	p, u := c.addr(2), c.addr(3)
	mustOK(f, c.block(c.tx(p, transaction.Deploy{Code: fixture(f, "fuzzhost")}, txOpts{gas: 5_000_000}, p)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		c.t = t
		before := c.balance(u)
		o := c.block(c.tx(u, transaction.Call{Program: p, Function: "run", Args: [][]byte{data}}, txOpts{gas: 2_000_000}, u))[0]
		if o.Computation == 0 || o.Computation > 2_000_000 {
			t.Fatalf("gas %d: %s", o.Computation, describe(o))
		}
		if got := c.balance(u); got > before-o.Computation {
			t.Fatalf("u paid %d for %d gas", before-got, o.Computation)
		}
	})
}

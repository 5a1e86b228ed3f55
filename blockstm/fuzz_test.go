package blockstm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floe-bft/floe/state"
)

// blockFromBytes decodes fuzz input into a block: byte 0 picks the key
// space (1 to 8 registers), byte 1 the workers (1 to 4), then each op is
// 3 bytes — kind (the high bit starts a new transaction), register a,
// register b (the low bits of which are also the amount). Bounded at 64
// transactions and 512 ops.
func blockFromBytes(data []byte) (testBlock, int) {
	if len(data) < 2 {
		return testBlock{base: state.MapReader{}}, 1
	}
	keys, workers := 1+int(data[0]%8), 1+int(data[1]%4)
	key := func(b byte) state.RegisterID { return state.RegisterID{Key: fmt.Sprintf("k%d", int(b)%keys)} }
	b := testBlock{base: state.MapReader{key(0): u64(3), key(1): u64(10)}}
	data = data[2:]
	for ops := 0; len(data) >= 3 && ops < 512; ops++ {
		kind, a, c := data[0], data[1], data[2]
		data = data[3:]
		if kind&0x80 != 0 || len(b.txs) == 0 {
			if len(b.txs) == 64 {
				break
			}
			b.txs = append(b.txs, nil)
		}
		o := op{kind: opKind(kind&0x7f) % numOpKinds, a: key(a), b: key(c), amt: uint64(c % 7)}
		b.txs[len(b.txs)-1] = append(b.txs[len(b.txs)-1], o)
	}
	return b, workers
}

func FuzzExecuteEqualsSequential(f *testing.F) {
	f.Add([]byte{0, 1, 0x80, 0, 0, 0x80, 0, 0, 0x80, 0, 0})
	f.Add([]byte{3, 3, 0x81, 0, 1, 0x82, 1, 2, 0x80, 2, 0, 0x84, 0, 0, 5, 1, 1, 0x83, 2, 4})
	f.Add([]byte{7, 2, 0x85, 0, 0, 0x86, 1, 1, 0x87, 3, 3, 0x81, 4, 5, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, workers := blockFromBytes(data)
		want, werr := Sequential(b.base, len(b.txs), b.fn())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		got, gerr := Execute(ctx, b.base, len(b.txs), b.fn(), Options{Workers: workers})
		if fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("workers %d: error %v, sequential %v", workers, gerr, werr)
		}
		if d := diffOutputs(want, got); d != "" {
			t.Fatalf("workers %d, %d txs: %s", workers, len(b.txs), d)
		}
	})
}

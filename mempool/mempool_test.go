package mempool

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/floe-bft/floe/app"
)

func tx(i int, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

func ids(txs ...[]byte) []ID {
	out := make([]ID, len(txs))
	for i, t := range txs {
		out[i] = sha256.Sum256(t)
	}
	return out
}

func mustAdd(t *testing.T, m *Mempool, txs ...[]byte) {
	t.Helper()
	for _, x := range txs {
		if _, err := m.Add(x); err != nil {
			t.Fatal(err)
		}
	}
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestAddErrors(t *testing.T) {
	errBad := errors.New("bad signature")
	m := New(Config{MaxTxs: 3, MaxBytes: 100, MaxTxBytes: 40}, func(b []byte) error {
		switch b[0] {
		case 0xee:
			return fmt.Errorf("%w: nope", app.ErrInvalidTx)
		case 0xdd:
			return errBad
		}
		return nil
	})
	a := tx(1, 10)
	id, err := m.Add(a)
	if err != nil || id != sha256.Sum256(a) {
		t.Fatal(id, err)
	}
	if id2, err := m.Add(a); !errors.Is(err, ErrDuplicate) || id2 != id {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := m.Add(tx(2, 41)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := m.Add(append([]byte{0xee}, make([]byte, 5)...)); !errors.Is(err, app.ErrInvalidTx) {
		t.Fatalf("invalid: %v", err)
	}
	if _, err := m.Add(append([]byte{0xdd}, make([]byte, 5)...)); !errors.Is(err, app.ErrInvalidTx) || !errors.Is(err, errBad) {
		t.Fatalf("a check error is wrapped in ErrInvalidTx and keeps its cause: %v", err)
	}
	mustAdd(t, m, tx(3, 40), tx(4, 30)) // 80 bytes, 3 txs
	if _, err := m.Add(tx(5, 5)); !errors.Is(err, ErrFull) {
		t.Fatalf("count limit: %v", err)
	}
	m.Remove(ids(tx(4, 30)))
	mustAdd(t, m, tx(6, 40)) // 90 bytes, 3 txs
	m.Remove(ids(a))         // 80 bytes, 2 txs
	if _, err := m.Add(tx(7, 21)); !errors.Is(err, ErrFull) {
		t.Fatalf("byte limit: %v", err)
	}
	mustAdd(t, m, tx(8, 20))
	if n, b := m.Size(); n != 3 || b != 100 {
		t.Fatalf("size %d, %d", n, b)
	}
}

func TestAddCopies(t *testing.T) {
	m := New(Config{}, nil)
	b := tx(1, 8)
	mustAdd(t, m, b)
	b[7] = 9
	if got := m.Reap(1000); !equal(got, [][]byte{tx(1, 8)}) {
		t.Fatal("pool aliases the caller's buffer")
	}
}

func TestReapFIFOAndMaxBytes(t *testing.T) {
	m := New(Config{}, nil)
	var all [][]byte
	for i := 0; i < 10; i++ {
		all = append(all, tx(i, 10))
	}
	mustAdd(t, m, all...)
	// 4 + 3*(4+10) = 46: three fit in 46 or 59 bytes, four need 60.
	if got := m.Reap(59); !equal(got, all[:3]) || PayloadSize(got) > 59 {
		t.Fatalf("reap 59: %d txs", len(got))
	}
	if got := m.Reap(60); !equal(got, all[:4]) || PayloadSize(got) != 60 {
		t.Fatalf("reap 60: %d txs", len(got))
	}
	if got := m.ReapMax(1000, 2, nil); !equal(got, all[:2]) {
		t.Fatalf("reapmax count: %d txs", len(got))
	}
	if got := m.Reap(17); len(got) != 0 {
		t.Fatal("a 10-byte tx needs an 18-byte payload")
	}
	if n, _ := m.Size(); n != 10 {
		t.Fatal("reaping took transactions out of the pool")
	}
}

// TestReapSkips: transactions the caller's chain already carries are left
// out, in place, and come back once the skip no longer applies (their
// block was orphaned).
func TestReapSkips(t *testing.T) {
	m := New(Config{}, nil)
	var all [][]byte
	for i := 0; i < 5; i++ {
		all = append(all, tx(i, 10))
	}
	mustAdd(t, m, all...)
	onChain := map[ID]bool{sha256.Sum256(all[1]): true, sha256.Sum256(all[3]): true}
	skip := func(id ID) bool { return onChain[id] }
	if got := m.ReapMax(1<<20, 0, skip); !equal(got, [][]byte{all[0], all[2], all[4]}) {
		t.Fatalf("reap with skips: %d txs", len(got))
	}
	if got := m.ReapMax(4+2*14, 0, skip); !equal(got, [][]byte{all[0], all[2]}) {
		t.Fatalf("skipped transactions took room: %d txs", len(got))
	}
	if got := m.Reap(1 << 20); !equal(got, all) {
		t.Fatal("skipped transactions left the pool")
	}
}

func TestReapSkipsWhatDoesNotFit(t *testing.T) {
	m := New(Config{}, nil)
	small1, big, small2 := tx(1, 10), tx(2, 100), tx(3, 10)
	mustAdd(t, m, small1, big, small2)
	if got := m.Reap(50); !equal(got, [][]byte{small1, small2}) {
		t.Fatalf("got %d txs", len(got))
	}
	if got := m.Reap(200); !equal(got, [][]byte{small1, big, small2}) {
		t.Fatal("with room, the skipped tx keeps its place")
	}
}

func TestRemove(t *testing.T) {
	m := New(Config{}, nil)
	var all [][]byte
	for i := 0; i < 8; i++ {
		all = append(all, tx(i, 10))
	}
	mustAdd(t, m, all...)
	// Finalize 0 and 6 and one tx we never saw.
	stranger := tx(100, 10)
	m.Remove(ids(all[0], all[6], stranger))
	if n, b := m.Size(); n != 6 || b != 60 {
		t.Fatalf("size %d, %d", n, b)
	}
	if got := m.Reap(1 << 20); !equal(got, [][]byte{all[1], all[2], all[3], all[4], all[5], all[7]}) {
		t.Fatalf("after remove: %d txs", len(got))
	}
	// Finalized transactions are duplicates, whether we held them or not.
	for _, x := range [][]byte{all[0], all[6], stranger} {
		if _, err := m.Add(x); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("finalized tx re-added: %v", err)
		}
	}
	if m.Has(ids(all[0])[0]) || !m.Has(ids(all[1])[0]) {
		t.Fatal("Has")
	}
}

func TestRecentIsBounded(t *testing.T) {
	m := New(Config{RecentTxs: 3}, nil)
	for i := 0; i < 5; i++ {
		m.Remove(ids(tx(i, 4)))
	}
	m.Remove(ids(tx(4, 4))) // already remembered: must not take a slot
	for i := 0; i < 5; i++ {
		_, err := m.Add(tx(i, 4))
		if remembered := i >= 2; remembered != errors.Is(err, ErrDuplicate) {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if len(m.recentSet) != 3 || len(m.recent) != 3 {
		t.Fatal("recent set grew past its bound")
	}
}

func TestConcurrent(t *testing.T) {
	m := New(Config{MaxTxs: 5000}, nil)
	const adders, perAdder = 4, 2000
	var wg sync.WaitGroup
	for a := 0; a < adders; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			for i := 0; i < perAdder; i++ {
				_, err := m.Add(tx(a*perAdder+i, 16))
				if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, ErrDuplicate) {
					t.Error(err)
					return
				}
			}
		}(a)
	}
	done := make(chan struct{})
	var proposer sync.WaitGroup
	proposer.Add(1)
	go func() { // a proposer finalizing some proposals and failing others
		defer proposer.Done()
		for round := 0; ; round++ {
			select {
			case <-done:
				return
			default:
			}
			got := m.Reap(4 + 50*20)
			if round%3 == 0 {
				continue // the proposal failed: the transactions stay
			}
			m.Remove(ids(got...))
			m.Size()
		}
	}()
	wg.Wait()
	close(done)
	proposer.Wait()
	n, b := m.Size()
	if b != n*16 {
		t.Fatalf("%d txs, %d bytes", n, b)
	}
	if got := m.Reap(1 << 30); len(got) != n {
		t.Fatalf("reaped %d of %d", len(got), n)
	}
}

// BenchmarkMempoolAddReap adds 250-byte transactions and reaps and removes
// them in blocks of 3,000, as a node's leader would (ns/op per
// transaction).
func BenchmarkMempoolAddReap(b *testing.B) {
	m := New(Config{}, nil)
	txs := make([][]byte, 3000)
	for i := range txs {
		txs[i] = make([]byte, 250)
	}
	idsBuf := make([]ID, 0, len(txs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := txs[i%len(txs)]
		binary.BigEndian.PutUint64(t, uint64(i))
		if _, err := m.Add(t); err != nil {
			b.Fatal(err)
		}
		if i%len(txs) == len(txs)-1 {
			got := m.Reap(len(txs) * 260)
			idsBuf = idsBuf[:0]
			for _, x := range got {
				idsBuf = append(idsBuf, sha256.Sum256(x))
			}
			m.Remove(idsBuf)
		}
	}
}

// Known answers what Add would refuse as a duplicate, and adds nothing.
func TestKnown(t *testing.T) {
	m := New(Config{}, nil)
	held, final, fresh := tx(1, 10), tx(2, 10), tx(3, 10)
	mustAdd(t, m, held)
	m.Remove(ids(final))
	if err := m.Known(ids(held)[0]); !errors.Is(err, ErrDuplicate) || !errors.Is(err, ErrPending) {
		t.Fatalf("held: %v", err)
	}
	if err := m.Known(ids(final)[0]); !errors.Is(err, ErrDuplicate) || !errors.Is(err, ErrFinalized) {
		t.Fatalf("finalized: %v", err)
	}
	if err := m.Known(ids(fresh)[0]); err != nil {
		t.Fatalf("unknown: %v", err)
	}
	if n, _ := m.Size(); n != 1 || m.Has(ids(fresh)[0]) {
		t.Fatalf("Known added something: %d held", n)
	}
}

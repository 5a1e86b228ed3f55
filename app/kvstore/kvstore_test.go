package kvstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/storage"
)

func set(k, v string) []byte { return EncodeSet([]byte(k), []byte(v), nil) }
func del(k string) []byte    { return EncodeDelete([]byte(k), nil) }

// persisted stands in for the node's storage: it applies writes the way
// storage.AppStore does (a nil value deletes) and iterates in key order.
type persisted map[string][]byte

func (p persisted) apply(writes []storage.KV) {
	for _, w := range writes {
		if w.Value == nil {
			delete(p, string(w.Key))
		} else {
			p[string(w.Key)] = bytes.Clone(w.Value)
		}
	}
}

func (p persisted) iterate(fn func(key, value []byte) error) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn([]byte(k), p[k]); err != nil {
			return err
		}
	}
	return nil
}

func newStore(t testing.TB) *Store {
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExecuteResultsAndWrites(t *testing.T) {
	s := newStore(t)
	if s.Root() != merkle.Empty {
		t.Fatal("empty store root")
	}
	txs := [][]byte{
		set("a", "1"),
		set("b", "2"),
		del("missing"),
		[]byte("garbage"),
		set("a", "3"), // overwrites within the block
		del("b"),      // deletes what this block set
		set("c", "4"),
		del("c"),
		set("c", "5"), // set, delete, set: the last write wins
	}
	results, writes, root, err := s.Execute(1, txs)
	if err != nil {
		t.Fatal(err)
	}
	want := []app.Result{{OK: true}, {OK: true}, {Error: ReasonKeyNotFound}, {}, {OK: true}, {OK: true}, {OK: true}, {OK: true}, {OK: true}}
	for i, r := range results {
		if r.OK != want[i].OK || (want[i].Error != "" && r.Error != want[i].Error) {
			t.Fatalf("result %d: %+v, want %+v", i, r, want[i])
		}
	}
	if !strings.HasPrefix(results[3].Error, app.ErrInvalidTx.Error()) {
		t.Fatalf("garbage result: %q", results[3].Error)
	}
	got := map[string]string{}
	for _, w := range writes {
		if _, dup := got[string(w.Key)]; dup {
			t.Fatalf("two writes for %q", w.Key)
		}
		if w.Value == nil {
			got[string(w.Key)] = "<deleted>"
		} else {
			got[string(w.Key)] = string(w.Value)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{"a": "3", "b": "<deleted>", "c": "5"}) {
		t.Fatalf("writes %v", got)
	}
	if v, ok := s.Get([]byte("a")); !ok || string(v) != "3" {
		t.Fatal("Get a")
	}
	if _, ok := s.Get([]byte("b")); ok {
		t.Fatal("b is deleted")
	}
	if s.Len() != 2 || root != s.Root() {
		t.Fatal("state after the block")
	}
	// The root is the tree over exactly the final state.
	tr := merkle.New()
	tr.Update([]merkle.Op{
		{Key: merkle.KeyHash([]byte("a")), Value: merkle.ValueHash([]byte("3"))},
		{Key: merkle.KeyHash([]byte("c")), Value: merkle.ValueHash([]byte("5"))},
	})
	if tr.Root() != root {
		t.Fatal("root is not the tree of the final state")
	}
	// A failed transaction changes nothing.
	_, writes, root2, _ := s.Execute(2, [][]byte{del("b"), {OpSet}})
	if len(writes) != 0 || root2 != root {
		t.Fatal("failed transactions changed the state")
	}
	// Empty block.
	results, writes, root3, _ := s.Execute(3, nil)
	if len(results) != 0 || len(writes) != 0 || root3 != root {
		t.Fatal("empty block")
	}
}

func TestExecuteDoesNotAliasTxs(t *testing.T) {
	s := newStore(t)
	tx := set("key", "value")
	_, writes, _, _ := s.Execute(1, [][]byte{tx})
	for i := range tx {
		tx[i] = 0xff
	}
	if v, _ := s.Get([]byte("key")); string(v) != "value" {
		t.Fatal("state aliases the transaction")
	}
	if string(writes[0].Key) != "key" || string(writes[0].Value) != "value" {
		t.Fatal("writes alias the transaction")
	}
}

func TestProveThroughStore(t *testing.T) {
	s := newStore(t)
	var txs [][]byte
	for i := 0; i < 200; i++ {
		txs = append(txs, set(fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	s.Execute(1, txs)
	root := s.Root()
	for i := 0; i < 250; i++ {
		k := []byte(fmt.Sprint("k", i))
		v, proof, err := s.Prove(k)
		if err != nil {
			t.Fatal(err)
		}
		if (v != nil) != (i < 200) {
			t.Fatalf("value of k%d: %q", i, v)
		}
		if err := merkle.Verify(root, k, v, proof); err != nil {
			t.Fatalf("k%d: %v", i, err)
		}
		if err := merkle.Verify(root, k, []byte("forged"), proof); err == nil {
			t.Fatal("forged value verified")
		}
	}
}

// randomBlocks makes blocks of sets, overwrites and deletes (some of absent
// keys) over a small key space, with a little garbage.
func randomBlocks(seed uint64, blocks, perBlock int) [][][]byte {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([][][]byte, blocks)
	for b := range out {
		for i := 0; i < perBlock; i++ {
			k := fmt.Sprint("key", rng.IntN(500))
			switch r := rng.IntN(20); {
			case r == 0:
				out[b] = append(out[b], []byte{byte(rng.IntN(4))})
			case r < 7:
				out[b] = append(out[b], EncodeDelete([]byte(k), binary.BigEndian.AppendUint64(nil, rng.Uint64())))
			default:
				out[b] = append(out[b], EncodeSet([]byte(k), []byte(fmt.Sprint(rng.Uint64())), nil))
			}
		}
	}
	return out
}

func TestDeterminismAndRebuild(t *testing.T) {
	a, b := newStore(t), newStore(t)
	disk := persisted{}
	failures := 0
	for h, block := range randomBlocks(42, 60, 150) {
		ra, wa, rootA, errA := a.Execute(uint64(h+1), block)
		rb, wb, rootB, errB := b.Execute(uint64(h+1), block)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if rootA != rootB || !slices.Equal(ra, rb) || fmt.Sprint(wa) != fmt.Sprint(wb) {
			t.Fatalf("height %d: two instances diverge", h+1)
		}
		for _, r := range ra {
			if !r.OK {
				failures++
			}
		}
		disk.apply(wa)
		// Restart from what was persisted: same root as the live store.
		if h%10 == 9 {
			re, err := New(disk.iterate)
			if err != nil {
				t.Fatal(err)
			}
			if re.Root() != rootA || re.Len() != a.Len() {
				t.Fatalf("height %d: rebuilt root differs from the live one", h+1)
			}
		}
	}
	if failures == 0 {
		t.Fatal("no failed transactions exercised")
	}
}

func TestNewRejectsCorruptState(t *testing.T) {
	_, err := New(persisted{"k": {}}.iterate)
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("empty value: %v", err)
	}
	boom := errors.New("disk on fire")
	if _, err := New(func(func(k, v []byte) error) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("iterator error: %v", err)
	}
}

func TestNewCopiesIteratorBuffers(t *testing.T) {
	buf := []byte("value")
	key := []byte("key")
	s, err := New(func(yield func(k, v []byte) error) error { return yield(key, buf) })
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	copy(key, "XXX")
	if v, ok := s.Get([]byte("key")); !ok || string(v) != "value" {
		t.Fatal("store aliases the iterator's buffers")
	}
}

// tx250 builds a 250-byte set of a random 32-byte key.
func tx250(rng *rand.Rand) []byte {
	key := binary.BigEndian.AppendUint64(make([]byte, 0, 32), rng.Uint64())
	key = append(key, make([]byte, 24)...)
	value := make([]byte, 200)
	binary.BigEndian.PutUint64(value, rng.Uint64())
	nonce := make([]byte, 250-Overhead-len(key)-len(value))
	tx := EncodeSet(key, value, nonce)
	if len(tx) != 250 {
		panic(len(tx))
	}
	return tx
}

// BenchmarkExecute250B executes blocks of 3,000 sets of 250 bytes with
// random new keys into a store that starts with 100,000 keys.
func BenchmarkExecute250B(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	s := newStore(b)
	for i := 0; i < 100_000; i += 10_000 {
		block := make([][]byte, 10_000)
		for j := range block {
			block[j] = tx250(rng)
		}
		s.Execute(0, block)
	}
	const perBlock = 3000
	blocks := make([][][]byte, 32)
	for i := range blocks {
		blocks[i] = make([][]byte, perBlock)
		for j := range blocks[i] {
			blocks[i][j] = tx250(rng)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := s.Execute(uint64(i), blocks[i%len(blocks)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock), "ns/tx")
}

// ParseAssignment makes a valid set transaction of KEY=VALUE (a fresh one
// each time) and refuses malformed or oversized assignments.
func TestParseAssignment(t *testing.T) {
	a, err := ParseAssignment("greeting=hello=world")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseAssignment("greeting=hello=world")
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(b) {
		t.Fatal("two sends of one assignment made the same transaction")
	}
	s, err := New(func(func(key, value []byte) error) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckTx(a); err != nil {
		t.Fatalf("parsed assignment is not a valid transaction: %v", err)
	}
	for _, bad := range []string{"", "novalue", "=v", "k=", strings.Repeat("k", MaxKeySize+1) + "=v", "k=" + strings.Repeat("v", MaxValueSize+1)} {
		if _, err := ParseAssignment(bad); err == nil {
			t.Errorf("%.20q: accepted", bad)
		}
	}
}

package payload_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/payload"
)

// testResult is a result for height h of a block with n collections.
func testResult(h uint64, n int) *payload.ExecutionResult {
	r := &payload.ExecutionResult{Block: model.Identifier{3, byte(h)}, Height: h, Previous: model.Identifier{8}}
	state := model.Identifier{4}
	for i := 0; i <= n; i++ {
		c := payload.Chunk{StartState: state, EndState: model.Identifier{5, byte(i)}, EventsHash: payload.EventsHash(nil), TxCount: uint32(i), Computation: uint64(10 * i)}
		if i < n {
			c.CollectionID = model.Identifier{6, byte(i)}
		}
		state = c.EndState
		r.Chunks = append(r.Chunks, c)
	}
	return r
}

func testReceipt(t testing.TB) (*payload.Receipt, crypto.PrivateKey) {
	t.Helper()
	key, err := crypto.BLS().KeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := payload.SignReceipt(key, model.ChainID{1}, model.NodeID{2}, testResult(7, 3))
	if err != nil {
		t.Fatal(err)
	}
	return r, key
}

func testGuarantee(i byte) *collection.Guarantee {
	set, _ := model.NewSignerSet(4)
	set.Set(0)
	set.Set(2)
	set.Set(3)
	return &collection.Guarantee{CollectionID: model.Identifier{i}, Ref: model.Identifier{9}, Chain: model.ChainID{5}, Signers: set, Signature: bytes.Repeat([]byte{i}, 96)}
}

// A receipt verifies only on its chain, for exactly its result, under its
// executor's key: changing any field of any chunk breaks it.
func TestReceiptSignature(t *testing.T) {
	r, key := testReceipt(t)
	if err := r.Verify(model.ChainID{1}, key.PublicKey()); err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.BLS().KeyFromSeed(bytes.Repeat([]byte{4}, 32))
	for name, c := range map[string]struct {
		mut   func(*payload.Receipt)
		chain model.ChainID
		key   crypto.PublicKey
	}{
		"other chain":       {func(*payload.Receipt) {}, model.ChainID{2}, key.PublicKey()},
		"other key":         {func(*payload.Receipt) {}, model.ChainID{1}, other.PublicKey()},
		"other height":      {func(r *payload.Receipt) { r.Result.Height++ }, model.ChainID{1}, key.PublicKey()},
		"other block":       {func(r *payload.Receipt) { r.Result.Block[0]++ }, model.ChainID{1}, key.PublicKey()},
		"other previous":    {func(r *payload.Receipt) { r.Result.Previous[0]++ }, model.ChainID{1}, key.PublicKey()},
		"other end state":   {func(r *payload.Receipt) { r.Result.Chunks[3].EndState[0]++ }, model.ChainID{1}, key.PublicKey()},
		"other events hash": {func(r *payload.Receipt) { r.Result.Chunks[1].EventsHash[0]++ }, model.ChainID{1}, key.PublicKey()},
		"other computation": {func(r *payload.Receipt) { r.Result.Chunks[0].Computation++ }, model.ChainID{1}, key.PublicKey()},
		"other tx count":    {func(r *payload.Receipt) { r.Result.Chunks[2].TxCount++ }, model.ChainID{1}, key.PublicKey()},
	} {
		cp := *r
		cp.Result.Chunks = append([]payload.Chunk(nil), r.Result.Chunks...)
		c.mut(&cp)
		if err := cp.Verify(c.chain, c.key); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: verify = %v, want ErrInvalid", name, err)
		}
	}
}

// A result's shape: the system chunk last, collections before it, each
// chunk starting where the one before ended, within MaxChunks.
func TestExecutionResultShape(t *testing.T) {
	good := testResult(5, 2)
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	if d, err := payload.DecodeExecutionResult(good.Encode()); err != nil || d.ID() != good.ID() || d.EndState() != good.EndState() {
		t.Fatalf("round trip: %v, %v", d, err)
	}
	for name, mut := range map[string]func(r *payload.ExecutionResult){
		"no chunks":             func(r *payload.ExecutionResult) { r.Chunks = nil },
		"no system chunk":       func(r *payload.ExecutionResult) { r.Chunks = r.Chunks[:2] },
		"a chunk without coll.": func(r *payload.ExecutionResult) { r.Chunks[0].CollectionID = model.Identifier{} },
		"broken chaining":       func(r *payload.ExecutionResult) { r.Chunks[1].StartState[0]++ },
		"too many chunks": func(r *payload.ExecutionResult) {
			*r = *testResult(5, payload.MaxChunks)
		},
	} {
		r := testResult(5, 2)
		mut(r)
		if err := r.Check(); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: Check = %v", name, err)
		}
		if _, err := payload.DecodeExecutionResult(r.Encode()); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: decoded: %v", name, err)
		}
	}
	// Chunk IDs and events hashes separate what they should.
	if payload.ChunkID(good.ID(), 0) == payload.ChunkID(good.ID(), 1) || payload.ChunkID(good.ID(), 0) == payload.ChunkID(model.Identifier{}, 0) {
		t.Fatal("chunk IDs collide")
	}
	a := payload.EventsHash([]payload.Event{{Type: "ab", Payload: []byte("c")}})
	b := payload.EventsHash([]payload.Event{{Type: "a", Payload: []byte("bc")}})
	if a == b || a == payload.EventsHash(nil) {
		t.Fatal("events hashes collide")
	}
}

// The block's Result follows the first receipt of the greatest height above
// the parent's, and never goes back.
func TestResultFromReceipts(t *testing.T) {
	parent := payload.Result{Height: 5, Root: model.Identifier{1}}
	mk := func(h uint64, root byte) *payload.Receipt {
		r := testResult(h, 0)
		r.Chunks[0].EndState = model.Identifier{root}
		return &payload.Receipt{Result: *r}
	}
	if got := payload.FromReceipts(parent, nil); got != parent {
		t.Fatalf("no receipts: %v", got)
	}
	if got := payload.FromReceipts(parent, []*payload.Receipt{mk(4, 9), mk(5, 9)}); got != parent {
		t.Fatalf("old receipts moved the result: %v", got)
	}
	got := payload.FromReceipts(parent, []*payload.Receipt{mk(6, 2), mk(7, 3), mk(7, 4), mk(6, 5)})
	if got != (payload.Result{Height: 7, Root: model.Identifier{3}}) {
		t.Fatalf("result = %v, want the first of height 7", got)
	}
}

// Guarantees and receipts round-trip in a payload, after the older
// sections, and the result section is still read alone.
func TestGuaranteeAndReceiptSections(t *testing.T) {
	r, _ := testReceipt(t)
	res := r.Result.Summary()
	r2 := *r
	r2.Executor = model.NodeID{9}
	p := &payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{testGuarantee(1), testGuarantee(2)}, Receipts: []*payload.Receipt{r, &r2}}
	enc := p.Encode()
	got, err := payload.Decode(enc, lim)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || len(got.Guarantees) != 2 || got.Guarantees[1].CollectionID != (model.Identifier{2}) ||
		len(got.Receipts) != 2 || got.Receipts[0].Height() != 7 || !bytes.Equal(got.Receipts[0].Signature, r.Signature) ||
		got.Receipts[1].Executor != (model.NodeID{9}) || got.Receipts[1].Result.ID() != r.Result.ID() {
		t.Fatalf("round trip changed the payload: %+v", got)
	}
	if rr, err := payload.ResultOf(enc); err != nil || *rr != res {
		t.Fatalf("ResultOf = %v, %v", rr, err)
	}
	if d, err := payload.DecodeReceipt(r.Encode()); err != nil || d.Result.ID() != r.Result.ID() {
		t.Fatalf("DecodeReceipt = %v, %v", d, err)
	}
	// Too many guarantees for the limit, too many receipts, and a receipt
	// without a signature.
	many := make([]*collection.Guarantee, 3)
	for i := range many {
		many[i] = testGuarantee(byte(i))
	}
	if _, err := payload.Decode((&payload.Payload{Guarantees: many}).Encode(), payload.Limits{MaxGuarantees: 2}); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("3 guarantees under a limit of 2: %v", err)
	}
	lots := make([]*payload.Receipt, payload.MaxReceipts+1)
	for i := range lots {
		lots[i] = r
	}
	if _, err := payload.Decode((&payload.Payload{Receipts: lots}).Encode(), lim); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("%d receipts decoded: %v", len(lots), err)
	}
	bad := *r
	bad.Signature = nil
	if _, err := payload.Decode((&payload.Payload{Receipts: []*payload.Receipt{&bad}}).Encode(), lim); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("unsigned receipt decoded: %v", err)
	}
	if _, err := payload.DecodeReceipt(append(r.Encode(), 0)); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	// The retired single-receipt section (kind 5) is refused.
	old := []byte{payload.Version, 5, 0, 0, 0, 1, 0}
	if _, err := payload.Decode(old, lim); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("retired section decoded: %v", err)
	}
}

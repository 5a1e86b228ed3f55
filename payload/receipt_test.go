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

func testReceipt(t testing.TB) (*payload.Receipt, crypto.PrivateKey) {
	t.Helper()
	key, err := crypto.BLS().KeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r, err := payload.SignReceipt(key, model.ChainID{1}, model.NodeID{2}, model.Identifier{3}, 7, model.Identifier{4})
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

// A receipt verifies only on its chain, for its block, height and root,
// under its executor's key.
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
		"other chain":  {func(*payload.Receipt) {}, model.ChainID{2}, key.PublicKey()},
		"other key":    {func(*payload.Receipt) {}, model.ChainID{1}, other.PublicKey()},
		"other height": {func(r *payload.Receipt) { r.Height++ }, model.ChainID{1}, key.PublicKey()},
		"other root":   {func(r *payload.Receipt) { r.Root[0]++ }, model.ChainID{1}, key.PublicKey()},
		"other block":  {func(r *payload.Receipt) { r.Block[0]++ }, model.ChainID{1}, key.PublicKey()},
	} {
		cp := *r
		c.mut(&cp)
		if err := cp.Verify(c.chain, c.key); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: verify = %v, want ErrInvalid", name, err)
		}
	}
}

// Guarantees and the receipt round-trip in a payload, after the older
// sections, and the result section is still read alone.
func TestGuaranteeAndReceiptSections(t *testing.T) {
	r, _ := testReceipt(t)
	res := r.Result()
	p := &payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{testGuarantee(1), testGuarantee(2)}, Receipt: r}
	enc := p.Encode()
	got, err := payload.Decode(enc, lim)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) || len(got.Guarantees) != 2 || got.Guarantees[1].CollectionID != (model.Identifier{2}) ||
		got.Receipt == nil || got.Receipt.Height != 7 || !bytes.Equal(got.Receipt.Signature, r.Signature) {
		t.Fatalf("round trip changed the payload: %+v", got)
	}
	if rr, err := payload.ResultOf(enc); err != nil || *rr != res {
		t.Fatalf("ResultOf = %v, %v", rr, err)
	}
	if d, err := payload.DecodeReceipt(r.Encode()); err != nil || d.Root != r.Root {
		t.Fatalf("DecodeReceipt = %v, %v", d, err)
	}
	// Too many guarantees for the limit, and a receipt without a signature.
	many := make([]*collection.Guarantee, 3)
	for i := range many {
		many[i] = testGuarantee(byte(i))
	}
	if _, err := payload.Decode((&payload.Payload{Guarantees: many}).Encode(), payload.Limits{MaxGuarantees: 2}); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("3 guarantees under a limit of 2: %v", err)
	}
	bad := *r
	bad.Signature = nil
	if _, err := payload.Decode((&payload.Payload{Receipt: &bad}).Encode(), lim); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("unsigned receipt decoded: %v", err)
	}
	if _, err := payload.DecodeReceipt(append(r.Encode(), 0)); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
}

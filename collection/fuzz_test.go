package collection_test

import (
	"bytes"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// fuzzLimits are small, so the fuzzer reaches the bounds.
var fuzzLimits = collection.Limits{MaxTxs: 4, MaxBytes: 4 + 4*64, MaxTxBytes: 64}

// The fuzz targets check that a decoder never panics, that what it accepts
// re-encodes to the same bytes (one encoding per value), and that a decoded
// value passes the checks the decoder promises.

func FuzzDecodeTx(f *testing.F) {
	f.Add(collection.Tx{Ref: mainID(1), Body: []byte("body")}.Encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := collection.DecodeTx(b, fuzzLimits)
		if err != nil {
			return
		}
		if !bytes.Equal(tx.Encode(), b) {
			t.Fatalf("re-encoding %x gives %x", b, tx.Encode())
		}
		if err := tx.Check(fuzzLimits); err != nil {
			t.Fatalf("decoded transaction fails Check: %v", err)
		}
	})
}

func FuzzDecodeCollection(f *testing.F) {
	f.Add(collection.NewCollection(nil).Encode())
	f.Add(collection.NewCollection(someTxs(2)).Encode())
	f.Add([]byte{0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := collection.DecodeCollection(b, fuzzLimits)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) || c.Size() != len(b) {
			t.Fatalf("re-encoding %x gives %x", b, c.Encode())
		}
		if err := c.Check(fuzzLimits); err != nil {
			t.Fatalf("decoded collection fails Check: %v", err)
		}
		if c.ID() != collection.NewCollection(c.Txs()).ID() {
			t.Fatal("decoded collection's ID differs from its transactions'")
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	f.Add((&collection.Payload{Ref: mainID(3)}).Encode())
	f.Add((&collection.Payload{Ref: mainID(3), Collection: collection.NewCollection(someTxs(3))}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := collection.DecodePayload(b, fuzzLimits)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), b) || p.Size() != len(b) {
			t.Fatalf("re-encoding %x gives %x", b, p.Encode())
		}
		if p.NeedsGuarantee() != (p.Collection.Len() > 0) {
			t.Fatal("NeedsGuarantee disagrees with the collection")
		}
	})
}

func FuzzDecodeGuarantee(f *testing.F) {
	s, _ := model.NewSignerSet(11)
	s.Set(0)
	s.Set(10)
	f.Add((&collection.Guarantee{CollectionID: model.Identifier{1}, Ref: mainID(2), Chain: model.Identifier{3}, Signers: s, Signature: make([]byte, 96)}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := collection.DecodeGuarantee(b)
		if err != nil {
			return
		}
		if !bytes.Equal(g.Encode(), b) || len(b) != collection.GuaranteeSize(g.Signers.Size(), len(g.Signature)) {
			t.Fatalf("re-encoding %x gives %x", b, g.Encode())
		}
		if g.Signers.Count() == 0 || len(g.Signature) == 0 {
			t.Fatal("decoded an unsigned guarantee")
		}
	})
}

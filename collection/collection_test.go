package collection_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/crypto"
)

func someTxs(n int) []collection.Tx {
	txs := make([]collection.Tx, n)
	for i := range txs {
		txs[i] = collection.Tx{Ref: mainID(uint64(i % 3)), Body: []byte(fmt.Sprintf("tx %d", i))}
	}
	return txs
}

func TestCollectionID(t *testing.T) {
	txs := someTxs(3)
	c := collection.NewCollection(txs)
	ids := c.TxIDs()
	if want := crypto.Sum([]byte("floe/collection\x00"), ids[0][:], ids[1][:], ids[2][:]); c.ID() != want {
		t.Error("ID is not SHA-256(tag ‖ ordered transaction IDs)")
	}
	swapped := collection.NewCollection([]collection.Tx{txs[1], txs[0], txs[2]})
	if swapped.ID() == c.ID() {
		t.Error("the ID does not commit to the order")
	}
	fewer := collection.NewCollection(txs[:2])
	if fewer.ID() == c.ID() {
		t.Error("the ID does not commit to every transaction")
	}
	var empty *collection.Collection
	if empty.ID() != collection.NewCollection(nil).ID() || empty.Len() != 0 || empty.Size() != 4 {
		t.Error("a nil collection is not the empty one")
	}
}

func TestCollectionCheck(t *testing.T) {
	// At most 3 transactions of at most 60 bytes (24-byte bodies), 170
	// bytes in all: 4 + 60 + 60 + 46.
	lim := collection.Limits{MaxTxs: 3, MaxBytes: 170, MaxTxBytes: 60}
	tx := func(n int, tag byte) collection.Tx {
		return collection.Tx{Ref: mainID(1), Body: bytes.Repeat([]byte{tag}, n)}
	}
	for _, c := range []struct {
		name string
		txs  []collection.Tx
		want error
	}{
		{"empty", nil, nil},
		{"three", []collection.Tx{tx(1, 1), tx(1, 2), tx(1, 3)}, nil},
		{"four", []collection.Tx{tx(1, 1), tx(1, 2), tx(1, 3), tx(1, 4)}, collection.ErrTooLarge},
		{"largest transaction", []collection.Tx{tx(24, 1)}, nil},
		{"a transaction one byte too large", []collection.Tx{tx(25, 1)}, collection.ErrTooLarge},
		{"170 bytes", []collection.Tx{tx(24, 1), tx(24, 2), tx(10, 3)}, nil},
		{"171 bytes", []collection.Tx{tx(24, 1), tx(24, 2), tx(11, 3)}, collection.ErrTooLarge},
		{"malformed transaction", []collection.Tx{tx(1, 1), {Ref: mainID(1)}}, collection.ErrMalformedTx},
	} {
		col := collection.NewCollection(c.txs)
		wantErr(t, c.name, col.Check(lim), c.want)
		_, err := collection.DecodeCollection(col.Encode(), lim)
		wantErr(t, c.name+" (decoded)", err, c.want)
	}
}

func TestCollectionDecodeBounds(t *testing.T) {
	lim := collection.Limits{MaxTxs: 3, MaxBytes: 1 << 10, MaxTxBytes: 100}
	// A count above MaxTxs is refused before anything is allocated.
	wantErr(t, "count", decodeErr(binary.BigEndian.AppendUint32(nil, 1<<31), lim), collection.ErrTooLarge)
	// A count the bytes cannot hold.
	wantErr(t, "short", decodeErr(binary.BigEndian.AppendUint32(nil, 3), lim), collection.ErrInvalid)
	// More bytes than MaxBytes.
	wantErr(t, "bytes", decodeErr(make([]byte, 1<<10+1), lim), collection.ErrTooLarge)
	// Trailing bytes.
	enc := collection.NewCollection(someTxs(2)).Encode()
	wantErr(t, "trailing", decodeErr(append(enc, 0), lim), collection.ErrInvalid)
	wantErr(t, "truncated", decodeErr(enc[:len(enc)-1], lim), collection.ErrInvalid)
	c, err := collection.DecodeCollection(enc, lim)
	if err != nil || !bytes.Equal(c.Encode(), enc) || c.ID() != collection.NewCollection(someTxs(2)).ID() {
		t.Fatalf("round trip: %v", err)
	}
}

func decodeErr(b []byte, lim collection.Limits) error {
	_, err := collection.DecodeCollection(b, lim)
	return err
}

func TestPayload(t *testing.T) {
	lim := collection.DefaultLimits()
	p := &collection.Payload{Ref: mainID(5), Collection: collection.NewCollection(someTxs(4))}
	if !p.NeedsGuarantee() {
		t.Error("a payload with transactions needs no guarantee")
	}
	enc := p.Encode()
	if len(enc) != p.Size() || enc[0] != collection.PayloadVersion {
		t.Fatalf("encoding of %d bytes, size %d, version %d", len(enc), p.Size(), enc[0])
	}
	got, err := collection.DecodePayload(enc, lim)
	if err != nil || got.Ref != p.Ref || got.Collection.ID() != p.Collection.ID() || !bytes.Equal(got.Encode(), enc) {
		t.Fatalf("round trip: %v", err)
	}
	empty := &collection.Payload{Ref: mainID(5)}
	if empty.NeedsGuarantee() {
		t.Error("an empty collection needs a guarantee")
	}
	got, err = collection.DecodePayload(empty.Encode(), lim)
	if err != nil || got.NeedsGuarantee() || got.Ref != empty.Ref {
		t.Fatalf("empty payload round trip: %v", err)
	}
	bad := append([]byte(nil), enc...)
	bad[0] = collection.PayloadVersion + 1
	_, err = collection.DecodePayload(bad, lim)
	wantErr(t, "version", err, collection.ErrInvalid)
	_, err = collection.DecodePayload(enc[:20], lim)
	wantErr(t, "truncated", err, collection.ErrInvalid)
	_, err = collection.DecodePayload(nil, lim)
	wantErr(t, "no bytes", err, collection.ErrInvalid)
	_, err = collection.DecodePayload(enc, collection.Limits{MaxTxs: 3, MaxBytes: 1 << 20, MaxTxBytes: 1 << 10})
	wantErr(t, "too many transactions", err, collection.ErrTooLarge)
}

package collection_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

func TestTxEncodingAndID(t *testing.T) {
	tx := collection.Tx{Ref: mainID(7), Body: []byte("hello")}
	enc := tx.Encode()
	ref := mainID(7)
	want := append(append(ref[:], 0, 0, 0, 5), "hello"...)
	if !bytes.Equal(enc, want) || tx.Size() != len(enc) {
		t.Fatalf("encoding %x (size %d), want %x", enc, tx.Size(), want)
	}
	// The ID is SHA-256 over a domain tag and the encoding, not over the
	// encoding alone: a transaction ID is never another object's hash.
	if tx.ID() != model.Identifier(sha256.Sum256(append([]byte("floe/tx\x00"), enc...))) {
		t.Error("ID is not SHA-256(tag ‖ encoding)")
	}
	if tx.ID() == model.Identifier(sha256.Sum256(enc)) {
		t.Error("ID is not domain-separated")
	}
	other := collection.Tx{Ref: mainID(8), Body: []byte("hello")}
	if other.ID() == tx.ID() {
		t.Error("the reference block is not part of the ID")
	}
	got, err := collection.DecodeTx(enc, collection.DefaultLimits())
	if err != nil || got.Ref != tx.Ref || !bytes.Equal(got.Body, tx.Body) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
}

func TestTxCheck(t *testing.T) {
	lim := collection.Limits{MaxTxs: 10, MaxBytes: 1000, MaxTxBytes: 100}
	body := func(n int) []byte { return bytes.Repeat([]byte{1}, n) }
	for _, c := range []struct {
		name string
		tx   collection.Tx
		want error
	}{
		{"valid", collection.Tx{Ref: mainID(1), Body: body(1)}, nil},
		{"largest", collection.Tx{Ref: mainID(1), Body: body(100 - 36)}, nil},
		{"one byte too large", collection.Tx{Ref: mainID(1), Body: body(100 - 35)}, collection.ErrTooLarge},
		{"empty body", collection.Tx{Ref: mainID(1)}, collection.ErrMalformedTx},
		{"no reference", collection.Tx{Body: body(1)}, collection.ErrMalformedTx},
	} {
		wantErr(t, c.name, c.tx.Check(lim), c.want)
		_, err := collection.DecodeTx(c.tx.Encode(), lim)
		wantErr(t, c.name+" (decoded)", err, c.want)
	}
}

func TestDecodeTxRejects(t *testing.T) {
	lim := collection.DefaultLimits()
	enc := collection.Tx{Ref: mainID(1), Body: []byte("body")}.Encode()
	for name, b := range map[string][]byte{
		"empty":      nil,
		"truncated":  enc[:len(enc)-1],
		"trailing":   append(append([]byte(nil), enc...), 0),
		"no length":  enc[:32],
		"huge claim": binary.BigEndian.AppendUint32(append([]byte(nil), enc[:32]...), 1<<31),
	} {
		if _, err := collection.DecodeTx(b, lim); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantErr(t, name, err, collection.ErrInvalid)
		}
	}
}

func TestClusterOf(t *testing.T) {
	var id model.Identifier
	binary.BigEndian.PutUint64(id[24:], 1000003)
	for _, k := range []uint32{1, 2, 7, 64} {
		if got, want := collection.ClusterOf(id, k), uint32(1000003%uint64(k)); got != want {
			t.Errorf("k=%d: cluster %d, want %d (last 8 bytes big-endian mod k)", k, got, want)
		}
	}
	// The first 24 bytes play no part.
	id[0] = 0xff
	if collection.ClusterOf(id, 7) != uint32(1000003%7) {
		t.Error("cluster depends on more than the last 8 bytes")
	}
	// Real IDs spread over the clusters.
	counts := make([]int, 4)
	for i := range 4000 {
		counts[collection.ClusterOf(collection.Tx{Ref: mainID(1), Body: binary.BigEndian.AppendUint32(nil, uint32(i))}.ID(), 4)]++
	}
	for c, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("cluster %d got %d of 4000 transactions", c, n)
		}
	}
}

package collection_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
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
	// The whole ID, as a 256-bit big-endian integer, modulo k.
	for i := range 200 {
		id := collection.Tx{Ref: mainID(2), Body: binary.BigEndian.AppendUint32(nil, uint32(i))}.ID()
		if i == 0 {
			id = model.Identifier{31: 5}
		} else if i == 1 {
			for j := range id {
				id[j] = 0xff
			}
		}
		for _, k := range []uint32{1, 2, 7, 64, 1024} {
			want := new(big.Int).Mod(new(big.Int).SetBytes(id[:]), big.NewInt(int64(k)))
			if got := collection.ClusterOf(id, k); int64(got) != want.Int64() {
				t.Fatalf("k=%d id=%x: cluster %d, want %d", k, id, got, want)
			}
		}
	}
	// The first bytes play their part too.
	var a, b model.Identifier
	b[0] = 1
	if collection.ClusterOf(a, 7) == collection.ClusterOf(b, 7) { // 2^248 mod 7 = 4
		t.Error("cluster ignores the ID's first byte")
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

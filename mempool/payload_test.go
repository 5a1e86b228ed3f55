package mempool

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/codec"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, txs := range [][][]byte{
		nil,
		{{}},
		{[]byte("a")},
		{[]byte("one"), {}, bytes.Repeat([]byte{7}, 1000)},
	} {
		enc := EncodePayload(txs)
		if len(enc) != PayloadSize(txs) {
			t.Fatal("PayloadSize")
		}
		got, err := DecodePayload(enc, len(txs))
		if err != nil || !equal(got, txs) {
			t.Fatalf("round trip of %d txs: %v", len(txs), err)
		}
		if len(txs) > 0 {
			if _, err := DecodePayload(enc, len(txs)-1); !errors.Is(err, codec.ErrMalformed) {
				t.Fatal("count limit not enforced")
			}
		}
	}
	if EncodePayload(nil) != nil {
		t.Fatal("no transactions encode as the empty payload")
	}
}

func TestDecodePayloadAliasesSafely(t *testing.T) {
	enc := EncodePayload([][]byte{[]byte("ab"), []byte("cd")})
	got, _ := DecodePayload(enc, 2)
	_ = append(got[0], 'X')
	if string(got[1]) != "cd" {
		t.Fatal("appending to one tx overwrote the next")
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	cases := map[string][]byte{
		"short count":     {0, 0, 1},
		"zero count":      {0, 0, 0, 0},
		"huge count":      {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		"truncated len":   {0, 0, 0, 1, 0, 0},
		"truncated tx":    {0, 0, 0, 1, 0, 0, 0, 2, 'a'},
		"trailing":        {0, 0, 0, 1, 0, 0, 0, 1, 'a', 'b'},
		"huge tx len":     {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 'a'},
		"count over data": {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		if _, err := DecodePayload(b, 1000); !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodePayload([]byte{0, 0, 0, 1, 0, 0, 0, 0}, 0); err == nil {
		t.Error("maxTxs 0 accepted a transaction")
	}
}

// FuzzDecodePayload: never panics, and what decodes re-encodes to the same
// bytes within the count limit.
func FuzzDecodePayload(f *testing.F) {
	f.Add(EncodePayload([][]byte{[]byte("tx1"), []byte("tx2")}), 5)
	f.Add([]byte{}, 0)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 1<<30)
	f.Fuzz(func(t *testing.T, b []byte, maxTxs int) {
		txs, err := DecodePayload(b, maxTxs)
		if err != nil {
			if !errors.Is(err, codec.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if len(txs) > max(maxTxs, 0) {
			t.Fatalf("%d txs, limit %d", len(txs), maxTxs)
		}
		if !bytes.Equal(EncodePayload(txs), b) {
			t.Fatalf("non-canonical payload %x", b)
		}
	})
}

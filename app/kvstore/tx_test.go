package kvstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/floe-bft/floe/app"
)

func TestTxRoundTrip(t *testing.T) {
	cases := []Tx{
		{Op: OpSet, Key: []byte("k"), Value: []byte("v")},
		{Op: OpSet, Key: bytes.Repeat([]byte{1}, MaxKeySize), Value: bytes.Repeat([]byte{2}, MaxValueSize), Nonce: bytes.Repeat([]byte{3}, MaxTxSize-Overhead-MaxKeySize-MaxValueSize)},
		{Op: OpSet, Key: []byte{0}, Value: []byte{0}, Nonce: []byte("nonce")},
		{Op: OpDelete, Key: []byte("key")},
		{Op: OpDelete, Key: []byte("key"), Nonce: make([]byte, 300)},
	}
	for _, c := range cases {
		var enc []byte
		if c.Op == OpSet {
			enc = EncodeSet(c.Key, c.Value, c.Nonce)
		} else {
			enc = EncodeDelete(c.Key, c.Nonce)
		}
		if len(enc) != Overhead+len(c.Key)+len(c.Value)+len(c.Nonce) {
			t.Fatalf("size %d", len(enc))
		}
		got, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got.Op != c.Op || !bytes.Equal(got.Key, c.Key) || !bytes.Equal(got.Value, c.Value) || !bytes.Equal(got.Nonce, c.Nonce) {
			t.Fatalf("round trip: %+v", got)
		}
		if c.Op == OpDelete && got.Value != nil {
			t.Fatal("delete decoded with a value")
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	set := EncodeSet([]byte("key"), []byte("value"), []byte("n"))
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(set)) }
	cases := map[string]struct {
		tx     []byte
		reason string
	}{
		"empty":          {nil, "shorter"},
		"unknown op":     {mut(func(b []byte) []byte { b[0] = 3; return b }), "unknown operation 3"},
		"op zero":        {mut(func(b []byte) []byte { b[0] = 0; return b }), "unknown operation 0"},
		"empty key":      {append([]byte{OpSet, 0, 0, 0, 0, 0, 1, 'v'}, 0, 0), "key length 0"},
		"long key":       {append([]byte{OpSet, 1, 1}, make([]byte, 300)...), "key length 257"},
		"empty value":    {[]byte{OpSet, 0, 1, 'k', 0, 0, 0, 0, 0, 0}, "value length 0"},
		"long value":     {[]byte{OpSet, 0, 1, 'k', 0, 1, 0, 1, 0, 0}, "value length 65537"},
		"delete value":   {[]byte{OpDelete, 0, 1, 'k', 0, 0, 0, 1, 'v', 0, 0}, "delete with a 1-byte value"},
		"truncated":      {set[:len(set)-1], "truncated nonce"},
		"trailing":       {append(bytes.Clone(set), 0), "1 trailing bytes"},
		"truncated key":  {[]byte{OpSet, 0, 9, 'k', 0, 0, 0, 0, 0}, "truncated key"},
		"huge value len": {[]byte{OpSet, 0, 1, 'k', 0xff, 0xff, 0xff, 0xff, 0, 0}, "value length"},
		"too large":      {make([]byte, MaxTxSize+1), "more than"},
	}
	for name, c := range cases {
		_, err := Decode(c.tx)
		if !errors.Is(err, app.ErrInvalidTx) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: got %v, want a reason containing %q", name, err, c.reason)
		}
	}
}

func TestEncodePanicsOutsideLimits(t *testing.T) {
	for name, f := range map[string]func(){
		"empty key":   func() { EncodeSet(nil, []byte("v"), nil) },
		"empty value": func() { EncodeSet([]byte("k"), nil, nil) },
		"long key":    func() { EncodeDelete(make([]byte, MaxKeySize+1), nil) },
		"too large":   func() { EncodeSet([]byte("k"), make([]byte, MaxValueSize), make([]byte, 10<<10)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// FuzzDecodeTx: Decode never panics, wraps app.ErrInvalidTx on failure, and
// whatever it accepts re-encodes to the same bytes (one encoding per
// transaction).
func FuzzDecodeTx(f *testing.F) {
	f.Add(EncodeSet([]byte("key"), []byte("value"), []byte("nonce")))
	f.Add(EncodeDelete([]byte("key"), nil))
	f.Add([]byte{OpSet, 0, 1, 'k', 0xff, 0xff, 0xff, 0xff, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Decode(b)
		if err != nil {
			if !errors.Is(err, app.ErrInvalidTx) {
				t.Fatalf("error does not wrap ErrInvalidTx: %v", err)
			}
			return
		}
		var enc []byte
		if tx.Op == OpSet {
			enc = EncodeSet(tx.Key, tx.Value, tx.Nonce)
		} else {
			enc = EncodeDelete(tx.Key, tx.Nonce)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("non-canonical: %x re-encodes to %x", b, enc)
		}
	})
}

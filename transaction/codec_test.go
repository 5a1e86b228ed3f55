package transaction

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/codec"
)

// sampleTxs covers every operation kind, multi-party signing included.
func sampleTxs(t testing.TB) []*Transaction {
	w := newWorld()
	p := w.add(t, 10, 1000, 0)
	a := w.add(t, 11, 500, 500)
	payer := w.add(t, 12, 1000)
	newKey := w.signers[a][0].PublicKey()
	ops := []Operation{
		Call{Program: p, Function: "mint_2", Args: [][]byte{{1, 2}, {}, []byte("x")}},
		Call{Program: p, Function: "f"},
		Deploy{Code: []byte("\x00asm\x01\x00\x00\x00")},
		CreateAccount{Keys: []account.Key{newKey, w.signers[p][1].PublicKey()}},
		CreateAccount{},
		AddKey{Key: newKey},
		RevokeKey{Index: 3},
		Transfer{To: p, Amount: 1 << 60},
	}
	var txs []*Transaction
	for i, op := range ops {
		tx := &Transaction{
			Ref: [32]byte{byte(i)}, GasLimit: uint64(i) * 1000,
			ProposalKey: ProposalKey{Address: p, KeyIndex: 1, SeqNum: uint64(i)},
			Payer:       payer, Authorizers: []account.Address{a, p}, Op: op,
		}
		w.signPayload(t, tx, a, 1)
		w.signPayload(t, tx, p, 1)
		w.signPayload(t, tx, a, 0)
		w.signEnvelope(t, tx, payer, 0)
		txs = append(txs, tx)
	}
	return txs
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tx := range sampleTxs(t) {
		b := tx.Encode()
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", tx.Op.Kind(), err)
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Fatalf("%s: re-encoding differs", tx.Op.Kind())
		}
		if got.ID() != tx.ID() {
			t.Fatal("ID changed")
		}
		again, err := Decode(got.Encode())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%s: decode(encode(x)) != x", tx.Op.Kind())
		}
		if _, err := Decode(append(b, 0)); !errors.Is(err, ErrMalformed) || !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("trailing byte: %v", err)
		}
		for n := 0; n < len(b); n += 1 + n/8 {
			if _, err := Decode(b[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncated at %d: %v", n, err)
			}
		}
	}
}

func TestSignaturesSortedWhateverTheOrder(t *testing.T) {
	txs := sampleTxs(t)
	sigs := txs[0].PayloadSignatures
	for i := 1; i < len(sigs); i++ {
		if !less(sigs[i-1], sigs[i]) {
			t.Fatalf("payload signatures not sorted: %v", sigs)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	base := sampleTxs(t)[0]
	mutate := func(f func(tx *Transaction)) []byte {
		tx, err := Decode(base.Encode())
		if err != nil {
			t.Fatal(err)
		}
		f(tx)
		return tx.Encode()
	}
	sig := base.PayloadSignatures[0]
	env := base.EnvelopeSignatures[0]
	many := func(n int) []account.Address {
		out := make([]account.Address, n)
		for i := range out {
			out[i] = account.Address{byte(i), 1}
		}
		return out
	}
	revoked := sampleTxs(t)[5].Op.(AddKey).Key
	revoked.Revoked = true
	cases := map[string][]byte{
		"version": append([]byte{2}, base.Encode()[1:]...),
		"no op":   mutate(func(tx *Transaction) { tx.Op = nil }),
		"unknown kind": func() []byte {
			b := mutate(func(tx *Transaction) { tx.Op = RevokeKey{} })
			b[1+32+8+8+4+8+8+1+16] = 99
			return b
		}(),
		"function not ident": mutate(func(tx *Transaction) { tx.Op = Call{Function: "9lives"} }),
		"function space":     mutate(func(tx *Transaction) { tx.Op = Call{Function: "a b"} }),
		"function empty":     mutate(func(tx *Transaction) { tx.Op = Call{} }),
		"function too long":  mutate(func(tx *Transaction) { tx.Op = Call{Function: strings.Repeat("a", MaxFunctionName+1)} }),
		"function non-ascii": mutate(func(tx *Transaction) { tx.Op = Call{Function: "café"} }),
		"too many args":      mutate(func(tx *Transaction) { tx.Op = Call{Function: "f", Args: make([][]byte, MaxArgs+1)} }),
		"empty deploy":       mutate(func(tx *Transaction) { tx.Op = Deploy{} }),
		"zero transfer":      mutate(func(tx *Transaction) { tx.Op = Transfer{} }),
		"revoked new key":    mutate(func(tx *Transaction) { tx.Op = AddKey{Key: revoked} }),
		"too many new keys":  mutate(func(tx *Transaction) { tx.Op = CreateAccount{Keys: make([]account.Key, MaxKeys+1)} }),
		"deploy no auth":     mutate(func(tx *Transaction) { tx.Op, tx.Authorizers = Deploy{Code: []byte{1}}, nil }),
		"too many auths":     mutate(func(tx *Transaction) { tx.Authorizers = many(MaxAuthorizers + 1) }),
		"duplicate auth":     mutate(func(tx *Transaction) { tx.Authorizers = append(tx.Authorizers, tx.Authorizers[0]) }),
		"unsorted sigs":      mutate(func(tx *Transaction) { s := tx.PayloadSignatures; s[0], s[1] = s[1], s[0] }),
		"duplicate sig": mutate(func(tx *Transaction) {
			tx.PayloadSignatures = append(tx.PayloadSignatures, tx.PayloadSignatures[len(tx.PayloadSignatures)-1])
		}),
		"payer in payload": mutate(func(tx *Transaction) {
			tx.PayloadSignatures = insert(tx.PayloadSignatures, Signature{tx.Payer, 0, sig.Sig})
		}),
		"stranger in payload": mutate(func(tx *Transaction) {
			tx.PayloadSignatures = insert(tx.PayloadSignatures, Signature{account.Address{9}, 0, sig.Sig})
		}),
		"non-payer envelope": mutate(func(tx *Transaction) {
			tx.EnvelopeSignatures = insert(tx.EnvelopeSignatures, Signature{tx.Authorizers[0], 5, env.Sig})
		}),
		"too many sigs": mutate(func(tx *Transaction) {
			for i := range MaxSignatures {
				tx.EnvelopeSignatures = insert(tx.EnvelopeSignatures, Signature{tx.Payer, uint32(i + 1), env.Sig})
			}
		}),
		"huge signature": mutate(func(tx *Transaction) { tx.EnvelopeSignatures[0].Sig = make([]byte, MaxSignatureSize+1) }),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := mutate(func(tx *Transaction) { tx.Op = Deploy{Code: make([]byte, MaxSize)} })
	if _, err := Decode(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	// Just under the limit decodes: a deploy of nearly 1 MiB fits.
	fits := mutate(func(tx *Transaction) { tx.Op = Deploy{Code: make([]byte, MaxSize-1024)} })
	if _, err := Decode(fits); err != nil {
		t.Fatalf("deploy under the limit: %v", err)
	}
	tx := &Transaction{Op: Deploy{Code: make([]byte, MaxSize)}, Authorizers: []account.Address{{1}}}
	if err := tx.Validate(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Validate too large: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tx := range sampleTxs(f) {
		f.Add(tx.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		enc := tx.Encode()
		if !bytes.Equal(enc, b) {
			t.Fatalf("non-canonical: %x re-encodes as %x", b, enc)
		}
		again, err := Decode(enc)
		if err != nil || !reflect.DeepEqual(again, tx) {
			t.Fatalf("decode(encode(x)) != x: %v", err)
		}
	})
}

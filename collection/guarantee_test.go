package collection_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func TestGuaranteeMessage(t *testing.T) {
	chain, col, ref := model.Identifier{1}, model.Identifier{2}, model.Identifier{3}
	msg := collection.Message(chain, col, ref)
	if !bytes.Equal(msg, append(append(chain[:], col[:]...), ref[:]...)) {
		t.Errorf("message %x is not chain ‖ collection ‖ reference", msg)
	}
}

func TestVerifyGuarantee(t *testing.T) {
	c := newCluster(t, crypto.BLS(), 1, 1, 1, 1) // threshold 3
	col, ref := collection.NewCollection(someTxs(3)).ID(), mainID(150)
	valid := func() *collection.Guarantee { return c.guarantee(t, col, ref, 0, 1, 3) }
	wrongSize, _ := model.NewSignerSet(5)
	wrongSize.Set(0)
	for _, tc := range []struct {
		name   string
		mutate func(g *collection.Guarantee)
		chain  model.ChainID
		want   error
	}{
		{name: "three of four", mutate: func(*collection.Guarantee) {}},
		{name: "all four", mutate: func(g *collection.Guarantee) { *g = *c.guarantee(t, col, ref, 0, 1, 2, 3) }},
		{name: "another chain's", mutate: func(*collection.Guarantee) {}, chain: model.Identifier{7}, want: collection.ErrWrongChain},
		{name: "chain field changed", mutate: func(g *collection.Guarantee) { g.Chain = model.Identifier{7} }, want: collection.ErrWrongChain},
		{name: "two of four", mutate: func(g *collection.Guarantee) { *g = *c.guarantee(t, col, ref, 0, 1) }, want: collection.ErrTooLittleWeight},
		{name: "signer set of another size", mutate: func(g *collection.Guarantee) { g.Signers = wrongSize }, want: collection.ErrInvalid},
		{name: "another collection", mutate: func(g *collection.Guarantee) { g.CollectionID[0] ^= 1 }, want: collection.ErrBadSignature},
		{name: "another reference", mutate: func(g *collection.Guarantee) { g.Ref = mainID(151) }, want: collection.ErrBadSignature},
		{name: "a signer who did not sign", mutate: func(g *collection.Guarantee) { g.Signers.Set(2) }, want: collection.ErrBadSignature},
		{name: "a signer left out", mutate: func(g *collection.Guarantee) {
			s, _ := model.NewSignerSet(4)
			s.Set(0)
			s.Set(1)
			s.Set(2)
			g.Signers = s
		}, want: collection.ErrBadSignature},
		{name: "garbage signature", mutate: func(g *collection.Guarantee) { g.Signature = bytes.Repeat([]byte{0xaa}, 96) }, want: collection.ErrBadSignature},
		{name: "vote-domain signatures", mutate: func(g *collection.Guarantee) {
			var sigs [][]byte
			for _, i := range []int{0, 1, 3} {
				sig, err := c.keys[i].Sign(crypto.DomainVote, collection.Message(c.chain, col, ref))
				if err != nil {
					t.Fatal(err)
				}
				sigs = append(sigs, sig)
			}
			g.Signature, _ = c.scheme.AggregateSignatures(sigs)
		}, want: collection.ErrBadSignature},
	} {
		g := valid()
		tc.mutate(g)
		chain := c.chain
		if tc.chain != model.ZeroID {
			chain = tc.chain
		}
		wantErr(t, tc.name, collection.Verify(c.scheme, g, chain, c.com), tc.want)
	}
}

func TestVerifyGuaranteeWeights(t *testing.T) {
	// Weights 1, 1, 1, 10: more than 2/3 of 13 is 9 or more.
	c := newCluster(t, crypto.Fast(), 1, 1, 1, 10)
	heavy := -1
	for i, m := range c.com.Members() {
		if m.Weight == 10 {
			heavy = i
		}
	}
	var light []int
	for i := range 4 {
		if i != heavy {
			light = append(light, i)
		}
	}
	col, ref := model.Identifier{1}, mainID(1)
	wantErr(t, "the heavy member alone", collection.Verify(c.scheme, c.guarantee(t, col, ref, heavy), c.chain, c.com), nil)
	wantErr(t, "the three light ones", collection.Verify(c.scheme, c.guarantee(t, col, ref, light...), c.chain, c.com), collection.ErrTooLittleWeight)
}

func TestGuaranteeEncoding(t *testing.T) {
	for _, n := range []int{4, 16} {
		weights := make([]uint64, n)
		for i := range weights {
			weights[i] = 1
		}
		c := newCluster(t, crypto.BLS(), weights...)
		signers := make([]int, 0, n)
		for i := range 2*n/3 + 1 {
			signers = append(signers, i)
		}
		g := c.guarantee(t, model.Identifier{1}, mainID(9), signers...)
		enc := g.Encode()
		t.Logf("guarantee over %d members (BLS): %d bytes", n, len(enc))
		if want := 196 + (n+7)/8; len(enc) != want || len(enc) != collection.GuaranteeSize(n, crypto.BLSSignatureSize) {
			t.Errorf("%d members: %d bytes, want %d", n, len(enc), want)
		}
		got, err := collection.DecodeGuarantee(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Encode(), enc) || !got.Signers.Equal(g.Signers) {
			t.Error("round trip changed the guarantee")
		}
		wantErr(t, "decoded guarantee", collection.Verify(c.scheme, got, c.chain, c.com), nil)
	}
	// A 100-member cluster's guarantee, for the record.
	s, _ := model.NewSignerSet(100)
	s.Set(0)
	big := &collection.Guarantee{Signers: s, Signature: make([]byte, crypto.BLSSignatureSize)}
	t.Logf("guarantee over 100 members (BLS): %d bytes", len(big.Encode()))
	if len(big.Encode()) != 196+13 {
		t.Errorf("100 members: %d bytes", len(big.Encode()))
	}
}

func TestDecodeGuaranteeRejects(t *testing.T) {
	s, _ := model.NewSignerSet(4)
	s.Set(1)
	good := (&collection.Guarantee{Signers: s, Signature: []byte{1, 2, 3}}).Encode()
	if _, err := collection.DecodeGuarantee(good); err != nil {
		t.Fatal(err)
	}
	noSigners, _ := model.NewSignerSet(4)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"no signers":     (&collection.Guarantee{Signers: noSigners, Signature: []byte{1}}).Encode(),
		"no signature":   (&collection.Guarantee{Signers: s}).Encode(),
		"huge signature": (&collection.Guarantee{Signers: s, Signature: make([]byte, model.MaxSignatureSize+1)}).Encode(),
		"bit beyond size": func() []byte {
			b := append([]byte(nil), good...)
			b[3*32+2] |= 0x80
			return b
		}(),
		"zero size": func() []byte {
			b := append([]byte(nil), good...)
			b[3*32], b[3*32+1] = 0, 0
			return b
		}(),
	} {
		_, err := collection.DecodeGuarantee(b)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		wantErr(t, name, err, collection.ErrInvalid)
	}
}

// A hand-off batch round-trips; empty, oversize, truncated and trailing
// batches are refused.
func TestGuaranteeBatch(t *testing.T) {
	set, _ := model.NewSignerSet(4)
	set.Set(1)
	gs := []*collection.Guarantee{
		{CollectionID: model.Identifier{1}, Signers: set, Signature: []byte{1, 2}},
		{CollectionID: model.Identifier{2}, Signers: set, Signature: []byte{3}},
	}
	b := collection.EncodeGuarantees(gs)
	got, err := collection.DecodeGuarantees(b, 2)
	if err != nil || len(got) != 2 || got[1].CollectionID != gs[1].CollectionID {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for name, in := range map[string][]byte{
		"empty":     collection.EncodeGuarantees(nil),
		"truncated": b[:len(b)-1],
		"trailing":  append(append([]byte{}, b...), 0),
	} {
		if _, err := collection.DecodeGuarantees(in, 2); !errors.Is(err, collection.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := collection.DecodeGuarantees(b, 1); !errors.Is(err, collection.ErrInvalid) {
		t.Errorf("over the limit: %v", err)
	}
}

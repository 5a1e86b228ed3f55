package model_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// Every decoder fuzz target checks the same contract: decoding never panics,
// every failure wraps codec.ErrMalformed, and anything that decodes is in
// canonical form (re-encodes to exactly the input) and passes the validating
// constructor it would have been built with.

func seedCorpus(f *testing.F, encs ...[]byte) {
	for _, e := range encs {
		f.Add(e)
	}
	f.Add([]byte{})
	f.Add([]byte{0})
}

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("decode error %v does not wrap codec.ErrMalformed", err)
	}
}

func checkCanonical(t *testing.T, in, reenc []byte) {
	t.Helper()
	if !bytes.Equal(in, reenc) {
		t.Fatalf("non-canonical decoding:\n  in %x\nout %x", in, reenc)
	}
}

func checkBlock(t *testing.T, b *model.Block) {
	t.Helper()
	enc := b.Encode()
	if sha256.Sum256(enc[:len(enc)-4-len(b.Payload)]) != b.ID() {
		t.Fatal("decoded block ID is not the hash of its header")
	}
	if model.PayloadHash(b.Payload) != b.PayloadHash {
		t.Fatal("decoded block payload does not match its hash")
	}
	if b.IsRoot() {
		r, err := model.NewRootBlock(b.ChainID, b.View, b.Height, b.Timestamp, b.Payload)
		if err != nil || r.ID() != b.ID() {
			t.Fatalf("decoded root block not reproducible: %v", err)
		}
		if b.TC != nil || b.ParentID != model.ZeroID || b.ProposerID != model.ZeroID {
			t.Fatal("decoded root block has parent, TC or proposer")
		}
		return
	}
	nb, err := model.NewBlock(b.Header, b.Payload)
	if err != nil {
		t.Fatalf("decoded block fails its constructor: %v", err)
	}
	if nb.ID() != b.ID() {
		t.Fatal("decoded block ID differs from a constructed one")
	}
	checkQC(t, b.QC)
	if b.TC != nil {
		checkTC(t, b.TC)
	}
}

func checkQC(t *testing.T, q *model.QC) {
	t.Helper()
	if q.IsRoot() {
		return
	}
	if _, err := model.NewQC(q.View, q.BlockID, q.Signers, q.Signature); err != nil {
		t.Fatalf("decoded QC fails its constructor: %v", err)
	}
}

func checkTC(t *testing.T, tc *model.TC) {
	t.Helper()
	if _, err := model.NewTC(tc.View, tc.NewestQC, tc.NewestQCViews, tc.Signers, tc.Signature); err != nil {
		t.Fatalf("decoded TC fails its constructor: %v", err)
	}
	checkQC(t, tc.NewestQC)
}

func FuzzDecodeBlock(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.root.Encode(), c.b1.Encode(), c.b3.Encode(), c.block(2, c.b1, c.qc1, nil, nil).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := model.DecodeBlock(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, b.Encode())
		checkBlock(t, b)
	})
}

func FuzzDecodeProposal(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.proposal(c.b1).Encode(), c.proposal(c.b3).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := model.DecodeProposal(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, p.Encode())
		if p.Block.IsRoot() {
			t.Fatal("decoded proposal carries a root block")
		}
		checkBlock(t, p.Block)
		if _, err := model.NewProposal(p.Block, p.Signature); err != nil {
			t.Fatalf("decoded proposal fails its constructor: %v", err)
		}
	})
}

func FuzzDecodeVote(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.vote(1, c.b1.ID(), 0).Encode(), c.vote(3, c.b3.ID(), 3).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := model.DecodeVote(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, v.Encode())
		if _, err := model.NewVote(v.View, v.BlockID, v.SignerID, v.Signature); err != nil {
			t.Fatalf("decoded vote fails its constructor: %v", err)
		}
	})
}

func FuzzDecodeTimeout(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.to2.Encode(), c.to3.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		to, err := model.DecodeTimeout(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, to.Encode())
		if _, err := model.NewTimeoutObject(to.View, to.NewestQC, to.LastViewTC, to.SignerID, to.Signature); err != nil {
			t.Fatalf("decoded timeout fails its constructor: %v", err)
		}
		checkQC(t, to.NewestQC)
		if to.LastViewTC != nil {
			checkTC(t, to.LastViewTC)
		}
	})
}

func FuzzDecodeQC(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.rootQC.Encode(), c.qc1.Encode(), c.qc3.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := model.DecodeQC(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, q.Encode())
		if q.Signers.Size() == 0 || (q.Signers.Count() == 0) != (len(q.Signature) == 0) {
			t.Fatalf("decoded QC of inconsistent shape: %d of %d signers, %d-byte signature",
				q.Signers.Count(), q.Signers.Size(), len(q.Signature))
		}
		checkQC(t, q)
	})
}

func FuzzDecodeTC(f *testing.F) {
	c := newChain(f)
	seedCorpus(f, c.tc2.Encode(), c.tc(1, c.rootQC, map[int]model.View{0: 0, 1: 0, 2: 0, 3: 0}).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		tc, err := model.DecodeTC(in)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		checkCanonical(t, in, tc.Encode())
		checkTC(t, tc)
	})
}

package model_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

func wantInvalid(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", name)
	} else if !errors.Is(err, model.ErrInvalid) {
		t.Errorf("%s: error %v does not wrap model.ErrInvalid", name, err)
	}
}

func TestNewBlockShapes(t *testing.T) {
	c := newChain(t)
	qc2 := c.qc(2, c.b1.ID(), 0, 1, 2) // a QC for view 2 (of b1's ID, for shape tests only)
	tc1 := c.tc(1, c.rootQC, map[int]model.View{0: 0, 1: 0, 2: 0})
	payload := []byte("p")
	// valid3 is b3's header: QC for view 1, TC for view 2.
	valid3 := func() model.Header { return c.header(3, c.b1, c.qc1, c.tc2, payload) }
	// valid2 is a happy-path header: QC for view 1, no TC.
	valid2 := func() model.Header { return c.header(2, c.b1, c.qc1, nil, payload) }

	if _, err := model.NewBlock(valid3(), payload); err != nil {
		t.Fatalf("valid block with TC rejected: %v", err)
	}
	if _, err := model.NewBlock(valid2(), payload); err != nil {
		t.Fatalf("valid happy-path block rejected: %v", err)
	}

	cases := []struct {
		name    string
		mutate  func(h *model.Header)
		payload []byte
	}{
		{"no parent QC", func(h *model.Header) { h.QC = nil }, payload},
		{"QC view equal to block view", func(h *model.Header) { h.View = 1 }, payload},
		{"QC view above block view", func(h *model.Header) { h.QC, h.ParentID, h.TC = qc2, qc2.BlockID, nil; h.View = 1 }, payload},
		{"parent ID differs from QC block", func(h *model.Header) { h.ParentID = c.root.ID() }, payload},
		{"height 0", func(h *model.Header) { h.Height = 0 }, payload},
		{"TC with QC for previous view", func(h *model.Header) { h.QC, h.ParentID = qc2, qc2.BlockID }, payload},
		{"missing TC when skipping views", func(h *model.Header) { h.TC = nil }, payload},
		{"TC for wrong view (older)", func(h *model.Header) { h.TC = tc1 }, payload},
		{"TC for wrong view (same)", func(h *model.Header) { h.View = 2; h.QC, h.ParentID = c.rootQC, c.root.ID() }, payload},
		{"payload hash mismatch", func(h *model.Header) { h.PayloadHash = model.PayloadHash([]byte("q")) }, payload},
		{"payload differs from hash", func(*model.Header) {}, []byte("q")},
		{"zero payload hash", func(h *model.Header) { h.PayloadHash = model.ZeroID }, payload},
	}
	for _, tc := range cases {
		h := valid3()
		tc.mutate(&h)
		b, err := model.NewBlock(h, tc.payload)
		wantInvalid(t, tc.name, err)
		if b != nil {
			t.Errorf("%s: returned a block with the error", tc.name)
		}
	}

	// A happy-path block must not carry a TC.
	h := valid2()
	h.TC = tc1
	_, err := model.NewBlock(h, payload)
	wantInvalid(t, "happy-path block with TC", err)
}

func TestNewBlockPayloadLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 64 MiB")
	}
	c := newChain(t)
	big := make([]byte, model.MaxPayloadSize+1)
	h := c.header(2, c.b1, c.qc1, nil, nil)
	h.PayloadHash = model.PayloadHash(big)
	_, err := model.NewBlock(h, big)
	wantInvalid(t, "oversize payload", err)
	_, err = model.NewRootBlock(testChain, 0, 0, 0, big)
	wantInvalid(t, "oversize root payload", err)
}

func TestBlockIDAndRoot(t *testing.T) {
	c := newChain(t)
	if !c.root.IsRoot() || c.b1.IsRoot() || c.b3.IsRoot() {
		t.Fatal("IsRoot wrong")
	}
	if c.root.ID() == model.ZeroID || c.b1.ID() == c.b3.ID() || c.b1.ID() == c.root.ID() {
		t.Fatal("block IDs not distinct")
	}
	// The ID is the hash of the header encoding, i.e. the block encoding
	// without its length-prefixed payload.
	for _, b := range []*model.Block{c.root, c.b1, c.b3} {
		enc := b.Encode()
		header := enc[:len(enc)-4-len(b.Payload)]
		if sha256.Sum256(header) != b.ID() {
			t.Fatalf("block view %d: ID is not the hash of its header encoding", b.View)
		}
	}
	// The payload enters only through its hash: same header, same ID.
	again := c.block(1, c.root, c.rootQC, nil, []byte("one"))
	if again.ID() != c.b1.ID() {
		t.Fatal("identical blocks have different IDs")
	}
	other := c.block(1, c.root, c.rootQC, nil, []byte("uno"))
	if other.ID() == c.b1.ID() {
		t.Fatal("different payloads give the same block ID")
	}
	// Root blocks of different views, heights or timestamps differ.
	r1, _ := model.NewRootBlock(testChain, 0, 0, 1_700_000_000_000, []byte("genesis"))
	r2, _ := model.NewRootBlock(testChain, 5, 0, 1_700_000_000_000, []byte("genesis"))
	r3, _ := model.NewRootBlock(testChain, 0, 9, 1_700_000_000_000, []byte("genesis"))
	if r1.ID() != c.root.ID() || r2.ID() == r1.ID() || r3.ID() == r1.ID() {
		t.Fatal("root IDs do not follow the header")
	}
}

func TestNewTCShapes(t *testing.T) {
	c := newChain(t)
	set := func(idx ...int) model.SignerSet {
		s, err := model.NewSignerSet(4)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range idx {
			s.Set(i)
		}
		return s
	}
	sig := bytes.Repeat([]byte{1}, 32)
	if _, err := model.NewTC(2, c.qc1, []model.View{1, 1, 0}, set(0, 1, 3), sig); err != nil {
		t.Fatalf("valid TC rejected: %v", err)
	}
	cases := []struct {
		name    string
		view    model.View
		qc      *model.QC
		views   []model.View
		signers model.SignerSet
		sig     []byte
	}{
		{"no newest QC", 2, nil, []model.View{1, 1, 0}, set(0, 1, 3), sig},
		{"no signers", 2, c.qc1, nil, set(), sig},
		{"zero-size signer set", 2, c.qc1, []model.View{1}, model.SignerSet{}, sig},
		{"no signature", 2, c.qc1, []model.View{1, 1, 0}, set(0, 1, 3), nil},
		{"oversize signature", 2, c.qc1, []model.View{1, 1, 0}, set(0, 1, 3), make([]byte, model.MaxSignatureSize+1)},
		{"fewer views than signers", 2, c.qc1, []model.View{1, 1}, set(0, 1, 3), sig},
		{"more views than signers", 2, c.qc1, []model.View{1, 1, 0, 0}, set(0, 1, 3), sig},
		{"listed view equal to TC view", 1, c.rootQC, []model.View{1, 0, 0}, set(0, 1, 3), sig},
		{"listed view above TC view", 1, c.qc1, []model.View{1, 1, 0}, set(0, 1, 3), sig},
		{"newest QC below highest listed", 2, c.rootQC, []model.View{1, 0, 0}, set(0, 1, 3), sig},
		{"newest QC above highest listed", 2, c.qc1, []model.View{0, 0, 0}, set(0, 1, 3), sig},
	}
	for _, tc := range cases {
		got, err := model.NewTC(tc.view, tc.qc, tc.views, tc.signers, tc.sig)
		wantInvalid(t, tc.name, err)
		if got != nil {
			t.Errorf("%s: returned a TC with the error", tc.name)
		}
	}
	// A maximal signature is fine.
	if _, err := model.NewTC(2, c.qc1, []model.View{1, 1, 0}, set(0, 1, 3), make([]byte, model.MaxSignatureSize)); err != nil {
		t.Fatalf("TC with a %d-byte signature rejected: %v", model.MaxSignatureSize, err)
	}
}

func TestNewTimeoutShapes(t *testing.T) {
	c := newChain(t)
	tc1 := c.tc(1, c.rootQC, map[int]model.View{0: 0, 1: 0, 2: 0})
	qc2 := c.qc(2, c.b1.ID(), 0, 1, 2) // shape-only: a QC for view 2
	tc3 := c.tc(3, qc2, map[int]model.View{0: 2, 1: 1, 2: 1})
	sig := bytes.Repeat([]byte{1}, 32)
	signer := c.id(0)

	valid := []struct {
		name string
		view model.View
		qc   *model.QC
		tc   *model.TC
	}{
		{"QC for previous view", 2, c.qc1, nil},
		{"QC with TC", 3, c.qc1, c.tc2},
		{"root QC with TC", 2, c.rootQC, tc1},
	}
	for _, tc := range valid {
		if _, err := model.NewTimeoutObject(tc.view, tc.qc, tc.tc, signer, sig); err != nil {
			t.Errorf("%s: valid timeout rejected: %v", tc.name, err)
		}
	}

	cases := []struct {
		name string
		view model.View
		qc   *model.QC
		tc   *model.TC
		sig  []byte
	}{
		{"no newest QC", 2, nil, nil, sig},
		{"QC view equal to view", 1, c.qc1, nil, sig},
		{"QC view above view", 0, c.qc1, nil, sig},
		{"QC for previous view with TC", 2, c.qc1, tc1, sig},
		{"TC missing when QC not for previous view", 3, c.qc1, nil, sig},
		{"TC for wrong view", 3, c.qc1, tc1, sig},
		{"TC for the view itself", 2, c.rootQC, c.tc2, sig},
		{"newest QC older than the TC's", 4, c.qc1, tc3, sig},
		{"no signature", 2, c.qc1, nil, nil},
		{"oversize signature", 2, c.qc1, nil, make([]byte, model.MaxSignatureSize+1)},
	}
	for _, tc := range cases {
		got, err := model.NewTimeoutObject(tc.view, tc.qc, tc.tc, signer, tc.sig)
		wantInvalid(t, tc.name, err)
		if got != nil {
			t.Errorf("%s: returned a timeout with the error", tc.name)
		}
	}
}

func TestNewQCVoteProposalShapes(t *testing.T) {
	c := newChain(t)
	sig := bytes.Repeat([]byte{1}, 32)
	empty, _ := model.NewSignerSet(4)
	one, _ := model.NewSignerSet(4)
	one.Set(2)

	if _, err := model.NewQC(1, c.b1.ID(), one, sig); err != nil {
		t.Fatalf("valid QC rejected: %v", err)
	}
	for _, tc := range []struct {
		name    string
		signers model.SignerSet
		sig     []byte
	}{
		{"zero-size signer set", model.SignerSet{}, sig},
		{"no signers", empty, sig},
		{"no signature", one, nil},
		{"empty signature", one, []byte{}},
		{"oversize signature", one, make([]byte, model.MaxSignatureSize+1)},
	} {
		q, err := model.NewQC(1, c.b1.ID(), tc.signers, tc.sig)
		wantInvalid(t, "QC "+tc.name, err)
		if q != nil {
			t.Errorf("QC %s: returned a QC with the error", tc.name)
		}
	}

	if _, err := model.NewVote(1, c.b1.ID(), c.id(0), sig); err != nil {
		t.Fatalf("valid vote rejected: %v", err)
	}
	for name, s := range map[string][]byte{"no": nil, "empty": {}, "oversize": make([]byte, model.MaxSignatureSize+1)} {
		_, err := model.NewVote(1, c.b1.ID(), c.id(0), s)
		wantInvalid(t, "vote with "+name+" signature", err)
	}

	if _, err := model.NewProposal(c.b1, sig); err != nil {
		t.Fatalf("valid proposal rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    *model.Block
		sig  []byte
	}{
		{"nil block", nil, sig},
		{"root block", c.root, sig},
		{"no signature", c.b1, nil},
		{"oversize signature", c.b1, make([]byte, model.MaxSignatureSize+1)},
	} {
		_, err := model.NewProposal(tc.b, tc.sig)
		wantInvalid(t, "proposal "+tc.name, err)
	}
}

func TestRootQC(t *testing.T) {
	c := newChain(t)
	if !c.rootQC.IsRoot() || c.qc1.IsRoot() {
		t.Fatal("IsRoot wrong")
	}
	for _, n := range []int{0, -1, model.MaxCommitteeSize + 1} {
		_, err := model.NewRootQC(0, c.root.ID(), n)
		wantInvalid(t, "root QC over bad committee size", err)
	}
	got, err := model.DecodeQC(c.rootQC.Encode())
	if err != nil {
		t.Fatalf("root QC does not decode: %v", err)
	}
	if !got.IsRoot() || !got.Equal(c.rootQC) || got.Signers.Size() != 4 {
		t.Fatalf("root QC changed in roundtrip: %+v", got)
	}
}

func TestSignerSet(t *testing.T) {
	for _, n := range []int{0, -1, model.MaxCommitteeSize + 1} {
		_, err := model.NewSignerSet(n)
		wantInvalid(t, "signer set of bad size", err)
	}
	if _, err := model.NewSignerSet(model.MaxCommitteeSize); err != nil {
		t.Fatalf("maximal signer set rejected: %v", err)
	}
	s, _ := model.NewSignerSet(10)
	for _, i := range []int{-1, 10, 11} {
		if s.Set(i) || s.Has(i) {
			t.Fatalf("index %d out of range accepted", i)
		}
	}
	for _, i := range []int{9, 0, 3, 3} {
		if !s.Set(i) {
			t.Fatalf("Set(%d) failed", i)
		}
	}
	if s.Count() != 3 || s.Size() != 10 {
		t.Fatalf("count %d size %d", s.Count(), s.Size())
	}
	if got := s.Indices(); len(got) != 3 || got[0] != 0 || got[1] != 3 || got[2] != 9 {
		t.Fatalf("indices %v", got)
	}
	cl := s.Clone()
	cl.Set(5)
	if s.Has(5) || !cl.Has(5) || s.Equal(cl) {
		t.Fatal("clone shares bits with the original")
	}
	cl2 := s.Clone()
	if !s.Equal(cl2) {
		t.Fatal("clone not equal")
	}
	other, _ := model.NewSignerSet(11)
	for _, i := range []int{0, 3, 9} {
		other.Set(i)
	}
	if s.Equal(other) {
		t.Fatal("sets over different committee sizes are equal")
	}
}

// --- encodings ----------------------------------------------------------------

func TestBlockRoundtrip(t *testing.T) {
	c := newChain(t)
	empty := c.block(2, c.b1, c.qc1, nil, nil)
	for _, b := range []*model.Block{c.root, c.b1, c.b3, empty} {
		enc := b.Encode()
		got, err := model.DecodeBlock(enc)
		if err != nil {
			t.Fatalf("block view %d: %v", b.View, err)
		}
		if got.ID() != b.ID() {
			t.Fatalf("block view %d: ID changed in roundtrip", b.View)
		}
		if got.View != b.View || got.Height != b.Height || got.ParentID != b.ParentID ||
			got.ProposerID != b.ProposerID || got.Timestamp != b.Timestamp || got.PayloadHash != b.PayloadHash ||
			!bytes.Equal(got.Payload, b.Payload) || !got.QC.Equal(b.QC) || !got.TC.Equal(b.TC) || got.IsRoot() != b.IsRoot() {
			t.Fatalf("block view %d changed in roundtrip", b.View)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatalf("block view %d: re-encoding differs", b.View)
		}
	}
	// Negative timestamps survive (int64 through uint64).
	h := c.header(2, c.b1, c.qc1, nil, nil)
	h.Timestamp = -5
	b, err := model.NewBlock(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := model.DecodeBlock(b.Encode())
	if err != nil || got.Timestamp != -5 || got.ID() != b.ID() {
		t.Fatalf("negative timestamp roundtrip: %v %+v", err, got)
	}
}

func TestMessageRoundtrips(t *testing.T) {
	c := newChain(t)
	for _, p := range []*model.Proposal{c.proposal(c.b1), c.proposal(c.b3)} {
		got, err := model.DecodeProposal(p.Encode())
		if err != nil {
			t.Fatalf("proposal: %v", err)
		}
		if got.Block.ID() != p.Block.ID() || !bytes.Equal(got.Signature, p.Signature) || !bytes.Equal(got.Encode(), p.Encode()) {
			t.Fatal("proposal changed in roundtrip")
		}
	}
	v := c.vote(3, c.b3.ID(), 2)
	if got, err := model.DecodeVote(v.Encode()); err != nil || !got.Equal(v) {
		t.Fatalf("vote roundtrip: %v", err)
	}
	for _, q := range []*model.QC{c.rootQC, c.qc1, c.qc3} {
		if got, err := model.DecodeQC(q.Encode()); err != nil || !got.Equal(q) {
			t.Fatalf("QC view %d roundtrip: %v", q.View, err)
		}
	}
	tc1 := c.tc(1, c.rootQC, map[int]model.View{0: 0, 1: 0, 2: 0, 3: 0})
	for _, tc := range []*model.TC{c.tc2, tc1} {
		if got, err := model.DecodeTC(tc.Encode()); err != nil || !got.Equal(tc) {
			t.Fatalf("TC view %d roundtrip: %v", tc.View, err)
		}
	}
	for _, to := range []*model.TimeoutObject{c.to2, c.to3} {
		got, err := model.DecodeTimeout(to.Encode())
		if err != nil || !got.Equal(to) {
			t.Fatalf("timeout view %d roundtrip: %v", to.View, err)
		}
		if (got.LastViewTC == nil) != (to.LastViewTC == nil) {
			t.Fatal("timeout TC presence changed")
		}
	}
}

// TestEqualDetectsDifferences makes sure the Equal methods the roundtrip
// tests rely on are not vacuous.
func TestEqualDetectsDifferences(t *testing.T) {
	c := newChain(t)
	if c.qc1.Equal(c.qc3) || c.qc1.Equal(nil) || !(*model.QC)(nil).Equal(nil) {
		t.Fatal("QC.Equal wrong")
	}
	q := *c.qc1
	q.Signature = append([]byte(nil), q.Signature...)
	q.Signature[0] ^= 1
	if q.Equal(c.qc1) {
		t.Fatal("QC.Equal ignores the signature")
	}
	tc := *c.tc2
	tc.NewestQCViews = []model.View{1, 0, 0}
	if tc.Equal(c.tc2) || c.tc2.Equal(nil) {
		t.Fatal("TC.Equal ignores NewestQCViews")
	}
	if c.vote(1, c.b1.ID(), 0).Equal(c.vote(1, c.b1.ID(), 1)) {
		t.Fatal("Vote.Equal ignores the signer")
	}
	if c.to2.Equal(c.timeout(2, c.qc1, nil, 1)) {
		t.Fatal("TimeoutObject.Equal ignores the signer")
	}
}

type encoded struct {
	name   string
	enc    []byte
	decode func([]byte) (any, []byte, error) // decoded value, its re-encoding
}

func encodings(c *chain) []encoded {
	block := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeBlock(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	prop := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeProposal(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	vote := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeVote(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	qc := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeQC(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	tc := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeTC(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	to := func(b []byte) (any, []byte, error) {
		x, err := model.DecodeTimeout(b)
		if err != nil {
			return nil, nil, err
		}
		return x, x.Encode(), nil
	}
	return []encoded{
		{"root block", c.root.Encode(), block},
		{"block 1", c.b1.Encode(), block},
		{"block 3", c.b3.Encode(), block},
		{"proposal 3", c.proposal(c.b3).Encode(), prop},
		{"vote", c.vote(1, c.b1.ID(), 3).Encode(), vote},
		{"root QC", c.rootQC.Encode(), qc},
		{"QC", c.qc1.Encode(), qc},
		{"TC", c.tc2.Encode(), tc},
		{"timeout", c.to2.Encode(), to},
		{"timeout with TC", c.to3.Encode(), to},
	}
}

func TestDecodeRejectsTruncationAndTrailingBytes(t *testing.T) {
	c := newChain(t)
	for _, e := range encodings(c) {
		for n := 0; n < len(e.enc); n++ {
			if _, _, err := e.decode(e.enc[:n]); err == nil {
				t.Fatalf("%s: prefix of %d/%d bytes decoded", e.name, n, len(e.enc))
			} else if !errors.Is(err, codec.ErrMalformed) {
				t.Fatalf("%s: prefix %d: error %v does not wrap codec.ErrMalformed", e.name, n, err)
			}
		}
		if _, _, err := e.decode(append(append([]byte(nil), e.enc...), 0)); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("%s: trailing byte accepted (%v)", e.name, err)
		}
	}
}

// TestOneBitChange flips every bit of every encoding: decoding either fails
// or yields a different object whose canonical encoding is the flipped input.
// For blocks (and proposals) a decoded flip must change the block ID: the ID
// commits to every header bit, and payload bits are bound by the payload hash.
func TestOneBitChange(t *testing.T) {
	c := newChain(t)
	for _, e := range encodings(c) {
		orig, _, err := e.decode(e.enc)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		var origID model.Identifier
		switch x := orig.(type) {
		case *model.Block:
			origID = x.ID()
		case *model.Proposal:
			origID = x.Block.ID()
		}
		decoded := 0
		for bit := 0; bit < 8*len(e.enc); bit++ {
			mut := append([]byte(nil), e.enc...)
			mut[bit/8] ^= 1 << (bit % 8)
			got, reenc, err := e.decode(mut)
			if err != nil {
				continue
			}
			decoded++
			if !bytes.Equal(reenc, mut) {
				t.Fatalf("%s: bit %d: decoded value re-encodes differently", e.name, bit)
			}
			switch x := got.(type) {
			case *model.Block:
				if x.ID() == origID {
					t.Fatalf("%s: bit %d flipped without changing the block ID", e.name, bit)
				}
			case *model.Proposal:
				if x.Block.ID() == origID && bytes.Equal(x.Block.Encode(), orig.(*model.Proposal).Block.Encode()) {
					// Only the signature changed: the block must be identical.
					if bytes.Equal(x.Signature, orig.(*model.Proposal).Signature) {
						t.Fatalf("%s: bit %d decoded to the original", e.name, bit)
					}
				} else if x.Block.ID() == origID {
					t.Fatalf("%s: bit %d changed the block but not its ID", e.name, bit)
				}
			}
		}
		if decoded == 0 {
			t.Fatalf("%s: no single-bit change decodes; the check is vacuous", e.name)
		}
	}
}

func TestSignerSetDecoding(t *testing.T) {
	c := newChain(t)
	enc := c.qc1.Encode()
	// Layout: view (8), block ID (32), size (2), bitmap, signature.
	const sizeOff, bitsOff = 40, 42
	if enc[sizeOff] != 0 || enc[sizeOff+1] != 4 || enc[bitsOff] != 0b0111 {
		t.Fatalf("unexpected QC layout %x", enc[:bitsOff+1])
	}
	for bit := 4; bit < 8; bit++ {
		mut := append([]byte(nil), enc...)
		mut[bitsOff] |= 1 << bit
		if _, err := model.DecodeQC(mut); !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("signer bit %d beyond size 4 accepted (%v)", bit, err)
		}
	}
	// Bits within the size are fine.
	mut := append([]byte(nil), enc...)
	mut[bitsOff] |= 1 << 3
	q, err := model.DecodeQC(mut)
	if err != nil || q.Signers.Count() != 4 {
		t.Fatalf("signer bit 3 of 4: %v", err)
	}
	// Size 0 and sizes above the limit are rejected.
	for _, size := range []uint16{0, model.MaxCommitteeSize + 1, 0xffff} {
		w := codec.NewWriter(0)
		w.Uint64(1)
		w.Fixed(make([]byte, 32))
		w.Uint16(size)
		w.Fixed(make([]byte, (int(size)+7)/8))
		w.Bytes16(nil)
		if _, err := model.DecodeQC(w.Bytes()); !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("signer set size %d accepted (%v)", size, err)
		}
	}
	// A committee of 8 uses every bit of its byte.
	s, _ := model.NewSignerSet(8)
	for i := range 8 {
		s.Set(i)
	}
	q8, err := model.NewQC(1, c.b1.ID(), s, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := model.DecodeQC(q8.Encode()); err != nil || got.Signers.Count() != 8 {
		t.Fatalf("full 8-member signer set: %v", err)
	}
}

// TestSignerSetBitmap checks the compact encoding (bitmap only, the size
// given by the context): ⌈n/8⌉ bytes, round trips, and one encoding per set.
func TestSignerSetBitmap(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 100, model.MaxCommitteeSize} {
		s, _ := model.NewSignerSet(n)
		for i := 0; i < n; i += 3 {
			s.Set(i)
		}
		s.Set(n - 1)
		w := codec.NewWriter(0)
		s.EncodeTo(w)
		if len(w.Bytes()) != (n+7)/8 {
			t.Fatalf("n=%d: %d bytes, want %d", n, len(w.Bytes()), (n+7)/8)
		}
		r := codec.NewReader(w.Bytes())
		got := model.ReadSignerSet(r, n)
		if err := r.Done(); err != nil || !got.Equal(s) {
			t.Fatalf("n=%d: round trip %v, equal %v", n, err, got.Equal(s))
		}
		// Too short.
		r = codec.NewReader(w.Bytes()[:len(w.Bytes())-1])
		model.ReadSignerSet(r, n)
		if !errors.Is(r.Err(), codec.ErrMalformed) {
			t.Errorf("n=%d: truncated bitmap accepted", n)
		}
		// A bit beyond n.
		if n%8 != 0 {
			mut := append([]byte(nil), w.Bytes()...)
			mut[len(mut)-1] |= 0x80
			r = codec.NewReader(mut)
			model.ReadSignerSet(r, n)
			if !errors.Is(r.Err(), codec.ErrMalformed) {
				t.Errorf("n=%d: bit beyond the size accepted", n)
			}
		}
	}
	for _, n := range []int{0, -1, model.MaxCommitteeSize + 1} {
		r := codec.NewReader(make([]byte, 1024))
		model.ReadSignerSet(r, n)
		if !errors.Is(r.Err(), codec.ErrMalformed) {
			t.Errorf("size %d accepted", n)
		}
	}
}

func TestDecodeRejectsInconsistentObjects(t *testing.T) {
	c := newChain(t)

	// QC with signers but no signature, and the reverse.
	enc := c.qc1.Encode()
	noSig := append(append([]byte(nil), enc[:43]...), 0, 0)
	if _, err := model.DecodeQC(noSig); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("QC with signers and no signature accepted (%v)", err)
	}
	rootEnc := c.rootQC.Encode()
	withSig := append(append([]byte(nil), rootEnc[:len(rootEnc)-2]...), 0, 1, 7)
	if _, err := model.DecodeQC(withSig); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("QC with a signature and no signers accepted (%v)", err)
	}

	// Vote with an empty signature.
	venc := c.vote(1, c.b1.ID(), 0).Encode()
	venc = append(venc[:8+64], 0, 0)
	if _, err := model.DecodeVote(venc); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("vote without signature accepted (%v)", err)
	}

	// A proposal must not carry a root block.
	w := codec.NewWriter(0)
	w.Fixed(c.root.Encode())
	w.Bytes16([]byte{1})
	if _, err := model.DecodeProposal(w.Bytes()); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("proposal of a root block accepted (%v)", err)
	}

	// Root blocks with a parent ID, a proposer or a TC are rejected; so is a
	// root whose payload does not match its hash.
	root := c.root.Encode()
	const parentOff = 32 + 16 // after the chain ID, view and height
	mut := append([]byte(nil), root...)
	mut[parentOff] = 1
	if _, err := model.DecodeBlock(mut); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("root block with parent accepted (%v)", err)
	}
	const proposerOff = 32 + 8 + 8 + 32 + 1 + 1
	mut = append([]byte(nil), root...)
	mut[proposerOff] = 1
	if _, err := model.DecodeBlock(mut); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("root block with proposer accepted (%v)", err)
	}
	mut = append([]byte(nil), root...)
	mut[len(mut)-1] ^= 1 // last payload byte
	if _, err := model.DecodeBlock(mut); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("root block with wrong payload accepted (%v)", err)
	}
	// A root header with a TC: splice the TC in after the "no QC" flag.
	w = codec.NewWriter(0)
	w.Fixed(root[:8+8+32+1])
	w.Bool(true)
	w.Fixed(c.tc2.Encode())
	w.Fixed(root[8+8+32+2:])
	if _, err := model.DecodeBlock(w.Bytes()); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("root block with TC accepted (%v)", err)
	}

	// TC whose QC-view count is absurd for the remaining input.
	tenc := c.tc2.Encode()
	qcLen := len(c.qc1.Encode())
	mut = append([]byte(nil), tenc...)
	mut[8+qcLen], mut[8+qcLen+1] = 0xff, 0xff
	if _, err := model.DecodeTC(mut); !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("TC listing 65535 views accepted (%v)", err)
	}
}

func TestParseIdentifier(t *testing.T) {
	c := newChain(t)
	id := c.b1.ID()
	got, err := model.ParseIdentifier(id.Hex())
	if err != nil || got != id {
		t.Fatalf("ParseIdentifier(Hex()) = %v, %v", got, err)
	}
	if len(id.String()) != 8 || id.Hex()[:8] != id.String() {
		t.Fatalf("String %q is not the Hex prefix", id.String())
	}
	for _, s := range []string{"", "00", id.Hex() + "00", id.Hex()[:63] + "g"} {
		_, err := model.ParseIdentifier(s)
		wantInvalid(t, "identifier "+s, err)
	}
}

func TestSignedMessages(t *testing.T) {
	id := model.Identifier{1, 2, 3}
	vm := model.VoteMessage(testChain, 7, id)
	if len(vm) != 72 || !bytes.Equal(vm[:32], testChain[:]) || vm[39] != 7 || !bytes.Equal(vm[40:], id[:]) {
		t.Fatalf("vote message %x", vm)
	}
	if bytes.Equal(model.VoteMessage(testChain, 7, id), model.VoteMessage(testChain, 8, id)) {
		t.Fatal("vote message ignores the view")
	}
	tm := model.TimeoutMessage(testChain, 7, 3)
	if len(tm) != 48 || !bytes.Equal(tm[:32], testChain[:]) || tm[39] != 7 || tm[47] != 3 {
		t.Fatalf("timeout message %x", tm)
	}
	pm := model.ProposalMessage(testChain, id)
	if len(pm) != 64 || !bytes.Equal(pm[:32], testChain[:]) || !bytes.Equal(pm[32:], id[:]) {
		t.Fatalf("proposal message %x", pm)
	}
	pm[32] = 9
	if id[0] != 1 {
		t.Fatal("proposal message aliases the ID")
	}
	// Every kind names its chain: the same view, block and QC view on
	// another chain are other bytes.
	other := model.MainChain("other")
	if bytes.Equal(model.VoteMessage(other, 7, id), vm) || bytes.Equal(model.TimeoutMessage(other, 7, 3), tm) ||
		bytes.Equal(model.ProposalMessage(other, id), model.ProposalMessage(testChain, id)) {
		t.Fatal("a signed message does not depend on the chain")
	}
}

package follower

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/storage"
)

func newChain(t testing.TB, scheme crypto.Scheme) *testchain.Chain {
	t.Helper()
	c, err := testchain.New(scheme, 4, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func extend(t testing.TB, c *testchain.Chain, parent *model.Block, qc *model.QC, n int) testchain.Segment {
	t.Helper()
	seg, err := c.Extend(parent, qc, n, func(i int) []byte { return []byte(fmt.Sprintf("payload %d", i)) })
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

func propose(t testing.TB, c *testchain.Chain, b *model.Block) *model.Proposal {
	t.Helper()
	p, err := c.Propose(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	chain  *testchain.Chain
	store  *MemoryStore
	engine *Engine
	final  []*model.Block
	mu     sync.Mutex
}

func newFixture(t testing.TB, c *testchain.Chain, tweak func(*Config)) *fixture {
	t.Helper()
	f := &fixture{chain: c, store: NewMemoryStore(c.Root, c.RootQC)}
	cfg := Config{
		Schedule: StaticSchedule(c.Committee), Scheme: c.Scheme, Root: c.Root, RootQC: c.RootQC, Store: f.store,
		OnFinalized: func(bs []*model.Block) {
			f.mu.Lock()
			f.final = append(f.final, bs...)
			f.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	t.Cleanup(e.Stop)
	return f
}

func (f *fixture) qcChecks() float64 { return counterValue(f.engine.m.qcChecks) }

func (f *fixture) rejected(reason string) float64 {
	return counterValue(f.engine.m.rejected.WithLabelValues(reason))
}

// Proposals arriving in order: each certifies its parent, and a certified
// block whose parent is one view below finalizes that parent (2-chain).
func TestProposalsInOrderFinalizeByTwoChain(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 10)
	for _, b := range seg.Blocks {
		if err := f.engine.HandleProposal("up", propose(t, c, b)); err != nil {
			t.Fatalf("proposal view %d: %v", b.View, err)
		}
	}
	// Block 10 is uncertified; 9 is certified by 10's QC; 8 is final.
	if got := f.engine.FinalizedHeight(); got != 8 {
		t.Fatalf("finalized height %d, want 8", got)
	}
	if len(f.final) != 8 || f.final[0].Height != 1 || f.final[7].ID() != seg.Blocks[7].ID() {
		t.Fatalf("finalized callback got %d blocks", len(f.final))
	}
	for i, b := range seg.Blocks {
		if want := i < 9; f.store.Has(b.ID()) != want {
			t.Errorf("block %d stored=%v, want %v (only certified blocks reach disk)", i+1, !want, want)
		}
	}
	if sz := f.engine.Sizes(); sz.Uncertified != 1 {
		t.Fatalf("uncertified cache %d, want 1 (the newest proposal)", sz.Uncertified)
	}
	if f.store.Finalized().ID() != seg.Blocks[7].ID() {
		t.Fatal("store's finalized block differs")
	}
}

// Seed 001: a block is validated by the QC that certifies it against the
// identity table of its epoch, even when its ancestors are unknown.
func TestProposalsOutOfOrderAreValidatedBeforeAncestors(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 12)
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(seg.Blocks))
	for n, i := range order {
		if err := f.engine.HandleProposal("up", propose(t, c, seg.Blocks[i])); err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
		if n == 0 && f.engine.Sizes().Uncertified+f.engine.Sizes().Detached != 1 {
			t.Fatal("first proposal (unknown ancestors) was not cached after validation")
		}
	}
	if got := f.engine.FinalizedHeight(); got != 10 {
		t.Fatalf("finalized height %d, want 10", got)
	}
	if sz := f.engine.Sizes(); sz.Detached != 0 || sz.Uncertified != 1 || sz.PendingQCs != 0 {
		t.Fatalf("caches after catching up: %+v", sz)
	}
	for i := 1; i < len(f.final); i++ {
		if f.final[i].Height != f.final[i-1].Height+1 {
			t.Fatal("finalized out of height order")
		}
	}
}

// A QC that does not verify: wrong message, too few signers, garbage.
func TestForgedCertificatesAreRejectedAndReported(t *testing.T) {
	c := newChain(t, crypto.Fast())
	seg := extend(t, c, c.Root, c.RootQC, 3)
	good := seg.Blocks[2].QC // certifies block 2
	other, err := c.QC(good.View, model.Identifier{7})
	if err != nil {
		t.Fatal(err)
	}
	weak := *good
	weak.Signers = good.Signers.Clone()
	for i := 1; i < c.Committee.Size(); i++ {
		if weak.Signers.Has(i) {
			weak.Signers = func() model.SignerSet { s, _ := model.NewSignerSet(c.Committee.Size()); s.Set(0); return s }()
			break
		}
	}
	cases := map[string]*model.QC{
		"signature for another block": {View: good.View, BlockID: good.BlockID, Signers: other.Signers, Signature: other.Signature},
		"below supermajority":         &weak,
		"garbage signature":           {View: good.View, BlockID: good.BlockID, Signers: good.Signers, Signature: make([]byte, len(good.Signature))},
	}
	for name, qc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, c, nil)
			if err := f.engine.HandleRange("evil", seg.Blocks[:2], qc); !errors.Is(err, ErrInvalid) {
				t.Fatalf("range with forged tip QC: %v", err)
			}
			forged, err := c.Child(seg.Blocks[1], qc, []byte("forged"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.engine.HandleProposal("evil", propose(t, c, forged)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("proposal with forged parent QC: %v", err)
			}
			if sz := f.engine.Sizes(); sz != (Sizes{Tree: 1}) {
				t.Fatalf("something was cached: %+v", sz)
			}
			if f.store.Len() != 1 {
				t.Fatal("something was stored")
			}
			recs, total := f.engine.Records()
			if total != 2 || recs[0].Peer != "evil" || recs[0].Kind != "invalid" {
				t.Fatalf("records %+v (total %d)", recs, total)
			}
			if got := counterValue(f.engine.m.peerReports.WithLabelValues("evil")); got != 2 {
				t.Fatalf("peer reports %v", got)
			}
		})
	}
}

func TestProposalByNonLeaderOrBadSignatureIsRejected(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 1)
	b := seg.Blocks[0]
	// Someone else signs the leader's block.
	var other crypto.PrivateKey
	for i := 0; i < c.Committee.Size(); i++ {
		if id := c.Committee.Member(i).ID; id != b.ProposerID {
			other, _ = c.Key(id)
		}
	}
	sig, _ := other.Sign(crypto.DomainProposal, model.ProposalMessage(b.ChainID, b.ID()))
	p, _ := model.NewProposal(b, sig)
	if err := f.engine.HandleProposal("evil", p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad proposer signature: %v", err)
	}
	// A block that names a non-leader as proposer.
	h := b.Header
	h.ProposerID = crypto.Sum(other.PublicKey().Bytes())
	nb, _ := model.NewBlock(h, b.Payload)
	sig, _ = other.Sign(crypto.DomainProposal, model.ProposalMessage(nb.ChainID, nb.ID()))
	p, _ = model.NewProposal(nb, sig)
	if err := f.engine.HandleProposal("evil", p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-leader proposal: %v", err)
	}
	if sz := f.engine.Sizes(); sz.Uncertified != 0 {
		t.Fatal("invalid proposal cached")
	}
}

// A byzantine member feeds a long fork of fabricated blocks whose QCs are
// invalid: each is discarded at its first check, nothing is cached or
// stored, and the sender is reported for every one.
func TestFabricatedForkIsDiscardedBlockByBlock(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 2)
	parent, qc := seg.Blocks[1], seg.TipQC
	const n = 200
	var fork []*model.Block
	for i := 0; i < n; i++ {
		b, err := c.Child(parent, qc, []byte(fmt.Sprintf("fake %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		fork = append(fork, b)
		// A certificate nobody signed: a real signature over another block.
		real, _ := c.QC(b.View, model.Identifier{byte(i), 1})
		qc = &model.QC{View: b.View, BlockID: b.ID(), Signers: real.Signers, Signature: real.Signature}
		parent = b
	}
	// Newest first: the follower meets every block before its ancestors.
	for i := n - 1; i >= 1; i-- {
		if err := f.engine.HandleProposal("edward", propose(t, c, fork[i])); !errors.Is(err, ErrInvalid) {
			t.Fatalf("fabricated block %d accepted: %v", i, err)
		}
	}
	if err := f.engine.HandleRange("edward", fork, qc); !errors.Is(err, ErrInvalid) {
		t.Fatalf("fabricated range accepted: %v", err)
	}
	if sz := f.engine.Sizes(); sz != (Sizes{Tree: 1}) {
		t.Fatalf("fabricated blocks cached: %+v", sz)
	}
	if f.store.Len() != 1 || f.store.Saves() != 0 {
		t.Fatal("fabricated blocks stored")
	}
	if _, total := f.engine.Records(); total != n {
		t.Fatalf("%d reports, want %d", total, n)
	}
	// The honest chain still goes through.
	if err := f.engine.HandleRange("honest", seg.Blocks, seg.TipQC); err != nil {
		t.Fatal(err)
	}
	if f.engine.FinalizedHeight() != 1 {
		t.Fatalf("finalized %d", f.engine.FinalizedHeight())
	}
}

// A connected range costs one QC check; its hash links are checked.
func TestRangeIsValidatedWithOneCertificate(t *testing.T) {
	c := newChain(t, crypto.BLS())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 64)
	if err := f.engine.HandleRange("up", seg.Blocks, seg.TipQC); err != nil {
		t.Fatal(err)
	}
	if got := f.qcChecks(); got != 1 {
		t.Fatalf("%v certificate checks for one range", got)
	}
	if got := f.engine.FinalizedHeight(); got != 63 {
		t.Fatalf("finalized height %d, want 63", got)
	}
	if f.store.Saves() != 1 || f.store.Len() != 65 {
		t.Fatalf("%d saves, %d blocks: want one batch of all 64 (+root)", f.store.Saves(), f.store.Len())
	}
}

func TestBrokenRangesAreRejected(t *testing.T) {
	c := newChain(t, crypto.Fast())
	seg := extend(t, c, c.Root, c.RootQC, 6)
	// A different block 3 (a fork with a valid QC of its own parent).
	alt, _ := c.Child(seg.Blocks[1], seg.Blocks[2].QC, []byte("other"))
	swapped := append(append(append([]*model.Block{}, seg.Blocks[:2]...), alt), seg.Blocks[3:]...)
	cases := map[string]struct {
		blocks []*model.Block
		qc     *model.QC
	}{
		"broken hash link": {swapped, seg.TipQC},
		"gap":              {append(append([]*model.Block{}, seg.Blocks[:2]...), seg.Blocks[3:]...), seg.TipQC},
		"QC for another":   {seg.Blocks[:5], seg.TipQC},
		"no QC":            {seg.Blocks, nil},
		"empty":            {nil, seg.TipQC},
		"root inside":      {append([]*model.Block{c.Root}, seg.Blocks...), seg.TipQC},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, c, nil)
			if err := f.engine.HandleRange("evil", tc.blocks, tc.qc); !errors.Is(err, ErrInvalid) {
				t.Fatalf("accepted: %v", err)
			}
			if f.qcChecks() != 0 {
				t.Fatal("a malformed range cost a signature check")
			}
			if f.store.Len() != 1 || f.engine.Sizes() != (Sizes{Tree: 1}) {
				t.Fatal("something was kept")
			}
		})
	}
	f := newFixture(t, c, func(cfg *Config) { cfg.MaxRange = 4 })
	if err := f.engine.HandleRange("up", seg.Blocks, seg.TipQC); !errors.Is(err, ErrInvalid) {
		t.Fatalf("over-long range: %v", err)
	}
}

// A leader sends 1,001 different proposals for one view: at most
// MaxProposalsPerView are verified and cached, one evidence record is
// made, only the certified one reaches the store.
func TestThousandProposalsForOneViewCostBoundedMemory(t *testing.T) {
	c := newChain(t, crypto.BLS())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 2)
	if err := f.engine.HandleRange("up", seg.Blocks, seg.TipQC); err != nil {
		t.Fatal(err)
	}
	before := f.qcChecks()
	var proposals []*model.Proposal
	for i := 0; i < 1001; i++ {
		b, err := c.Child(seg.Blocks[1], seg.TipQC, []byte(fmt.Sprintf("spray %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		proposals = append(proposals, propose(t, c, b))
	}
	accepted := 0
	for _, p := range proposals {
		switch err := f.engine.HandleProposal("leader", p); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrViewFull):
		default:
			t.Fatal(err)
		}
	}
	max := f.engine.cfg.MaxProposalsPerView
	if accepted != max {
		t.Fatalf("%d proposals accepted, want %d", accepted, max)
	}
	if checks := f.qcChecks() - before; checks != float64(max) {
		t.Fatalf("%v signature checks for 1001 proposals, want %d", checks, max)
	}
	if sz := f.engine.Sizes(); sz.Uncertified != max || sz.Evidenced != 1 {
		t.Fatalf("sizes %+v", sz)
	}
	recs, total := f.engine.Records()
	if total != 1 || recs[0].Kind != "double-proposal" || recs[0].Evidence.Offender != proposals[0].Block.ProposerID {
		t.Fatalf("evidence records %+v", recs)
	}
	ev := recs[0].Evidence
	for _, p := range ev.Proposals {
		if err := verifyProposal(c, p); err != nil {
			t.Fatalf("evidence does not prove itself: %v", err)
		}
	}
	// The committee certifies proposal #500, which was dropped. Its QC
	// arrives with the next proposal; the block itself with a range.
	chosen := proposals[500].Block
	qc, _ := c.QC(chosen.View, chosen.ID())
	next, _ := c.Child(chosen, qc, nil)
	nextQC, _ := c.QC(next.View, next.ID())
	if err := f.engine.HandleProposal("up", propose(t, c, next)); err != nil {
		t.Fatal(err)
	}
	if sz := f.engine.Sizes(); sz.Uncertified != 1 || sz.PendingQCs != 1 {
		t.Fatalf("after the certifying proposal: %+v (the spray must be gone)", sz)
	}
	if err := f.engine.HandleRange("up", []*model.Block{chosen, next}, nextQC); err != nil {
		t.Fatal(err)
	}
	for i, p := range proposals {
		if f.store.Has(p.Block.ID()) != (i == 500) {
			t.Fatalf("proposal %d stored=%v", i, i != 500)
		}
	}
	if f.engine.FinalizedHeight() != 3 {
		t.Fatalf("finalized %d, want 3", f.engine.FinalizedHeight())
	}
	if sz := f.engine.Sizes(); sz.Uncertified != 0 || sz.Evidenced != 0 {
		t.Fatalf("after finality: %+v", sz)
	}
}

func verifyProposal(c *testchain.Chain, p *model.Proposal) error {
	k := c.Committee.Member(mustIndex(c, p.Block.ProposerID)).StakingKey
	return k.Verify(crypto.DomainProposal, model.ProposalMessage(p.Block.ChainID, p.Block.ID()), p.Signature)
}

func mustIndex(c *testchain.Chain, id model.NodeID) int {
	i, err := c.Committee.Index(id)
	if err != nil {
		panic(err)
	}
	return i
}

// upTo is a schedule that knows views up to last only.
type upTo struct {
	c    *committee.Committee
	last model.View
}

func (s upTo) CommitteeAt(v model.View) (*committee.Committee, error) {
	if v > s.last {
		return nil, fmt.Errorf("%w: view %d", committee.ErrUnknownView, v)
	}
	return s.c, nil
}

func TestBlocksOfUnknownEpochsAreDroppedBeforeAnyCheck(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, func(cfg *Config) { cfg.Schedule = StaticSchedule(upTo{c: c.Committee, last: 5}) })
	seg := extend(t, c, c.Root, c.RootQC, 8)
	for _, b := range seg.Blocks[5:] {
		if err := f.engine.HandleProposal("ahead", propose(t, c, b)); !errors.Is(err, ErrUnknownEpoch) || !errors.Is(err, committee.ErrUnknownView) {
			t.Fatalf("view %d: %v", b.View, err)
		}
	}
	if err := f.engine.HandleRange("ahead", seg.Blocks, seg.TipQC); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("range into an unknown epoch: %v", err)
	}
	if f.qcChecks() != 0 || f.engine.Sizes() != (Sizes{Tree: 1}) {
		t.Fatal("a block of an unknown epoch was checked or cached")
	}
	if got := f.rejected("unknown_epoch"); got != 4 {
		t.Fatalf("unknown_epoch count %v", got)
	}
	if _, total := f.engine.Records(); total != 0 {
		t.Fatal("a peer ahead of us was reported")
	}
	// The known part still works.
	if err := f.engine.HandleRange("up", seg.Blocks[:5], seg.Blocks[5].QC); err != nil {
		t.Fatal(err)
	}
	if f.engine.FinalizedHeight() != 4 {
		t.Fatalf("finalized %d", f.engine.FinalizedHeight())
	}
}

// Uncertified blocks never exceed the cache bound, nor do pending QCs.
func TestUncertifiedCacheIsBounded(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, func(cfg *Config) { cfg.MaxUncertified = 8; cfg.MaxPendingQCs = 5 })
	seg := extend(t, c, c.Root, c.RootQC, 60)
	// Every other block: each certifies a block never sent, so nothing
	// connects and every sent block stays uncertified.
	for i := 1; i < len(seg.Blocks); i += 2 {
		if err := f.engine.HandleProposal("up", propose(t, c, seg.Blocks[i])); err != nil {
			t.Fatal(err)
		}
		if sz := f.engine.Sizes(); sz.Uncertified > 8 || sz.PendingQCs > 5 {
			t.Fatalf("bounds exceeded: %+v", sz)
		}
	}
	if got := counterValue(f.engine.m.evicted); got != 30-8 {
		t.Fatalf("evicted %v", got)
	}
	// The cache keeps the newest views; a range brings the rest.
	if err := f.engine.HandleRange("up", seg.Blocks[:59], seg.Blocks[59].QC); err != nil {
		t.Fatal(err)
	}
	if f.engine.FinalizedHeight() != 58 || f.engine.Sizes().Uncertified != 1 {
		t.Fatalf("finalized %d, sizes %+v", f.engine.FinalizedHeight(), f.engine.Sizes())
	}
	if f.store.Has(seg.Blocks[59].ID()) {
		t.Fatal("uncertified block stored")
	}
}

func TestPayloadBytesBoundTheCache(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, func(cfg *Config) { cfg.MaxUncertifiedBytes = 3000 })
	seg, err := c.Extend(c.Root, c.RootQC, 20, func(int) []byte { return make([]byte, 1000) })
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(seg.Blocks); i += 2 {
		if err := f.engine.HandleProposal("up", propose(t, c, seg.Blocks[i])); err != nil {
			t.Fatal(err)
		}
		if sz := f.engine.Sizes(); sz.UncertifiedBytes > 3000 {
			t.Fatalf("bytes bound exceeded: %+v", sz)
		}
	}
}

// Ranges validated in parallel land in any order; detached ranges wait
// (bounded) for their parents.
func TestParallelRangesOutOfOrder(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, func(cfg *Config) { cfg.Workers = 4 })
	f.engine.Start()
	seg := extend(t, c, c.Root, c.RootQC, 400)
	var ranges [][2]int
	for i := 0; i < len(seg.Blocks); i += 37 {
		ranges = append(ranges, [2]int{i, min(i+37, len(seg.Blocks))})
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(ranges), func(i, j int) { ranges[i], ranges[j] = ranges[j], ranges[i] })
	var wg sync.WaitGroup
	for _, r := range ranges {
		wg.Add(1)
		err := f.engine.Submit(context.Background(), Input{From: "up", Blocks: seg.Blocks[r[0]:r[1]], QC: seg.CertifyingQC(r[1] - 1),
			Done: func(err error) {
				if err != nil {
					t.Error(err)
				}
				wg.Done()
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := f.engine.FinalizedHeight(); got != 399 {
		t.Fatalf("finalized %d, want 399", got)
	}
	if sz := f.engine.Sizes(); sz.Detached != 0 {
		t.Fatalf("detached left: %+v", sz)
	}
	for i := 1; i < len(f.final); i++ {
		if f.final[i].Height != f.final[i-1].Height+1 {
			t.Fatal("finalized out of order")
		}
	}
}

func TestDetachedBlocksAreBounded(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, func(cfg *Config) { cfg.MaxDetached = 10 })
	seg := extend(t, c, c.Root, c.RootQC, 40)
	if err := f.engine.HandleRange("up", seg.Blocks[20:30], seg.CertifyingQC(29)); err != nil {
		t.Fatal(err)
	}
	// A range further ahead: lower views are kept, higher ones dropped.
	if err := f.engine.HandleRange("up", seg.Blocks[30:], seg.TipQC); err != nil {
		t.Fatal(err)
	}
	if sz := f.engine.Sizes(); sz.Detached != 10 {
		t.Fatalf("detached %d", sz.Detached)
	}
	if err := f.engine.HandleRange("up", seg.Blocks[:20], seg.CertifyingQC(19)); err != nil {
		t.Fatal(err)
	}
	if got := f.engine.FinalizedHeight(); got != 29 {
		t.Fatalf("finalized %d, want 29", got)
	}
}

// The Pebble store: a restarted engine resumes from what it stored.
func TestRestartFromPebble(t *testing.T) {
	c := newChain(t, crypto.Fast())
	dir := t.TempDir()
	seg := extend(t, c, c.Root, c.RootQC, 30)
	open := func() (*Engine, *storage.Pebble) {
		db, err := storage.OpenPebble(dir)
		if err != nil {
			t.Fatal(err)
		}
		st, err := NewPebbleStore(db, c.Root, c.RootQC)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Schedule: StaticSchedule(c.Committee), Scheme: c.Scheme, Root: c.Root, RootQC: c.RootQC, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		return e, db
	}
	e, db := open()
	if err := e.HandleRange("up", seg.Blocks[:20], seg.CertifyingQC(19)); err != nil {
		t.Fatal(err)
	}
	// Block 21 comes as a proposal: it certifies 20 (stored as the tip).
	if err := e.HandleProposal("up", propose(t, c, seg.Blocks[20])); err != nil {
		t.Fatal(err)
	}
	e.Stop()
	db.Close()

	e, db = open()
	defer db.Close()
	defer e.Stop()
	if got := e.FinalizedHeight(); got != 19 {
		t.Fatalf("restored finalized height %d, want 19", got)
	}
	if e.TipQC().BlockID != seg.Blocks[20].QC.BlockID {
		t.Fatal("tip QC not restored")
	}
	if err := e.HandleRange("up", seg.Blocks[20:], seg.TipQC); err != nil {
		t.Fatal(err)
	}
	if got := e.FinalizedHeight(); got != 29 {
		t.Fatalf("finalized %d, want 29", got)
	}
	b, err := db.FinalizedByHeight(29)
	if err != nil || b.ID() != seg.Blocks[28].ID() {
		t.Fatalf("height index: %v", err)
	}
}

// A store that fails stops the engine: it must not run ahead of its disk.
func TestStoreFailureStopsTheEngine(t *testing.T) {
	c := newChain(t, crypto.Fast())
	seg := extend(t, c, c.Root, c.RootQC, 5)
	e, err := New(Config{Schedule: StaticSchedule(c.Committee), Scheme: c.Scheme, Root: c.Root, RootQC: c.RootQC,
		Store: failingStore{NewMemoryStore(c.Root, c.RootQC)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.HandleRange("up", seg.Blocks, seg.TipQC); err == nil || e.Err() == nil {
		t.Fatal("store failure ignored")
	}
	if err := e.HandleRange("up", seg.Blocks, seg.TipQC); !errors.Is(err, ErrStopped) {
		t.Fatalf("after failure: %v", err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Done not closed")
	}
}

type failingStore struct{ *MemoryStore }

func (failingStore) Save(Update) error { return errors.New("disk on fire") }

// Live proposals ran ahead: the range's tip is already certified but
// detached (its ancestors unknown). The range must still be taken: its
// lower blocks are what connects the tip.
func TestRangeConnectsADetachedTip(t *testing.T) {
	c := newChain(t, crypto.Fast())
	f := newFixture(t, c, nil)
	seg := extend(t, c, c.Root, c.RootQC, 20)
	if err := f.engine.HandleRange("up", seg.Blocks[:8], seg.CertifyingQC(7)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{13, 14} { // proposals 14 and 15: 14 certified, parent unknown
		if err := f.engine.HandleProposal("up", propose(t, c, seg.Blocks[i])); err != nil {
			t.Fatal(err)
		}
	}
	if sz := f.engine.Sizes(); sz.Detached != 1 {
		t.Fatalf("sizes %+v", sz)
	}
	if err := f.engine.HandleRange("up", seg.Blocks[8:14], seg.CertifyingQC(13)); err != nil {
		t.Fatal(err)
	}
	if got := f.engine.FinalizedHeight(); got != 13 {
		t.Fatalf("finalized %d, want 13", got)
	}
	if err := f.engine.HandleRange("up", seg.Blocks[8:14], seg.CertifyingQC(13)); !errors.Is(err, ErrKnown) && !errors.Is(err, ErrStale) {
		t.Fatalf("a connected range again: %v", err)
	}
}

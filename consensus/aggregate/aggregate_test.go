package aggregate_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/aggregate"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
)

type fixture struct {
	t      testing.TB
	scheme crypto.Scheme
	keys   map[model.NodeID]crypto.PrivateKey
	com    *committee.Committee
	root   *model.Block
	rootQC *model.QC
	v      *verify.Verifier
}

func newFixture(t testing.TB, s crypto.Scheme, weights ...uint64) *fixture {
	t.Helper()
	f := &fixture{t: t, scheme: s, keys: make(map[model.NodeID]crypto.PrivateKey)}
	members := make([]committee.Member, len(weights))
	for i, w := range weights {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+200)
		key, err := s.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		f.keys[id] = key
		members[i] = committee.Member{ID: id, Weight: w, StakingKey: key.PublicKey(), Possession: mustPossession(key)}
	}
	var err error
	if f.com, err = committee.New(members, [32]byte{3}); err != nil {
		t.Fatal(err)
	}
	if f.root, err = model.NewRootBlock(testChain, 0, 0, 1000, nil); err != nil {
		t.Fatal(err)
	}
	if f.rootQC, err = model.NewRootQC(0, f.root.ID(), len(weights)); err != nil {
		t.Fatal(err)
	}
	f.v = verify.New(testChain, f.com, s, f.rootQC)
	return f
}

func (f *fixture) id(i int) model.NodeID { return f.com.Member(i).ID }

// byWeight returns the canonical index of the first member with weight w.
func (f *fixture) byWeight(w uint64) int {
	for i, m := range f.com.Members() {
		if m.Weight == w {
			return i
		}
	}
	f.t.Fatalf("no member of weight %d", w)
	return -1
}

func (f *fixture) sign(i int, d crypto.Domain, msg []byte) []byte {
	f.t.Helper()
	sig, err := f.keys[f.id(i)].Sign(d, msg)
	if err != nil {
		f.t.Fatal(err)
	}
	return sig
}

func (f *fixture) vote(view model.View, blockID model.Identifier, i int) *model.Vote {
	f.t.Helper()
	v, err := model.NewVote(view, blockID, f.id(i), f.sign(i, crypto.DomainVote, model.VoteMessage(testChain, view, blockID)))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.v.Vote(v); err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) qc(view model.View, blockID model.Identifier, idx ...int) *model.QC {
	f.t.Helper()
	a := aggregate.NewVotes(f.com, f.scheme)
	a.Prune(view)
	var qc *model.QC
	for _, i := range idx {
		q, _, err := a.Add(f.vote(view, blockID, i))
		if err != nil {
			f.t.Fatal(err)
		}
		if q != nil {
			qc = q
		}
	}
	if qc == nil {
		f.t.Fatal("no QC formed")
	}
	return qc
}

func (f *fixture) timeout(view model.View, qc *model.QC, tc *model.TC, i int) *model.TimeoutObject {
	f.t.Helper()
	to, err := model.NewTimeoutObject(view, qc, tc, f.id(i), f.sign(i, crypto.DomainTimeout, model.TimeoutMessage(testChain, view, qc.View)))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.v.Timeout(to); err != nil {
		f.t.Fatal(err)
	}
	return to
}

func blockID(b byte) model.Identifier { return model.Identifier{b, 0xbb} }

func TestVotesQCAtThreshold(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1) // supermajority 3
	a := aggregate.NewVotes(f.com, f.scheme)
	id := blockID(1)
	order := []int{2, 0, 3, 1}
	var qc *model.QC
	for n, i := range order {
		q, ev, err := a.Add(f.vote(5, id, i))
		if err != nil || ev != nil {
			t.Fatalf("vote %d: err %v evidence %v", n, err, ev)
		}
		switch {
		case n < 2 && q != nil:
			t.Fatalf("QC after %d votes, below supermajority", n+1)
		case n == 2 && q == nil:
			t.Fatal("no QC at supermajority")
		case n == 3 && q != nil:
			t.Fatal("second QC for the same view")
		}
		if q != nil {
			qc = q
		}
	}
	if qc.View != 5 || qc.BlockID != id {
		t.Fatalf("QC for (%d, %v)", qc.View, qc.BlockID)
	}
	if got := qc.Signers.Indices(); len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("QC signers %v, want the first three voters [0 2 3]", got)
	}
	if err := f.v.QC(qc); err != nil {
		t.Fatalf("aggregated QC does not verify: %v", err)
	}
}

func TestVotesQCVerifiesWithBLS(t *testing.T) {
	if testing.Short() {
		t.Skip("BLS")
	}
	f := newFixture(t, crypto.BLS(), 1, 1, 1, 1)
	qc := f.qc(7, blockID(7), 3, 1, 0)
	if err := f.v.QC(qc); err != nil {
		t.Fatalf("BLS QC does not verify: %v", err)
	}
}

func TestVotesWeighted(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 4, 1, 1, 1) // total 7, supermajority 5
	heavy := f.byWeight(4)
	var light []int
	for i := range 4 {
		if i != heavy {
			light = append(light, i)
		}
	}
	a := aggregate.NewVotes(f.com, f.scheme)
	id := blockID(2)
	for _, i := range light {
		if q, _, err := a.Add(f.vote(1, id, i)); q != nil || err != nil {
			t.Fatalf("three light votes (weight 3/7) formed a QC or failed: %v", err)
		}
	}
	q, _, err := a.Add(f.vote(1, id, heavy))
	if err != nil || q == nil {
		t.Fatalf("weight 7/7 formed no QC: %v", err)
	}
	if err := f.v.QC(q); err != nil {
		t.Fatal(err)
	}

	b := aggregate.NewVotes(f.com, f.scheme)
	if q, _, _ := b.Add(f.vote(1, id, heavy)); q != nil {
		t.Fatal("weight 4/7 formed a QC")
	}
	if q, _, _ := b.Add(f.vote(1, id, light[0])); q == nil {
		t.Fatal("weight 5/7 formed no QC")
	}
}

func TestVotesSplitNoQC(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	for i := range 4 {
		q, ev, err := a.Add(f.vote(3, blockID(byte(i%2)), i))
		if q != nil || ev != nil || err != nil {
			t.Fatalf("split vote %d: qc %v ev %v err %v", i, q, ev, err)
		}
	}
}

func TestVotesDoubleVote(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	first := f.vote(4, blockID(1), 0)
	second := f.vote(4, blockID(2), 0)
	if _, _, err := a.Add(first); err != nil {
		t.Fatal(err)
	}
	q, ev, err := a.Add(second)
	if err != nil || q != nil {
		t.Fatalf("second vote: qc %v err %v", q, err)
	}
	if ev == nil {
		t.Fatal("no evidence for a double vote")
	}
	if ev.Kind != model.DoubleVote || ev.Offender != f.id(0) || ev.View != 4 {
		t.Fatalf("evidence %v", ev)
	}
	if ev.Votes[0] != first || ev.Votes[1] != second {
		t.Fatal("evidence does not hold both votes, first first")
	}
	if ev.Proposals[0] != nil || ev.Timeouts[0] != nil {
		t.Fatal("evidence sets fields of other kinds")
	}
	// The equivocating vote is not counted for block 2: two more votes
	// for it reach only weight 2.
	for _, i := range []int{1, 2} {
		if q, _, _ := a.Add(f.vote(4, blockID(2), i)); q != nil {
			t.Fatal("equivocating vote counted towards a QC")
		}
	}
	// Re-sending the equivocation still yields evidence (it is not recorded).
	if _, ev, _ := a.Add(second); ev == nil {
		t.Fatal("repeated double vote gave no evidence")
	}
}

func TestVotesDuplicateIgnored(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	v := f.vote(2, blockID(1), 1)
	for range 5 {
		q, ev, err := a.Add(v)
		if q != nil || ev != nil || err != nil {
			t.Fatalf("duplicate: qc %v ev %v err %v", q, ev, err)
		}
	}
	if q, _, _ := a.Add(f.vote(2, blockID(1), 2)); q != nil {
		t.Fatal("duplicates counted: QC after two distinct voters")
	}
	q, _, _ := a.Add(f.vote(2, blockID(1), 3))
	if q == nil || q.Signers.Count() != 3 {
		t.Fatalf("QC %v after three distinct voters", q)
	}
	if err := f.v.QC(q); err != nil {
		t.Fatalf("QC built with duplicates offered does not verify: %v", err)
	}
}

func TestVotesNonMember(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	v, _ := model.NewVote(1, blockID(1), model.NodeID{0xee}, make([]byte, 32))
	if _, _, err := a.Add(v); !errors.Is(err, committee.ErrNotMember) {
		t.Fatalf("non-member vote: %v", err)
	}
}

func TestVotesWindow(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	check := func(view model.View, inside bool) {
		t.Helper()
		_, _, err := a.Add(f.vote(view, blockID(9), 0))
		if inside && err != nil {
			t.Fatalf("view %d inside the window rejected: %v", view, err)
		}
		if !inside && !errors.Is(err, aggregate.ErrOutsideWindow) {
			t.Fatalf("view %d outside the window: err %v", view, err)
		}
	}
	check(0, true)
	check(aggregate.ViewWindow-1, true)
	check(aggregate.ViewWindow, false)
	check(1<<40, false)

	a.Add(f.vote(10, blockID(1), 1))
	a.Add(f.vote(10, blockID(1), 2))
	a.Prune(10)
	check(9, false)
	check(10, true)
	check(10+aggregate.ViewWindow-1, true)
	check(10+aggregate.ViewWindow, false)
	a.Prune(5) // never moves back
	check(9, false)
	a.Prune(11)
	check(10, false)

	// Prune keeps the view at the window's bottom with its partial votes.
	b := aggregate.NewVotes(f.com, f.scheme)
	b.Add(f.vote(20, blockID(1), 0))
	b.Add(f.vote(20, blockID(1), 1))
	b.Prune(20) // 20 is still inside: kept
	if q, _, _ := b.Add(f.vote(20, blockID(1), 2)); q == nil {
		t.Fatal("Prune dropped a view at the window's bottom")
	}
}

func TestTimeoutsOneThirdAndTC(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1) // one-third 2, supermajority 3
	qc1 := f.qc(1, blockID(1), 0, 1, 2)
	qc2 := f.qc(2, blockID(2), 1, 2, 3)
	a := aggregate.NewTimeouts(f.com, f.scheme)

	// View 3; signers add in reverse committee order with different newest
	// QCs so the TC's order and newest QC are checked. Member 1's newest QC
	// is the root's, so it carries a TC for view 2 formed on the root QC.
	tc2root := f.tcFor(2, f.rootQC, f.tcFor(1, f.rootQC, nil))
	tos := []*model.TimeoutObject{
		f.timeout(3, qc1, f.tcFor(2, qc1, nil), 3),
		f.timeout(3, qc2, nil, 2),
		f.timeout(3, f.rootQC, tc2root, 1),
	}
	var tc *model.TC
	for n, to := range tos {
		res, err := a.Add(to)
		if err != nil {
			t.Fatalf("timeout %d: %v", n, err)
		}
		if res.Evidence != nil {
			t.Fatalf("timeout %d: unexpected evidence", n)
		}
		if res.OneThird != (n == 1) {
			t.Fatalf("timeout %d: OneThird %v", n, res.OneThird)
		}
		if (res.TC != nil) != (n == 2) {
			t.Fatalf("timeout %d: TC %v", n, res.TC)
		}
		tc = res.TC
	}
	if tc.View != 3 || tc.NewestQC != qc2 {
		t.Fatalf("TC view %d newest QC view %d, want 3 and 2", tc.View, tc.NewestQC.View)
	}
	if got := tc.Signers.Indices(); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("TC signers %v", got)
	}
	// Committee order: member 1 (root QC, 0), member 2 (QC 2), member 3 (QC 1).
	if v := tc.NewestQCViews; len(v) != 3 || v[0] != 0 || v[1] != 2 || v[2] != 1 {
		t.Fatalf("TC newest-QC views %v, want [0 2 1]", v)
	}
	if err := f.v.TC(tc); err != nil {
		t.Fatalf("aggregated TC does not verify: %v", err)
	}
	// A fourth timeout neither flags nor forms anything again.
	res, err := a.Add(f.timeout(3, qc2, nil, 0))
	if err != nil || res.OneThird || res.TC != nil || res.Evidence != nil {
		t.Fatalf("fourth timeout: %+v %v", res, err)
	}
}

// tcFor builds a TC for view from all members timing out with the given
// newest QC (and, when that is not for view-1, the TC for view-1).
func (f *fixture) tcFor(view model.View, qc *model.QC, lastTC *model.TC) *model.TC {
	f.t.Helper()
	a := aggregate.NewTimeouts(f.com, f.scheme)
	a.Prune(view)
	for i := range f.com.Size() {
		res, err := a.Add(f.timeout(view, qc, lastTC, i))
		if err != nil {
			f.t.Fatal(err)
		}
		if res.TC != nil {
			return res.TC
		}
	}
	f.t.Fatal("no TC formed")
	return nil
}

func TestTimeoutsWeighted(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 4) // total 7: one-third 3, supermajority 5
	heavy := f.byWeight(4)
	var light []int
	for i := range 4 {
		if i != heavy {
			light = append(light, i)
		}
	}
	a := aggregate.NewTimeouts(f.com, f.scheme)
	add := func(i int) aggregate.TimeoutResult {
		t.Helper()
		res, err := a.Add(f.timeout(1, f.rootQC, nil, i))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := add(light[0]); r.OneThird || r.TC != nil {
		t.Fatal("weight 1/7 flagged")
	}
	if r := add(light[1]); r.OneThird || r.TC != nil {
		t.Fatal("weight 2/7 crossed one third")
	}
	r := add(heavy) // weight 6/7: both thresholds at once
	if !r.OneThird || r.TC == nil {
		t.Fatalf("weight 6/7: OneThird %v TC %v", r.OneThird, r.TC)
	}
	if err := f.v.TC(r.TC); err != nil {
		t.Fatal(err)
	}
	if r := add(light[2]); r.OneThird || r.TC != nil {
		t.Fatal("flags repeated")
	}
}

func TestTimeoutsDouble(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	qc1 := f.qc(1, blockID(1), 0, 1, 2)
	a := aggregate.NewTimeouts(f.com, f.scheme)
	first := f.timeout(2, qc1, nil, 0)
	if _, err := a.Add(first); err != nil {
		t.Fatal(err)
	}
	// A re-broadcast (same content) is ignored and not counted twice.
	for range 3 {
		res, err := a.Add(first)
		if err != nil || res.Evidence != nil || res.OneThird || res.TC != nil {
			t.Fatalf("re-broadcast: %+v %v", res, err)
		}
	}
	tc1 := f.tcFor(1, f.rootQC, nil)
	second := f.timeout(2, f.rootQC, tc1, 0)
	res, err := a.Add(second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evidence == nil || res.Evidence.Kind != model.DoubleTimeout || res.Evidence.Offender != f.id(0) ||
		res.Evidence.View != 2 || res.Evidence.Timeouts[0] != first || res.Evidence.Timeouts[1] != second {
		t.Fatalf("double timeout evidence %+v", res.Evidence)
	}
	if res.OneThird || res.TC != nil {
		t.Fatal("equivocating timeout counted")
	}
	// Only one other distinct signer is needed for one third (2 of 4).
	if res, _ := a.Add(f.timeout(2, qc1, nil, 1)); !res.OneThird {
		t.Fatal("one third not reached by two distinct signers")
	}
}

func TestTimeoutsWindowAndMembership(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 1)
	a := aggregate.NewTimeouts(f.com, f.scheme)
	qc := func(v model.View) *model.QC { return f.qc(v, blockID(byte(v)), 0, 1, 2) }
	if _, err := a.Add(f.timeout(aggregate.ViewWindow, qc(aggregate.ViewWindow-1), nil, 0)); !errors.Is(err, aggregate.ErrOutsideWindow) {
		t.Fatalf("timeout at lowest+ViewWindow: %v", err)
	}
	if _, err := a.Add(f.timeout(aggregate.ViewWindow-1, qc(aggregate.ViewWindow-2), nil, 0)); err != nil {
		t.Fatalf("timeout at lowest+ViewWindow-1: %v", err)
	}
	a.Prune(30)
	if _, err := a.Add(f.timeout(29, qc(28), nil, 0)); !errors.Is(err, aggregate.ErrOutsideWindow) {
		t.Fatalf("timeout below lowest: %v", err)
	}
	if _, err := a.Add(f.timeout(30, qc(29), nil, 0)); err != nil {
		t.Fatalf("timeout at lowest: %v", err)
	}
	if _, err := a.Add(f.timeout(30+aggregate.ViewWindow, qc(29+aggregate.ViewWindow), nil, 0)); !errors.Is(err, aggregate.ErrOutsideWindow) {
		t.Fatalf("timeout at lowest+ViewWindow: %v", err)
	}
	a.Prune(3)
	if _, err := a.Add(f.timeout(29, qc(28), nil, 0)); !errors.Is(err, aggregate.ErrOutsideWindow) {
		t.Fatalf("Prune moved the window back: %v", err)
	}
	stranger, _ := model.NewTimeoutObject(31, qc(30), nil, model.NodeID{0xee}, make([]byte, 32))
	if _, err := a.Add(stranger); !errors.Is(err, committee.ErrNotMember) {
		t.Fatalf("non-member timeout: %v", err)
	}
}

func TestTimeoutsTCVerifiesWithBLS(t *testing.T) {
	if testing.Short() {
		t.Skip("BLS")
	}
	f := newFixture(t, crypto.BLS(), 1, 1, 1, 1)
	qc1 := f.qc(1, blockID(1), 0, 1, 2)
	a := aggregate.NewTimeouts(f.com, f.scheme)
	var tc *model.TC
	tos := []*model.TimeoutObject{f.timeout(2, qc1, nil, 3), f.timeout(2, f.rootQC, f.tcFor(1, f.rootQC, nil), 0), f.timeout(2, qc1, nil, 1)}
	for _, to := range tos {
		res, err := a.Add(to)
		if err != nil {
			t.Fatal(err)
		}
		if res.TC != nil {
			tc = res.TC
		}
	}
	if tc == nil {
		t.Fatal("no TC")
	}
	if err := f.v.TC(tc); err != nil {
		t.Fatalf("BLS TC with two distinct newest-QC views does not verify: %v", err)
	}
}

// mustPossession returns the key's proof of possession, which committees require.
func mustPossession(key crypto.PrivateKey) []byte {
	pop, err := key.ProvePossession()
	if err != nil {
		panic(err)
	}
	return pop
}

// Votes arriving after the QC formed are folded into a fuller QC for the
// proposal (leader reputation counts its signers); it verifies like any QC.
func TestFullestFoldsLateVotes(t *testing.T) {
	f := newFixture(t, crypto.BLS(), 1, 1, 1, 1)
	a := aggregate.NewVotes(f.com, f.scheme)
	block := crypto.Sum([]byte("block"))
	a.Prune(5)
	if q, err := a.Fullest(5, block); q != nil || err != nil {
		t.Fatalf("no QC yet: got %v, %v", q, err)
	}
	var formed *model.QC
	for i := 0; i < 3; i++ {
		q, _, err := a.Add(f.vote(5, block, i))
		if err != nil {
			t.Fatal(err)
		}
		if q != nil {
			formed = q
		}
	}
	if formed == nil || formed.Signers.Count() != 3 {
		t.Fatal("QC of three did not form")
	}
	if q, err := a.Fullest(5, block); q != nil || err != nil {
		t.Fatalf("no late vote yet: got %v, %v", q, err)
	}
	if q, _, err := a.Add(f.vote(5, block, 3)); q != nil || err != nil {
		t.Fatalf("a late vote formed a second QC: %v, %v", q, err)
	}
	full, err := a.Fullest(5, block)
	if err != nil || full == nil || full.Signers.Count() != 4 {
		t.Fatalf("fullest QC: %v, %v", full, err)
	}
	if err := f.v.QC(full); err != nil {
		t.Fatalf("the fuller QC does not verify: %v", err)
	}
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")

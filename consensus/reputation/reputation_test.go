package reputation_test

import (
	"encoding/binary"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/crypto"
)

// newCommittee builds n members with the given weights (1 each if none).
func newCommittee(t testing.TB, n int, weights ...uint64) *committee.Committee {
	t.Helper()
	ms := make([]committee.Member, n)
	for i := range ms {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+1)
		k, err := crypto.Fast().KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := k.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		w := uint64(1)
		if i < len(weights) {
			w = weights[i]
		}
		ms[i] = committee.Member{ID: crypto.Sum(k.PublicKey().Bytes()), Weight: w, StakingKey: k.PublicKey(), Possession: pop}
	}
	c, err := committee.New(ms, crypto.Sum([]byte("reputation test seed")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chain builds blocks on a root at view 0. Each step names the view, the
// proposer's canonical index and the indices that signed the QC the block
// carries (for its parent).
type chain struct {
	t      testing.TB
	com    *committee.Committee
	blocks map[model.Identifier]*model.Block
	byView map[model.View]*model.Block
	tip    *model.Block
}

func newChain(t testing.TB, com *committee.Committee) *chain {
	root, err := model.NewRootBlock(testChain, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &chain{t: t, com: com, blocks: map[model.Identifier]*model.Block{root.ID(): root},
		byView: map[model.View]*model.Block{0: root}, tip: root}
	return c
}

func (c *chain) Block(id model.Identifier) *model.Block { return c.blocks[id] }

func (c *chain) signers(idx []int) model.SignerSet {
	s, err := model.NewSignerSet(c.com.Size())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, i := range idx {
		s.Set(i)
	}
	return s
}

func (c *chain) extend(view model.View, proposer int, signers ...int) *model.Block {
	c.t.Helper()
	parent := c.tip
	qc := &model.QC{View: parent.View, BlockID: parent.ID(), Signers: c.signers(signers), Signature: []byte{1}}
	h := model.Header{ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc,
		ProposerID: c.com.Member(proposer).ID, PayloadHash: model.PayloadHash(nil)}
	if parent.View+1 != view {
		h.TC = &model.TC{View: view - 1, NewestQC: qc, Signers: c.signers(signers), Signature: []byte{1}}
	}
	b, err := model.NewBlock(h, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.blocks[b.ID()] = b
	c.byView[view] = b
	c.tip = b
	return b
}

// healthy extends the chain through view last with the plain leader of
// each view proposing and the given members signing every QC.
func (c *chain) healthy(last model.View, signers ...int) {
	for v := c.tip.View + 1; v <= last; v++ {
		i, _ := c.com.Index(c.com.Leader(v))
		c.extend(v, i, signers...)
	}
}

func leader(t *testing.T, com *committee.Committee, p reputation.Params, v model.View, parent *model.Block, c *chain) model.NodeID {
	t.Helper()
	id, err := reputation.Leader(com, p, v, parent, c)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDisabledAndHealthyChainsKeepThePlainSchedule(t *testing.T) {
	com := newCommittee(t, 4)
	c := newChain(t, com)
	c.healthy(200, 0, 1, 2, 3)
	p := reputation.Default()
	for v := model.View(1); v <= 200; v++ {
		parent := c.tip
		for b := c.tip; b != nil && b.View >= v; b = c.Block(b.ParentID) {
			parent = c.Block(b.ParentID)
		}
		if got := leader(t, com, reputation.Params{}, v, parent, c); got != com.Leader(v) {
			t.Fatalf("view %d: disabled reputation gave %v, plain draw %v", v, got, com.Leader(v))
		}
		if got := leader(t, com, p, v, parent, c); got != com.Leader(v) {
			t.Fatalf("view %d: every member active, but the leader %v is not the plain draw %v", v, got, com.Leader(v))
		}
	}
}

// A member that stopped proposing and voting leads rarely once its last
// activity leaves the window, and never two views of one gap in a row.
func TestCrashedMemberLosesTheLead(t *testing.T) {
	com := newCommittee(t, 4)
	p := reputation.Default()
	c := newChain(t, com)
	c.healthy(50, 0, 1, 2, 3)
	dead := 3
	// From view 51 on, member 3 is gone: the others propose its views
	// after a timeout and it signs no QC.
	v := model.View(51)
	for c.tip.View < 2000 {
		id := leader(t, com, p, v, c.tip, c)
		i, _ := com.Index(id)
		if i == dead {
			v++ // its view fails: the next block carries a TC
			continue
		}
		c.extend(v, i, 0, 1, 2)
		v++
	}
	var led, views int
	for u := model.View(51 + p.Window + p.Lag); u < 2000; u++ {
		var parent *model.Block
		for b := c.tip; b != nil; b = c.Block(b.ParentID) {
			if b.View < u {
				parent = b
				break
			}
		}
		views++
		if id := leader(t, com, p, u, parent, c); id == com.Member(dead).ID {
			led++
			// The next view extends the same parent: its gap marks the
			// dead member, so it cannot lead again.
			if next := leader(t, com, p, u+1, parent, c); next == id {
				t.Fatalf("view %d: the member that failed view %d leads again", u+1, u)
			}
		}
	}
	// Its share is about 1/3000 with factor 1000 among four equal members
	// (the plain schedule would give it a quarter): over ~1950 views a
	// handful at most.
	if led > 10 {
		t.Fatalf("crashed member led %d of %d views: want about 1/3000", led, views)
	}
}

// Activity counts for view u only inside [u−Lag−Window, u−Lag): the
// proposer that aggregated the last QCs cannot choose the next leader
// through its signers, and old activity expires.
func TestLagAndWindowBoundActivity(t *testing.T) {
	com := newCommittee(t, 4)
	p := reputation.Params{Window: 10, Lag: 2, ActiveFactor: 10}
	// Two chains that differ only in who signed the QC for view 40: member
	// 3 (its only activity) or member 2. Members 0..2 are active throughout.
	build := func(last int) *chain {
		c := newChain(t, com)
		for v := model.View(1); v <= 40; v++ {
			c.extend(v, int(v%3), 0, 1, 2)
		}
		c.extend(41, 0, 0, 1, last)
		return c
	}
	with, without := build(3), build(2)
	three := com.Member(3).ID
	for u := model.View(42); u < 2000; u++ {
		a := leader(t, com, p, u, with.tip, with)
		b := leader(t, com, p, u, without.tip, without)
		// The draw for u reads activity in [u−12, u−2), and so do the
		// draws for the gap views before it that it marks (the 16 views
		// before u): the vote at 40 may matter up to view 52+16.
		inWindow := 40 < u-2 && 40+12+reputation.GapViews >= u
		if !inWindow && a != b {
			t.Fatalf("view %d: a vote at view 40, outside the windows of u and its gap, changed the leader (%v vs %v)", u, a, b)
		}
	}
	// Inside the window the vote counts. Measured on chains that go on
	// (members 0..2 proposing and voting) so that view u's parent is u−1:
	// a gap before u would mark suspects and muddle the comparison. With
	// the vote all four are active (plain stakes) for views 43..52; without
	// it member 3 is inactive and weighs a tenth of the others. Over chains
	// shifted by many offsets (the draws differ by view) member 3 leads
	// more with it.
	var ledWith, ledWithout, changed int
	for off := model.View(0); off < 100; off++ {
		build := func(last int) *chain {
			c := newChain(t, com)
			for v := model.View(1); v <= 40+off; v++ {
				c.extend(v, int(v%3), 0, 1, 2)
			}
			c.extend(41+off, 0, 0, 1, last)
			for v := 42 + off; v <= 60+off; v++ {
				c.extend(v, int(v%3), 0, 1, 2)
			}
			return c
		}
		with, without := build(3), build(2)
		for u := 43 + off; u <= 52+off; u++ {
			a := leader(t, com, p, u, with.byView[u-1], with)
			b := leader(t, com, p, u, without.byView[u-1], without)
			if a == three {
				ledWith++
			}
			if b == three {
				ledWithout++
			}
			if a != b {
				changed++
			}
		}
	}
	if ledWith <= 2*ledWithout {
		t.Fatalf("member 3 led %d views with a recent vote, %d without", ledWith, ledWithout)
	}
	if changed == 0 {
		t.Fatal("the vote inside the window changed no leader")
	}
}

// The walk stops at another epoch's committee and at blocks it cannot find.
type twoEpochs struct {
	a, b  *committee.Committee
	split model.View
}

func (s twoEpochs) CommitteeAt(v model.View) (*committee.Committee, error) {
	if v < s.split {
		return s.a, nil
	}
	return s.b, nil
}

func TestHistoryOfAnotherEpochIsIgnored(t *testing.T) {
	a := newCommittee(t, 4)
	b := newCommittee(t, 4, 2, 2, 2, 2) // same keys, another committee
	p := reputation.Default()
	c := newChain(t, a)
	// Epoch A: member 3 silent. Epoch B starts at view 100.
	for v := model.View(1); v < 100; v++ {
		c.extend(v, int(v%3), 0, 1, 2)
	}
	sched := twoEpochs{a: a, b: b, split: 100}
	// The first view of epoch B sees no history of its own: plain draw,
	// although member 3 was inactive throughout epoch A.
	got, err := reputation.Leader(sched, p, 100, c.tip, c)
	if err != nil {
		t.Fatal(err)
	}
	if got != b.Leader(100) {
		t.Fatal("view 100: history of the previous epoch was counted")
	}
	// Within epoch A the same history does count: views the plain schedule
	// gives member 3 go to others (each view extending the block before it).
	var plain, kept int
	for b := c.tip; b.View > 20; b = c.Block(b.ParentID) {
		v := b.View
		parent := c.Block(b.ParentID)
		if a.Leader(v) != a.Member(3).ID {
			continue
		}
		plain++
		if id, _ := reputation.Leader(a, p, v, parent, c); id == a.Member(3).ID {
			kept++
		}
	}
	if plain == 0 || kept > 0 {
		t.Fatalf("inactive member kept %d of the %d views the plain schedule gives it", kept, plain)
	}
	// A missing ancestor ends the walk without error.
	delete(c.blocks, c.tip.ParentID)
	if _, err := reputation.Leader(a, p, c.tip.View+1, c.tip, c); err != nil {
		t.Fatal(err)
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		p  reputation.Params
		ok bool
	}{
		{reputation.Params{}, true},
		{reputation.Default(), true},
		{reputation.Params{Lag: 2}, false},
		{reputation.Params{Window: 10, Lag: 1, ActiveFactor: 10}, false},
		{reputation.Params{Window: 10, Lag: 2, ActiveFactor: 1}, false},
		{reputation.Params{Window: 10, Lag: 2, ActiveFactor: reputation.MaxActiveFactor + 1}, false},
		{reputation.Params{Window: 5000, Lag: 2, ActiveFactor: 10}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}

func TestLeaderWeightedMatchesLeaderWithStakes(t *testing.T) {
	com := newCommittee(t, 7, 5, 1, 9, 3, 3, 12, 2)
	w := make([]uint64, com.Size())
	for i := range w {
		w[i] = com.Member(i).Weight
	}
	for v := model.View(0); v < 5000; v++ {
		if com.LeaderWeighted(v, w) != com.Leader(v) {
			t.Fatalf("view %d: weighted draw with the stakes differs from Leader", v)
		}
	}
	// A zero weight never leads.
	w[2] = 0
	for v := model.View(0); v < 5000; v++ {
		if com.LeaderWeighted(v, w) == com.Member(2).ID {
			t.Fatalf("view %d: a member of weight 0 leads", v)
		}
	}
}

// Views between the parent's and v failed on this chain, each either
// because its leader was down or because the leader that was to aggregate
// the votes for its block was. Both are passed over: the leader of the
// second view of a gap is neither the first view's leader nor the
// aggregator its block's voters addressed (the leader of the second view
// for that block), and no member leads two views of a gap in a row.
func TestGapSuspectsArePassedOver(t *testing.T) {
	com := newCommittee(t, 7)
	p := reputation.Default()
	for start := model.View(0); start < 200; start++ {
		c := newChain(t, com)
		c.healthy(60+start, 0, 1, 2, 3, 4, 5, 6)
		parent := c.tip
		first := leader(t, com, p, parent.View+1, parent, c)
		fi, _ := com.Index(first)
		child := c.extend(parent.View+1, fi, 0, 1, 2, 3, 4, 5, 6)
		aggregator := leader(t, com, p, parent.View+2, child, c)
		second := leader(t, com, p, parent.View+2, parent, c)
		if second == first || second == aggregator {
			t.Fatalf("parent at view %d: %v leads view %d after the view before failed with %v leading and %v to aggregate",
				parent.View, second, parent.View+2, first, aggregator)
		}
		prev := second
		for v := parent.View + 3; v <= parent.View+8; v++ {
			id := leader(t, com, p, v, parent, c)
			if id == prev {
				t.Fatalf("parent at view %d: %v leads views %d and %d of one gap", parent.View, id, v-1, v)
			}
			prev = id
		}
	}
}

// A failed view's suspects are told apart afterwards: the one that signs
// or proposes again was up. With one member down, a view it was to
// aggregate fails with a live leader; once that leader votes again it
// leads its share, while the dead member stays excluded for the window.
func TestActiveSuspectIsCleared(t *testing.T) {
	com := newCommittee(t, 7)
	p := reputation.Default()
	const dead = 6
	live := []int{0, 1, 2, 3, 4, 5}
	var clearedLeads, deadLeads, cases int
	for start := model.View(0); start < 400 && cases < 40; start++ {
		c := newChain(t, com)
		c.healthy(100+start, live...)
		parent := c.tip
		l := leader(t, com, p, parent.View+1, parent, c)
		li, _ := com.Index(l)
		child := c.extend(parent.View+1, li, live...)
		if agg := leader(t, com, p, parent.View+2, child, c); agg != com.Member(dead).ID || li == dead {
			continue // only views whose live leader's block was to be aggregated by the dead member
		}
		cases++
		// The view failed; the next block ends the gap (its leader is
		// live), and the chain goes on with the live members voting.
		v := parent.View + 2
		c.tip = parent
		next := leader(t, com, p, v, parent, c)
		ni, _ := com.Index(next)
		if ni == dead || ni == li {
			t.Fatalf("view %d: suspect %d leads the view after the failure", v, ni)
		}
		c.extend(v, ni, live...)
		for w := v + 1; w <= v+4; w++ {
			id := leader(t, com, p, w, c.tip, c)
			i, _ := com.Index(id)
			c.extend(w, i, live...)
		}
		// Five views on, within the window: the leader that proposed the
		// failed view voted since (its QC signatures are on the chain).
		for u := v + 5; u < v+20; u++ { // the blame lasts to v−1+Window = v+23
			id := leader(t, com, p, u, c.tip, c)
			switch id {
			case com.Member(dead).ID:
				deadLeads++
			case l:
				clearedLeads++
			}
			i, _ := com.Index(id)
			c.extend(u, i, live...)
		}
	}
	if cases < 10 {
		t.Fatalf("only %d cases of a failed view with a dead aggregator", cases)
	}
	if deadLeads != 0 {
		t.Fatalf("the dead member led %d views within the window after its failure", deadLeads)
	}
	if clearedLeads == 0 {
		t.Fatal("the live leader of the failed view never led again within the window: not cleared")
	}
}

// Stakes near the committee maximum with the largest factor neither
// overflow nor lose the preference for active members.
func TestHugeStakesDoNotOverflow(t *testing.T) {
	big := uint64(1) << 58
	com := newCommittee(t, 4, big, big, big, big-1)
	p := reputation.Params{Window: 10, Lag: 2, ActiveFactor: reputation.MaxActiveFactor}
	c := newChain(t, com)
	for v := model.View(1); v <= 300; v++ {
		c.extend(v, int(v%3), 0, 1, 2)
	}
	led := 0
	for b := c.tip; b.View > 20; b = c.Block(b.ParentID) {
		if leader(t, com, p, b.View, c.Block(b.ParentID), c) == com.Member(3).ID {
			led++
		}
	}
	if led > 2 {
		t.Fatalf("inactive member with a quarter of the stake led %d of 280 views", led)
	}
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")

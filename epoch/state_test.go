package epoch

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// threshold is the first view at which a block is too late to settle the
// transition out of an epoch ending at final.
func threshold(final model.View) model.View { return final - testSafetyViews }

func finalView(t testing.TB, s *State) model.View {
	t.Helper()
	return s.Schedule().Last().FinalView
}

func TestGenesis(t *testing.T) {
	s := genesisState(t)
	sch := s.Schedule()
	if len(sch.Epochs()) != 1 {
		t.Fatalf("genesis schedule has %d epochs", len(sch.Epochs()))
	}
	e := sch.Last()
	if e.Counter != 0 || e.FirstView != 0 || e.FinalView != testEpochViews || e.Seed != testSeed {
		t.Fatalf("genesis epoch %d views %d..%d, want 0 views 0..%d", e.Counter, e.FirstView, e.FinalView, testEpochViews)
	}
	for _, v := range []model.View{0, 1, testEpochViews / 2, testEpochViews} {
		if got, err := sch.EpochAt(v); err != nil || got != e {
			t.Fatalf("EpochAt(%d) = %v, %v", v, got, err)
		}
	}
	if _, err := sch.CommitteeAt(testEpochViews + 1); !errors.Is(err, committee.ErrUnknownView) {
		t.Fatalf("CommitteeAt(%d): %v, want unknown view", testEpochViews+1, err)
	}
	if s.Pending() != nil {
		t.Fatal("genesis has a pending setup")
	}
	if s.Params().EpochViews != testEpochViews || s.Params().Chain != testChain {
		t.Fatal("Params not kept")
	}
	members := memberSet(identities(t, crypto.Fast(), 0, 4))
	for v := model.View(0); v <= testEpochViews; v++ {
		if !members[e.Committee().Leader(v)] {
			t.Fatalf("leader of view %d is not a genesis member", v)
		}
	}

	bad := testParams(crypto.Fast())
	bad.SafetyViews = 0
	if _, err := Genesis(bad, identities(t, crypto.Fast(), 0, 4), testSeed, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Genesis with invalid params: %v", err)
	}
	if _, err := Genesis(testParams(crypto.Fast()), nil, testSeed, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Genesis without members: %v", err)
	}
	ids := identities(t, crypto.Fast(), 0, 4)
	ids[0].Possession, ids[1].Possession = ids[1].Possession, ids[0].Possession
	if _, err := Genesis(testParams(crypto.Fast()), ids, testSeed, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Genesis with swapped possession proofs: %v", err)
	}
}

func TestSetupThenCommit(t *testing.T) {
	s := genesisState(t)
	before := s.Schedule()
	sp := successor(t, s)
	if sp.Counter != 1 || sp.FirstView != testEpochViews+1 {
		t.Fatalf("successor is epoch %d from view %d", sp.Counter, sp.FirstView)
	}

	out := mustAccept(t, s, 5, signed(sp))
	if out.Changed() || out.Extended || out.Committed != nil {
		t.Fatalf("a setup alone changed the schedule: %+v", out)
	}
	if p := s.Pending(); p == nil || p.ID() != sp.ID() {
		t.Fatalf("pending = %v, want the setup", p)
	}
	if s.Schedule().Last().Counter != 0 {
		t.Fatal("a setup alone scheduled an epoch")
	}

	last := threshold(testEpochViews) - 1 // the last view still in time
	out = mustAccept(t, s, last, commitOf(sp))
	if !out.Changed() || out.Extended || out.Committed == nil {
		t.Fatalf("commit outcome %+v", out)
	}
	if out.Committed.ID() != sp.ID() || out.Committed != s.Schedule().Last() {
		t.Fatal("Outcome.Committed is not the committed spec / newest epoch")
	}
	if s.Pending() != nil {
		t.Fatal("pending setup survives its commit")
	}

	sch := s.Schedule()
	if n := len(sch.Epochs()); n != 2 {
		t.Fatalf("schedule has %d epochs, want 2", n)
	}
	e0, e1 := sch.Epochs()[0], sch.Epochs()[1]
	if e0.FinalView != testEpochViews || e1.FirstView != e0.FinalView+1 || e1.FinalView != sp.FinalView || e1.Seed != sp.Seed {
		t.Fatalf("epochs %d..%d then %d..%d", e0.FirstView, e0.FinalView, e1.FirstView, e1.FinalView)
	}
	for v, want := range map[model.View]uint64{0: 0, testEpochViews: 0, testEpochViews + 1: 1, sp.FinalView: 1} {
		if e, err := sch.EpochAt(v); err != nil || e.Counter != want {
			t.Fatalf("EpochAt(%d) = %v, %v; want epoch %d", v, e, err, want)
		}
	}
	if _, err := sch.EpochAt(sp.FinalView + 1); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("EpochAt past epoch 1: %v", err)
	}

	// Leaders of epoch 1's views come from a committee built independently
	// from the setup's identities and seed.
	want := independentCommittee(t, sp)
	newMembers, oldMembers := memberSet(sp.Identities), memberSet(identities(t, crypto.Fast(), 0, 4))
	for v := sp.FirstView; v <= sp.FinalView; v++ {
		c, err := sch.CommitteeAt(v)
		if err != nil {
			t.Fatal(err)
		}
		l := c.Leader(v)
		if l != want.Leader(v) || !newMembers[l] || oldMembers[l] {
			t.Fatalf("leader of view %d is %x, want %x from epoch 1's committee", v, l, want.Leader(v))
		}
	}
	for v := model.View(0); v <= testEpochViews; v++ {
		c, _ := sch.CommitteeAt(v)
		if !oldMembers[c.Leader(v)] {
			t.Fatalf("view %d of epoch 0 led by a non-member of epoch 0", v)
		}
	}
	// The seed matters: the same members with epoch 0's seed would lead
	// differently somewhere.
	sp0 := sp
	sp0.Seed = testSeed
	other := independentCommittee(t, sp0)
	same := true
	for v := sp.FirstView; v <= sp.FinalView && same; v++ {
		same = other.Leader(v) == want.Leader(v)
	}
	if same {
		t.Fatal("epoch 1's leaders do not depend on its seed")
	}

	// The snapshot taken before the commit did not change.
	if len(before.Epochs()) != 1 || before.Last().FinalView != testEpochViews {
		t.Fatal("an old schedule snapshot changed")
	}
	if _, err := before.EpochAt(testEpochViews + 1); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatal("an old schedule snapshot learned epoch 1")
	}

	// Blocks up to the end of epoch 0 no longer extend anything.
	for v := last + 1; v <= testEpochViews; v++ {
		if out := apply(t, s, v); out.Extended {
			t.Fatalf("block at view %d extended epoch 0 after epoch 1 was committed", v)
		}
	}
	if finalView(t, s) != sp.FinalView {
		t.Fatal("epoch 1 changed")
	}
}

func independentCommittee(t testing.TB, sp Spec) *committee.Committee {
	t.Helper()
	ms := make([]committee.Member, len(sp.Identities))
	for i, m := range sp.Identities {
		pk, err := crypto.Fast().DecodePublicKey(m.StakingKey)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = committee.Member{ID: crypto.Sum(m.StakingKey), Weight: m.Weight, StakingKey: pk, Possession: m.Possession}
	}
	c, err := committee.New(ms, sp.Seed)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSetupAndCommitInOneBlock(t *testing.T) {
	s := genesisState(t)
	sp := successor(t, s)
	out := mustAccept(t, s, 42, signed(sp), commitOf(sp))
	if out.Committed == nil || out.Committed.Counter != 1 {
		t.Fatalf("outcome %+v", out)
	}
	// The commit before its setup in one block is rejected; the setup then
	// stays pending.
	s = genesisState(t)
	out = apply(t, s, 42, commitOf(sp), signed(sp))
	if len(out.Rejected) != 1 || out.Rejected[0].Event.Kind != KindCommit || out.Committed != nil {
		t.Fatalf("commit before setup: %+v", out)
	}
	if s.Pending() == nil {
		t.Fatal("setup after a rejected commit is not pending")
	}
}

func TestShortestSetupAccepted(t *testing.T) {
	s := genesisState(t)
	p := s.Params()
	first := model.View(testEpochViews + 1)
	sp := nextSpec(t, 1, first, first+model.View(p.MinEpochViews())-1)
	mustAccept(t, s, 1, signed(sp), commitOf(sp))
	if finalView(t, s) != sp.FinalView {
		t.Fatal("shortest epoch not scheduled")
	}
	// Its own successor can still be set up in time: in epoch 1 before its
	// threshold.
	next := successor(t, s)
	v := threshold(sp.FinalView) - 1
	if v < first {
		t.Fatalf("epoch of %d views leaves no time to set up its successor", p.MinEpochViews())
	}
	apply(t, s, first)
	mustAccept(t, s, v, signed(next), commitOf(next))
}

func TestSetupRejected(t *testing.T) {
	base := func(t *testing.T) Spec { return nextSpec(t, 1, testEpochViews+1, 2*testEpochViews) }
	tests := []struct {
		name  string
		event func(t *testing.T) *Event
		want  error
	}{
		{"counter too high", func(t *testing.T) *Event { sp := base(t); sp.Counter = 2; return signed(sp) }, ErrRejected},
		{"counter of the current epoch", func(t *testing.T) *Event { sp := base(t); sp.Counter = 0; return signed(sp) }, ErrRejected},
		{"first view overlaps", func(t *testing.T) *Event { sp := base(t); sp.FirstView = testEpochViews; return signed(sp) }, ErrRejected},
		{"first view leaves a gap", func(t *testing.T) *Event { sp := base(t); sp.FirstView = testEpochViews + 2; return signed(sp) }, ErrRejected},
		{"first view zero", func(t *testing.T) *Event { sp := base(t); sp.FirstView = 0; return signed(sp) }, ErrRejected},
		{"too short", func(t *testing.T) *Event {
			sp := base(t)
			sp.FinalView = sp.FirstView + 2*testSafetyViews - 1 // 2S views, minimum 2S+1
			return signed(sp)
		}, ErrRejected},
		{"one view", func(t *testing.T) *Event { sp := base(t); sp.FinalView = sp.FirstView; return signed(sp) }, ErrRejected},
		{"unauthorised", func(t *testing.T) *Event { return NewSetup(testChain, base(t), govKey(5)) }, ErrRejected},
		{"signed for another chain", func(t *testing.T) *Event { return NewSetup(otherChain, base(t), govKey(0)) }, ErrInvalid},
		{"possession proofs swapped", func(t *testing.T) *Event {
			sp := base(t)
			sp.Identities[0].Possession, sp.Identities[1].Possession = sp.Identities[1].Possession, sp.Identities[0].Possession
			return signed(sp)
		}, ErrRejected},
		{"possession proof garbage", func(t *testing.T) *Event {
			sp := base(t)
			sp.Identities[2].Possession = bytes.Repeat([]byte{7}, len(sp.Identities[2].Possession))
			return signed(sp)
		}, ErrRejected},
		{"undecodable staking key", func(t *testing.T) *Event {
			sp := base(t)
			sp.Identities[0].StakingKey = append(sp.Identities[0].StakingKey, 0)
			return signed(sp)
		}, ErrRejected},
		{"malformed shape", func(t *testing.T) *Event { sp := base(t); sp.Identities[0].Weight = 0; return signed(sp) }, ErrInvalid},
		{"tampered after signing", func(t *testing.T) *Event { e := signed(base(t)); e.Setup.Seed[0]++; return e }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := genesisState(t)
			enc := s.Encode()
			err := mustReject(t, s, 3, tc.event(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("rejected with %v, want %v", err, tc.want)
			}
			if s.Pending() != nil || !bytes.Equal(s.Encode(), enc) {
				t.Fatal("a rejected setup changed the state")
			}
			// The valid setup is still accepted afterwards.
			mustAccept(t, s, 4, signed(base(t)))
		})
	}
}

func TestSetupRejectedWhilePending(t *testing.T) {
	s := genesisState(t)
	sp := successor(t, s)
	mustAccept(t, s, 1, signed(sp))
	alt := sp
	alt.Seed = [32]byte{9}
	for _, e := range []*Event{signed(alt), signed(sp)} {
		if err := mustReject(t, s, 2, e); !errors.Is(err, ErrRejected) {
			t.Fatalf("second setup: %v", err)
		}
	}
	if s.Pending().ID() != sp.ID() {
		t.Fatal("a rejected setup replaced the pending one")
	}
	// The commit for the replacement does not match; the original's does.
	if err := mustReject(t, s, 3, commitOf(alt)); !errors.Is(err, ErrRejected) {
		t.Fatalf("commit of the rejected setup: %v", err)
	}
	mustAccept(t, s, 4, commitOf(sp))
}

func TestCommitRejected(t *testing.T) {
	sp := nextSpec(t, 1, testEpochViews+1, 2*testEpochViews)
	other := sp
	other.Seed = [32]byte{1}
	withCommit := func(f func(c *Commit)) func(t *testing.T) *Event {
		return func(t *testing.T) *Event {
			e := commitOf(nextSpec(t, 1, testEpochViews+1, 2*testEpochViews))
			f(e.Commit)
			return resign(e, 1)
		}
	}
	tests := []struct {
		name    string
		noSetup bool
		event   func(t *testing.T) *Event
		want    error
	}{
		{"no pending setup", true, func(*testing.T) *Event { return commitOf(sp) }, ErrRejected},
		{"wrong setup ID", false, func(*testing.T) *Event { return commitOf(other) }, ErrRejected},
		{"wrong counter", false, withCommit(func(c *Commit) { c.Counter = 2 }), ErrRejected},
		{"setup ID of the right counter but zero", false, withCommit(func(c *Commit) { c.SetupID = model.ZeroID }), ErrRejected},
		{"a key differs", false, withCommit(func(c *Commit) { c.StakingKeys[2] = identity(t, crypto.Fast(), 77).StakingKey }), ErrRejected},
		{"keys reordered", false, withCommit(func(c *Commit) { c.StakingKeys[0], c.StakingKeys[1] = c.StakingKeys[1], c.StakingKeys[0] }), ErrRejected},
		{"a key missing", false, withCommit(func(c *Commit) { c.StakingKeys = c.StakingKeys[:len(c.StakingKeys)-1] }), ErrRejected},
		{"an extra key", false, withCommit(func(c *Commit) { c.StakingKeys = append(c.StakingKeys, identity(t, crypto.Fast(), 77).StakingKey) }), ErrRejected},
		{"unauthorised", false, func(*testing.T) *Event { return NewCommit(testChain, &sp, govKey(3)) }, ErrRejected},
		{"for another chain", false, func(*testing.T) *Event { return NewCommit(otherChain, &sp, govKey(0)) }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := genesisState(t)
			if !tc.noSetup {
				mustAccept(t, s, 1, signed(sp))
			}
			enc := s.Encode()
			err := mustReject(t, s, 2, tc.event(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("rejected with %v, want %v", err, tc.want)
			}
			if !bytes.Equal(s.Encode(), enc) || len(s.Schedule().Epochs()) != 1 {
				t.Fatal("a rejected commit changed the state")
			}
			if !tc.noSetup {
				// The setup is still pending and its real commit works.
				if out := mustAccept(t, s, 3, commitOf(sp)); out.Committed == nil {
					t.Fatal("the real commit did not schedule the epoch")
				}
			}
		})
	}
}

func TestCommitTwice(t *testing.T) {
	s := genesisState(t)
	sp := successor(t, s)
	mustAccept(t, s, 1, signed(sp), commitOf(sp))
	if err := mustReject(t, s, 2, commitOf(sp)); !errors.Is(err, ErrRejected) {
		t.Fatalf("second commit: %v", err)
	}
	if len(s.Schedule().Epochs()) != 2 {
		t.Fatal("a repeated commit scheduled another epoch")
	}
	// Nor can the same setup be replayed for the next counter.
	if err := mustReject(t, s, 3, signed(sp)); !errors.Is(err, ErrRejected) {
		t.Fatalf("replayed setup: %v", err)
	}
}

func TestFallbackThreshold(t *testing.T) {
	th := threshold(testEpochViews)
	for _, tc := range []struct {
		view     model.View
		extended bool
	}{
		{0, false},
		{th - 1, false},
		{th, true},
		{th + 1, true},
		{testEpochViews, true},
	} {
		s := genesisState(t)
		out := apply(t, s, tc.view)
		if out.Extended != tc.extended || out.Changed() != tc.extended {
			t.Errorf("block at view %d: Extended = %v, want %v", tc.view, out.Extended, tc.extended)
		}
		want := model.View(testEpochViews)
		if tc.extended {
			want = 2 * testEpochViews
		}
		if got := finalView(t, s); got != want {
			t.Errorf("block at view %d: epoch 0 ends at %d, want %d", tc.view, got, want)
		}
		if n := len(s.Schedule().Epochs()); n != 1 {
			t.Errorf("extension added an epoch: %d epochs", n)
		}
	}
}

func TestFallbackDropsLateEvents(t *testing.T) {
	s := genesisState(t)
	sp := successor(t, s)
	mustAccept(t, s, 50, signed(sp))
	before := s.Schedule()

	// The commit arrives in the first block at the threshold: too late.
	out := apply(t, s, threshold(testEpochViews), commitOf(sp))
	if !out.Extended || out.Committed != nil || len(out.Rejected) != 1 || !errors.Is(out.Rejected[0].Err, ErrRejected) {
		t.Fatalf("late commit: %+v", out)
	}
	if s.Pending() != nil {
		t.Fatal("the stale setup is still pending after the extension")
	}
	e := s.Schedule().Last()
	if e.Counter != 0 || e.FinalView != 2*testEpochViews || e.Committee() != before.Last().Committee() || e.Seed != testSeed {
		t.Fatalf("after extension: epoch %d ends at %d", e.Counter, e.FinalView)
	}
	if before.Last().FinalView != testEpochViews {
		t.Fatal("the extension changed an old schedule snapshot")
	}
	// Views of the extension are epoch 0's, with epoch 0's leaders.
	old := memberSet(identities(t, crypto.Fast(), 0, 4))
	for v := model.View(testEpochViews + 1); v <= 2*testEpochViews; v++ {
		c, err := s.Schedule().CommitteeAt(v)
		if err != nil || !old[c.Leader(v)] {
			t.Fatalf("view %d of the extension: %v", v, err)
		}
	}

	// The old setup, starting where the epoch used to end, is now wrong.
	if err := mustReject(t, s, 95, signed(sp)); !errors.Is(err, ErrRejected) {
		t.Fatalf("stale setup: %v", err)
	}
	if err := mustReject(t, s, 96, commitOf(sp)); !errors.Is(err, ErrRejected) {
		t.Fatalf("stale commit: %v", err)
	}
	// A new setup must start after the extended final view.
	fresh := successor(t, s)
	if fresh.FirstView != 2*testEpochViews+1 {
		t.Fatalf("successor starts at %d", fresh.FirstView)
	}
	out = mustAccept(t, s, 97, signed(fresh), commitOf(fresh))
	if out.Extended || out.Committed == nil {
		t.Fatalf("fresh setup: %+v", out)
	}
	if e, err := s.Schedule().EpochAt(2*testEpochViews + 1); err != nil || e.Counter != 1 {
		t.Fatalf("epoch 1 does not start after the extension: %v, %v", e, err)
	}
}

func TestFallbackLateSetupInThresholdBlock(t *testing.T) {
	// A setup in the threshold block itself is judged against the extended
	// epoch: the original one is rejected, one after the extension accepted.
	s := genesisState(t)
	stale := successor(t, s)
	out := apply(t, s, threshold(testEpochViews), signed(stale))
	if !out.Extended || len(out.Rejected) != 1 || s.Pending() != nil {
		t.Fatalf("setup in the threshold block: %+v", out)
	}

	s = genesisState(t)
	fresh := nextSpec(t, 1, 2*testEpochViews+1, 3*testEpochViews)
	out = mustAccept(t, s, threshold(testEpochViews), signed(fresh))
	if !out.Extended || s.Pending() == nil || s.Pending().ID() != fresh.ID() {
		t.Fatalf("setup after the extension: %+v", out)
	}
}

func TestRepeatedExtensions(t *testing.T) {
	s := genesisState(t)
	final := model.View(testEpochViews)
	for i := 1; i <= 5; i++ {
		// Blocks before the threshold do nothing.
		for _, v := range []model.View{threshold(final) - 2, threshold(final) - 1} {
			if out := apply(t, s, v); out.Extended {
				t.Fatalf("round %d: block at %d extended early", i, v)
			}
		}
		if _, err := s.Apply(final+1, nil); err == nil {
			t.Fatalf("round %d: a block past the known final view %d was applied", i, final)
		}
		if out := apply(t, s, threshold(final)); !out.Extended {
			t.Fatalf("round %d: block at threshold %d did not extend", i, threshold(final))
		}
		final += testEpochViews
		if got := finalView(t, s); got != final {
			t.Fatalf("round %d: final view %d, want %d", i, got, final)
		}
		// Exactly one extension per crossing.
		if out := apply(t, s, threshold(final-testEpochViews)+1); out.Extended {
			t.Fatalf("round %d: extended twice", i)
		}
	}
	if n := len(s.Schedule().Epochs()); n != 1 || s.Schedule().Last().FirstView != 0 {
		t.Fatalf("extensions created %d epochs", n)
	}
	// After five extensions a transition still works.
	sp := successor(t, s)
	mustAccept(t, s, threshold(final)-1, signed(sp), commitOf(sp))
	if e, _ := s.Schedule().EpochAt(final + 1); e == nil || e.Counter != 1 {
		t.Fatal("no epoch 1 after the extensions")
	}
}

func TestCommittedEpochExtends(t *testing.T) {
	// Fallback applies to the newest epoch: once epoch 1 is committed, epoch
	// 0's threshold is harmless and epoch 1's extends epoch 1.
	s := genesisState(t)
	sp := successor(t, s)
	mustAccept(t, s, 1, signed(sp), commitOf(sp))
	for v := threshold(testEpochViews); v <= threshold(sp.FinalView)-1; v++ {
		if out := apply(t, s, v); out.Changed() {
			t.Fatalf("block at %d changed the schedule", v)
		}
	}
	out := apply(t, s, threshold(sp.FinalView))
	if !out.Extended {
		t.Fatal("epoch 1 did not extend at its threshold")
	}
	e0, _ := s.Schedule().Epoch(0)
	e1, _ := s.Schedule().Epoch(1)
	if e0.FinalView != testEpochViews || e1.FirstView != sp.FirstView || e1.FinalView != sp.FinalView+testEpochViews {
		t.Fatalf("after extension: epoch 0 ends %d, epoch 1 %d..%d", e0.FinalView, e1.FirstView, e1.FinalView)
	}
}

func TestApplyPastLastEpoch(t *testing.T) {
	s := genesisState(t)
	enc := s.Encode()
	sp := successor(t, s)
	for _, v := range []model.View{testEpochViews + 1, 5 * testEpochViews, Forever} {
		if _, err := s.Apply(v, []*Event{signed(sp)}); err == nil {
			t.Fatalf("Apply(%d) past the last epoch succeeded", v)
		}
	}
	if !bytes.Equal(s.Encode(), enc) {
		t.Fatal("a failed Apply changed the state")
	}
	mustAccept(t, s, 1, signed(sp), commitOf(sp))
	apply(t, s, sp.FinalView-testSafetyViews-1)
	if _, err := s.Apply(sp.FinalView+1, nil); err == nil {
		t.Fatal("Apply past epoch 1 succeeded")
	}
}

func TestForever(t *testing.T) {
	p := testParams(crypto.Fast())
	p.EpochViews, p.SafetyViews = 0, 0
	s, err := Genesis(p, identities(t, crypto.Fast(), 0, 4), testSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	if finalView(t, s) != Forever {
		t.Fatalf("epoch ends at %d, want Forever", finalView(t, s))
	}
	for _, v := range []model.View{0, 1000, Forever - 1, Forever} {
		if out := apply(t, s, v); out.Changed() {
			t.Fatalf("block at %d changed a forever schedule", v)
		}
	}
	for _, sp := range []Spec{
		nextSpec(t, 1, Forever+1, Forever+1000),
		nextSpec(t, 1, 101, 200),
	} {
		if err := mustReject(t, s, 5, signed(sp)); !errors.Is(err, ErrRejected) {
			t.Fatalf("setup on a chain without epochs: %v", err)
		}
		if err := mustReject(t, s, 5, commitOf(sp)); !errors.Is(err, ErrRejected) {
			t.Fatalf("commit on a chain without epochs: %v", err)
		}
	}
	if _, err := s.Apply(Forever+1, nil); err == nil {
		t.Fatal("Apply past Forever succeeded")
	}
	// A nonzero SafetyViews is ignored without epochs, and survives Decode.
	p.SafetyViews = 7
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(p, s.Encode())
	if err != nil || d.Schedule().Last().FinalView != Forever {
		t.Fatalf("Decode: %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	for _, tc := range []struct {
		name           string
		nilScheme      bool
		epoch, safety  uint64
		ok             bool
		minEpochLength uint64
	}{
		{"no scheme", true, 100, 10, false, 21},
		{"no scheme, no epochs", true, 0, 0, false, 1},
		{"no epochs", false, 0, 0, true, 1},
		{"no epochs, safety ignored", false, 0, 50, true, 101},
		{"zero safety", false, 100, 0, false, 1},
		{"epoch twice safety", false, 20, 10, false, 21},
		{"epoch below twice safety", false, 15, 10, false, 21},
		{"epoch just above twice safety", false, 21, 10, true, 21},
		{"typical", false, 100, 10, true, 21},
		{"one safety view", false, 3, 1, true, 3},
		{"two views, one safety", false, 2, 1, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Params{Scheme: crypto.Fast(), EpochViews: tc.epoch, SafetyViews: tc.safety}
			if tc.nilScheme {
				p.Scheme = nil
			}
			err := p.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if got := p.MinEpochViews(); got != tc.minEpochLength {
				t.Fatalf("MinEpochViews = %d, want %d", got, tc.minEpochLength)
			}
			_, gerr := Genesis(p, identities(t, crypto.Fast(), 0, 1), testSeed, nil)
			_, derr := Decode(p, genesisState(t).Encode())
			if tc.ok != (gerr == nil) || (!tc.ok && derr == nil) {
				t.Fatalf("Genesis = %v, Decode = %v with Validate = %v", gerr, derr, err)
			}
		})
	}
}

// snapshot is everything observable about a state.
func snapshot(s *State) []byte {
	w := codec.NewWriter(1024)
	w.Fixed(s.Encode())
	for _, e := range s.Schedule().Epochs() {
		w.Fixed(e.Spec.Encode())
		for _, m := range e.Committee().Members() {
			w.Fixed(m.ID[:])
		}
	}
	if p := s.Pending(); p != nil {
		w.Fixed(p.Encode())
	}
	return w.Bytes()
}

func outcomeSummary(o Outcome) []byte {
	w := codec.NewWriter(64)
	w.Bool(o.Extended)
	w.Bool(o.Committed != nil)
	if o.Committed != nil {
		w.Fixed(o.Committed.Spec.Encode())
	}
	for _, e := range o.Accepted {
		w.Fixed(e.Encode())
	}
	for _, r := range o.Rejected {
		w.Fixed(r.Event.Encode())
	}
	return w.Bytes()
}

// roundTripStates are the states the round trip tests cover.
func roundTripStates(t *testing.T) map[string]*State {
	genesis := genesisState(t)

	pending := genesisState(t)
	mustAccept(t, pending, 3, signed(successor(t, pending)))

	committed := genesisState(t)
	sp := successor(t, committed)
	mustAccept(t, committed, 3, signed(sp), commitOf(sp))

	extended := genesisState(t)
	mustAccept(t, extended, 3, signed(successor(t, extended)))
	apply(t, extended, threshold(testEpochViews))
	apply(t, extended, threshold(2*testEpochViews))

	both := genesisState(t)
	sp = successor(t, both)
	mustAccept(t, both, 3, signed(sp), commitOf(sp))
	apply(t, both, threshold(sp.FinalView))
	mustAccept(t, both, threshold(sp.FinalView)+1, signed(successor(t, both)))

	return map[string]*State{"genesis": genesis, "pending": pending, "committed": committed, "extended": extended, "committed, extended, pending": both}
}

func TestEncodeDecode(t *testing.T) {
	for name, s := range roundTripStates(t) {
		t.Run(name, func(t *testing.T) {
			b := s.Encode()
			d, err := Decode(s.Params(), b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(snapshot(d), snapshot(s)) {
				t.Fatal("decoded state differs")
			}
			if (s.Pending() == nil) != (d.Pending() == nil) {
				t.Fatal("pending setup lost or invented")
			}
			for v := model.View(0); v <= finalView(t, s); v += 7 {
				a, _ := s.Schedule().CommitteeAt(v)
				c, _ := d.Schedule().CommitteeAt(v)
				if a.Leader(v) != c.Leader(v) || a.TotalWeight() != c.TotalWeight() {
					t.Fatalf("view %d: decoded schedule disagrees", v)
				}
			}
			// Same events, same behaviour: commit the pending setup (or set
			// up and commit the successor), then cross thresholds.
			next := successor(t, s)
			var events []*Event
			if p := s.Pending(); p != nil {
				events = []*Event{commitOf(*p), signed(next)}
			} else {
				events = []*Event{signed(next), commitOf(next)}
			}
			firstView := s.Schedule().Last().FirstView
			for _, step := range []struct {
				view   model.View
				events []*Event
			}{
				{firstView, events[:1]},
				{firstView + 1, events[1:]},
				{threshold(finalView(t, s)), nil},
				{threshold(finalView(t, s)) + 1, []*Event{commitOf(next)}},
			} {
				o1, e1 := s.Apply(step.view, step.events)
				o2, e2 := d.Apply(step.view, step.events)
				if (e1 == nil) != (e2 == nil) || !bytes.Equal(outcomeSummary(o1), outcomeSummary(o2)) {
					t.Fatalf("view %d: outcomes differ: %v / %v", step.view, e1, e2)
				}
				if !bytes.Equal(snapshot(d), snapshot(s)) {
					t.Fatalf("view %d: states diverge", step.view)
				}
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	p := testParams(crypto.Fast())
	for name, s := range roundTripStates(t) {
		b := s.Encode()
		for n := 0; n < len(b); n++ {
			if _, err := Decode(p, b[:n]); err == nil {
				t.Fatalf("%s: truncated to %d of %d bytes decodes", name, n, len(b))
			}
		}
		if _, err := Decode(p, append(bytes.Clone(b), 0)); err == nil {
			t.Fatalf("%s: trailing byte accepted", name)
		}
		// Single-byte corruption never panics.
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 0x5A
			_, _ = Decode(p, c)
		}
	}

	spec := func(counter uint64, first, final model.View) Spec { return nextSpec(t, counter, first, final) }
	encode := func(epochs []Spec, pending *Spec, pendingByte uint8) []byte {
		w := codec.NewWriter(4096)
		w.Uint32(uint32(len(epochs)))
		for _, e := range epochs {
			e.encode(w)
		}
		w.Uint8(pendingByte)
		if pending != nil {
			pending.encode(w)
		}
		w.Uint64(0)
		return w.Bytes()
	}
	good := []Spec{spec(0, 0, 100), spec(1, 101, 200)}
	if _, err := Decode(p, encode(good, nil, 0)); err != nil {
		t.Fatalf("hand-made encoding rejected: %v", err)
	}
	badPop := spec(1, 101, 200)
	badPop.Identities[0].Possession = badPop.Identities[1].Possession
	tooMany := codec.NewWriter(8)
	tooMany.Uint32(maxStoredEpochs + 1)
	for name, b := range map[string][]byte{
		"nil":                          nil,
		"no epochs":                    encode(nil, nil, 0),
		"too many epochs":              tooMany.Bytes(),
		"gap between epochs":           encode([]Spec{spec(0, 0, 100), spec(1, 102, 200)}, nil, 0),
		"counter skipped":              encode([]Spec{spec(0, 0, 100), spec(2, 101, 200)}, nil, 0),
		"epoch ends before it starts":  encode([]Spec{spec(0, 0, 100), spec(1, 101, 100)}, nil, 0),
		"invalid proof of possession":  encode([]Spec{spec(0, 0, 100), badPop}, nil, 0),
		"empty identity table":         encode([]Spec{{Counter: 0, FinalView: 100}}, nil, 0),
		"pending flag 2":               encode(good, nil, 2),
		"pending flag without setup":   encode(good, nil, 1),
		"epoch count larger than list": append([]byte{0, 0, 0, 3}, encode(good, nil, 0)[4:]...),
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := Decode(p, b); err == nil {
				t.Fatalf("Decode accepted it: %d epochs", len(s.Schedule().Epochs()))
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	// Two states fed the same pseudo-random sequence of blocks, valid,
	// invalid, late and early events, stay byte-identical, and so does a
	// third restored from the first half-way through.
	rng := rand.New(rand.NewPCG(7, 11))
	a, b := genesisState(t), genesisState(t)
	var c *State
	commits, extensions := 0, 0
	view := model.View(0)
	for step := 0; step < 800; step++ {
		view += model.View(1 + rng.IntN(7))
		var events []*Event
		for k := rng.IntN(MaxEventsPerBlock+1) - 2; rng.IntN(4) == 0 && k > 0; k-- {
			events = append(events, randomEvent(t, rng, a))
		}
		oa, ea := a.Apply(view, events)
		ob, eb := b.Apply(view, events)
		if ea != nil || eb != nil {
			t.Fatalf("step %d view %d: %v / %v", step, view, ea, eb)
		}
		if !bytes.Equal(outcomeSummary(oa), outcomeSummary(ob)) || !bytes.Equal(a.Encode(), b.Encode()) {
			t.Fatalf("step %d view %d: states diverge", step, view)
		}
		if c != nil {
			oc, ec := c.Apply(view, events)
			if ec != nil || !bytes.Equal(outcomeSummary(oa), outcomeSummary(oc)) || !bytes.Equal(a.Encode(), c.Encode()) {
				t.Fatalf("step %d view %d: restored state diverges (%v)", step, view, ec)
			}
		}
		if step == 400 {
			var err error
			if c, err = Decode(a.Params(), a.Encode()); err != nil {
				t.Fatal(err)
			}
		}
		if oa.Committed != nil {
			commits++
		}
		if oa.Extended {
			extensions++
		}
		// Invariants: the block's view is covered, with room to spare.
		if _, err := a.Schedule().EpochAt(view); err != nil {
			t.Fatalf("step %d: view %d not covered: %v", step, view, err)
		}
		if uint64(view)+testSafetyViews >= uint64(finalView(t, a)) {
			t.Fatalf("step %d: view %d within the safety margin of the final view %d", step, view, finalView(t, a))
		}
	}
	t.Logf("%d views, %d commits, %d extensions", view, commits, extensions)
	if commits < 5 || extensions < 5 {
		t.Fatalf("scenario too tame: %d commits, %d extensions", commits, extensions)
	}
	if _, err := NewSchedule(a.Schedule().Epochs()); err != nil {
		t.Fatal(err)
	}
}

// randomEvent is a plausible event for state s: mostly right, sometimes
// wrong in one of several ways.
func randomEvent(t testing.TB, rng *rand.Rand, s *State) *Event {
	next := successor(t, s)
	if rng.IntN(2) == 0 {
		next.FinalView = next.FirstView + model.View(s.Params().MinEpochViews()) - 1 + model.View(rng.IntN(40))
	}
	switch rng.IntN(9) {
	case 0, 1, 2:
		return signed(next)
	case 3, 4, 5:
		if p := s.Pending(); p != nil {
			return commitOf(*p)
		}
		return commitOf(next)
	case 6:
		next.Counter++
		return signed(next)
	case 7:
		return NewSetup(testChain, next, govKey(9))
	default:
		next.FirstView++
		return signed(next)
	}
}

func TestStateIsolatedFromEvents(t *testing.T) {
	s := genesisState(t)
	e := signed(successor(t, s))
	mustAccept(t, s, 1, e)
	id := s.Pending().ID()
	e.Setup.Seed[0]++
	e.Setup.FinalView++
	e.Setup.Identities[0] = identity(t, crypto.Fast(), 99)
	if s.Pending().ID() != id {
		t.Fatal("mutating an accepted event changed the pending setup")
	}
	mustAccept(t, s, 2, commitOf(successor(t, s)))
}

func TestScheduleSnapshotsAreSafe(t *testing.T) {
	// Readers of an old snapshot race with a state machine that extends and
	// commits epochs; run under -race.
	s := genesisState(t)
	snap := s.Schedule()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for v := model.View(0); v <= testEpochViews; v += 9 {
					c, err := snap.CommitteeAt(v)
					if err != nil {
						t.Error(err)
						return
					}
					c.Leader(v)
				}
				if snap.Last().FinalView != testEpochViews {
					t.Error("snapshot changed")
					return
				}
			}
		}()
	}
	view := model.View(0)
	for i := 0; i < 20; i++ {
		view = threshold(finalView(t, s))
		apply(t, s, view)
		if i%3 == 0 {
			sp := successor(t, s)
			mustAccept(t, s, view+1, signed(sp), commitOf(sp))
		}
	}
	close(stop)
	wg.Wait()
}

func TestBLS(t *testing.T) {
	scheme := crypto.BLS()
	p := testParams(scheme)
	s, err := Genesis(p, identities(t, scheme, 0, 4), testSeed, nil)
	if err != nil {
		t.Fatal(err)
	}
	sp := Spec{Counter: 1, FirstView: testEpochViews + 1, FinalView: 2 * testEpochViews, Identities: identities(t, scheme, 10, 4), Seed: [32]byte{42}}

	// A rogue table: proofs of possession swapped between two members.
	rogue := sp
	rogue.Identities = append([]Identity(nil), sp.Identities...)
	rogue.Identities[0].Possession, rogue.Identities[1].Possession = rogue.Identities[1].Possession, rogue.Identities[0].Possession
	if err := mustReject(t, s, 1, NewSetup(testChain, rogue, govKey(0))); !errors.Is(err, ErrRejected) {
		t.Fatalf("rogue BLS setup: %v", err)
	}
	// A Fast key in a BLS table does not decode.
	mixed := sp
	mixed.Identities = append([]Identity{identity(t, crypto.Fast(), 50)}, sp.Identities[1:]...)
	if err := mustReject(t, s, 1, NewSetup(testChain, mixed, govKey(0))); !errors.Is(err, ErrRejected) {
		t.Fatalf("Fast key in a BLS setup: %v", err)
	}

	out := mustAccept(t, s, 2, NewSetup(testChain, sp, govKey(1)), NewCommit(testChain, &sp, govKey(0)))
	if out.Committed == nil {
		t.Fatal("BLS epoch not committed")
	}
	c, err := s.Schedule().CommitteeAt(testEpochViews + 1)
	if err != nil || c.Size() != 4 {
		t.Fatalf("epoch 1 committee: %v", err)
	}
	for _, m := range c.Members() {
		if m.StakingKey == nil || !memberSet(sp.Identities)[m.ID] {
			t.Fatal("epoch 1 member without a BLS key or from outside the setup")
		}
	}
	// Restoring a BLS state re-checks every proof and gives the same state.
	d, err := Decode(p, s.Encode())
	if err != nil || !bytes.Equal(snapshot(d), snapshot(s)) {
		t.Fatalf("BLS Decode: %v", err)
	}
	// The same bytes under the Fast scheme do not decode.
	if _, err := Decode(testParams(crypto.Fast()), s.Encode()); err == nil {
		t.Fatal("a BLS state decodes under the Fast scheme")
	}
}

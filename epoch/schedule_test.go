package epoch

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func mustEpoch(t testing.TB, sp Spec) *Epoch {
	t.Helper()
	e, err := New(crypto.Fast(), sp)
	if err != nil {
		t.Fatalf("New(epoch %d): %v", sp.Counter, err)
	}
	return e
}

// threeEpochs are epochs 0..2 over views 0..100, 101..200, 201..350.
func threeEpochs(t testing.TB) []*Epoch {
	t.Helper()
	return []*Epoch{
		mustEpoch(t, nextSpec(t, 0, 0, 100)),
		mustEpoch(t, nextSpec(t, 1, 101, 200)),
		mustEpoch(t, nextSpec(t, 2, 201, 350)),
	}
}

func TestScheduleLookups(t *testing.T) {
	epochs := threeEpochs(t)
	s, err := NewSchedule(epochs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		view    model.View
		counter uint64
	}{{0, 0}, {1, 0}, {99, 0}, {100, 0}, {101, 1}, {150, 1}, {200, 1}, {201, 2}, {349, 2}, {350, 2}} {
		e, err := s.EpochAt(tc.view)
		if err != nil {
			t.Fatalf("EpochAt(%d): %v", tc.view, err)
		}
		if e.Counter != tc.counter || !e.Contains(tc.view) {
			t.Fatalf("EpochAt(%d) = epoch %d, want %d", tc.view, e.Counter, tc.counter)
		}
		c, err := s.CommitteeAt(tc.view)
		if err != nil {
			t.Fatalf("CommitteeAt(%d): %v", tc.view, err)
		}
		if c != epochs[tc.counter].Committee() {
			t.Fatalf("CommitteeAt(%d) is not epoch %d's committee", tc.view, tc.counter)
		}
		// The leader comes from the owning epoch's members.
		if _, ok := epochs[tc.counter].Member(c.Leader(tc.view)); !ok {
			t.Fatalf("leader of view %d is not a member of epoch %d", tc.view, tc.counter)
		}
	}
	for c := uint64(0); c < 3; c++ {
		if e, err := s.Epoch(c); err != nil || e != epochs[c] {
			t.Fatalf("Epoch(%d) = %v, %v", c, e, err)
		}
	}
	for _, c := range []uint64{3, 4, 1 << 63} {
		if _, err := s.Epoch(c); !errors.Is(err, ErrUnknownEpoch) {
			t.Fatalf("Epoch(%d): err = %v, want ErrUnknownEpoch", c, err)
		}
	}
	if s.Last() != epochs[2] || len(s.Epochs()) != 3 {
		t.Fatal("Last/Epochs wrong")
	}
	// The schedule owns its list.
	epochs[1] = epochs[0]
	if e, _ := s.EpochAt(150); e.Counter != 1 {
		t.Fatal("schedule aliases the caller's slice")
	}
}

func TestScheduleUnknownViews(t *testing.T) {
	full, err := NewSchedule(threeEpochs(t))
	if err != nil {
		t.Fatal(err)
	}
	// A schedule whose oldest known epoch starts after view 0 (a node
	// restored from a pruned state).
	late, err := NewSchedule(threeEpochs(t)[1:])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *Schedule
		view model.View
	}{
		{"after the last epoch", full, 351},
		{"far future", full, Forever},
		{"max view", full, model.View(^uint64(0))},
		{"before the first known epoch", late, 100},
		{"view 0 of a late schedule", late, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.EpochAt(tc.view)
			if !errors.Is(err, ErrUnknownEpoch) || !errors.Is(err, committee.ErrUnknownView) {
				t.Fatalf("EpochAt(%d) = %v, want ErrUnknownEpoch / committee.ErrUnknownView", tc.view, err)
			}
			c, err := tc.s.CommitteeAt(tc.view)
			if c != nil || !errors.Is(err, committee.ErrUnknownView) {
				t.Fatalf("CommitteeAt(%d) = %v, %v; want committee.ErrUnknownView", tc.view, c, err)
			}
		})
	}
	if _, err := late.Epoch(0); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("late.Epoch(0): %v", err)
	}
	if e, err := late.Epoch(2); err != nil || e.Counter != 2 {
		t.Fatalf("late.Epoch(2) = %v, %v", e, err)
	}
}

func TestNewScheduleRejects(t *testing.T) {
	e := func(counter uint64, first, final model.View) *Epoch {
		return mustEpoch(t, nextSpec(t, counter, first, final))
	}
	tests := map[string][]*Epoch{
		"empty":             nil,
		"gap":               {e(0, 0, 100), e(1, 102, 200)},
		"overlap":           {e(0, 0, 100), e(1, 100, 200)},
		"counter skipped":   {e(0, 0, 100), e(2, 101, 200)},
		"counter repeated":  {e(0, 0, 100), e(0, 101, 200)},
		"counter backwards": {e(3, 0, 100), e(2, 101, 200)},
		"out of order":      {e(1, 101, 200), e(0, 0, 100)},
		"gap later on":      {e(0, 0, 100), e(1, 101, 200), e(2, 250, 300)},
	}
	for name, epochs := range tests {
		t.Run(name, func(t *testing.T) {
			if s, err := NewSchedule(epochs); !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewSchedule = %v, %v; want ErrInvalid", s, err)
			}
		})
	}
	// A single epoch with any counter and start is a schedule.
	if _, err := NewSchedule([]*Epoch{e(7, 500, 600)}); err != nil {
		t.Fatal(err)
	}
}

func TestNewEpochRejects(t *testing.T) {
	tests := map[string]func(sp *Spec){
		"ends before it starts": func(sp *Spec) { sp.FinalView = sp.FirstView - 1 },
		"no members":            func(sp *Spec) { sp.Identities = nil },
		"too many members":      func(sp *Spec) { sp.Identities = slices.Repeat(sp.Identities[:1], MaxMembers+1) },
		"possession proofs swapped": func(sp *Spec) {
			a, b := &sp.Identities[0], &sp.Identities[1]
			a.Possession, b.Possession = b.Possession, a.Possession
		},
		"possession of another key": func(sp *Spec) { sp.Identities[0].Possession = identity(t, crypto.Fast(), 99).Possession },
		"undecodable staking key":   func(sp *Spec) { sp.Identities[0].StakingKey = sp.Identities[0].StakingKey[:5] },
		"zero weight":               func(sp *Spec) { sp.Identities[3].Weight = 0 },
		"duplicate member":          func(sp *Spec) { sp.Identities[3] = sp.Identities[0] },
		"weight overflow": func(sp *Spec) {
			sp.Identities[0].Weight = committee.MaxTotalWeight
			sp.Identities[1].Weight = 1
		},
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			sp := nextSpec(t, 1, 101, 200)
			f(&sp)
			if e, err := New(crypto.Fast(), sp); !errors.Is(err, ErrInvalid) {
				t.Fatalf("New = %v, %v; want ErrInvalid", e, err)
			}
		})
	}
	// A one-view epoch is fine for New (the state machine imposes lengths).
	if _, err := New(crypto.Fast(), nextSpec(t, 1, 101, 101)); err != nil {
		t.Fatal(err)
	}
}

func TestEpochMemberAndIsolation(t *testing.T) {
	sp := nextSpec(t, 1, 101, 200)
	e := mustEpoch(t, sp)
	for _, m := range sp.Identities {
		got, ok := e.Member(m.ID())
		if !ok || !reflect.DeepEqual(got, m) {
			t.Fatalf("Member(%s) = %+v, %v", m.Name, got, ok)
		}
		if e.Committee().WeightOf(m.ID()) != m.Weight {
			t.Fatalf("committee weight of %s = %d, want %d", m.Name, e.Committee().WeightOf(m.ID()), m.Weight)
		}
	}
	if _, ok := e.Member(identity(t, crypto.Fast(), 99).ID()); ok {
		t.Fatal("a non-member is a member")
	}
	if e.Committee().Size() != len(sp.Identities) {
		t.Fatalf("committee of %d, want %d", e.Committee().Size(), len(sp.Identities))
	}
	// The epoch keeps its own identity table.
	sp.Identities[0] = identity(t, crypto.Fast(), 99)
	if e.Identities[0].Name != "node-10" {
		t.Fatal("epoch aliases the spec's identity table")
	}
	if e.Contains(100) || !e.Contains(101) || !e.Contains(200) || e.Contains(201) {
		t.Fatal("Contains is wrong at the epoch's edges")
	}
}

// rolesSpec is epoch 3 with every role and collectors in three clusters.
func rolesSpec(t testing.TB) Spec {
	sp := withCollectors(t, nextSpec(t, 3, 301, 777), 0, 7, 3)
	sp.Identities[1].Role, sp.Identities[2].Role = RoleExecution, RoleAccess
	return sp
}

func TestSpecEncodeDecode(t *testing.T) {
	for name, spec := range map[string]func(t testing.TB) Spec{
		"consensus only": func(t testing.TB) Spec { return nextSpec(t, 3, 301, 777) },
		"roles":          rolesSpec,
	} {
		t.Run(name, func(t *testing.T) {
			sp := spec(t)
			b := sp.Encode()
			got, err := DecodeSpec(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sp) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, sp)
			}
			if got.ID() != sp.ID() || !bytes.Equal(got.Encode(), b) {
				t.Fatal("ID or encoding changed by a round trip")
			}
			for n := 0; n < len(b); n++ {
				if _, err := DecodeSpec(b[:n]); err == nil {
					t.Fatalf("spec truncated to %d of %d bytes decodes", n, len(b))
				}
			}
		})
	}
	// Every field is in the ID.
	sp := rolesSpec(t)
	for name, f := range map[string]func(s *Spec){
		"counter":  func(s *Spec) { s.Counter++ },
		"first":    func(s *Spec) { s.FirstView++ },
		"final":    func(s *Spec) { s.FinalView++ },
		"seed":     func(s *Spec) { s.Seed[31]++ },
		"name":     func(s *Spec) { s.Identities[0].Name += "x" },
		"role":     func(s *Spec) { s.Identities[0].Role = RoleAccess },
		"weight":   func(s *Spec) { s.Identities[0].Weight++ },
		"address":  func(s *Spec) { s.Identities[4].Address += "0" },
		"order":    func(s *Spec) { s.Identities[0], s.Identities[1] = s.Identities[1], s.Identities[0] },
		"clusters": func(s *Spec) { s.Clusters[0], s.Clusters[1] = s.Clusters[1], s.Clusters[0] },
	} {
		c := rolesSpec(t)
		f(&c)
		if c.ID() == sp.ID() {
			t.Errorf("changing the %s keeps the spec ID", name)
		}
	}
}

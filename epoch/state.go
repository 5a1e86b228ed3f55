package epoch

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Forever is the final view of an epoch that never ends (a network
// configured without epoch changes).
const Forever = model.View(math.MaxUint64 / 2)

// Params are the chain's epoch rules, fixed at genesis.
type Params struct {
	Chain model.Identifier // genesis block ID; service events are signed for it
	// ChainID is the chain consensus runs on; every vote, timeout and
	// proposal signs it (model.MainChain of the genesis chain name).
	ChainID model.ChainID
	Scheme  crypto.Scheme
	// EpochViews is the length of the genesis epoch and of each fallback
	// extension. Zero means one epoch that never ends.
	EpochViews uint64
	// SafetyViews is how early an epoch transition must be settled: the
	// EpochCommit for the next epoch must be in a finalized block more than
	// SafetyViews views before the current epoch's final view. The first
	// finalized block at or past that threshold without a committed next
	// epoch extends the current one by EpochViews (epoch fallback).
	SafetyViews uint64
	// Authorities are the governance keys allowed to sign service events.
	Authorities []ed25519.PublicKey
}

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.Scheme == nil {
		return fmt.Errorf("%w: no signature scheme", ErrInvalid)
	}
	if p.EpochViews == 0 {
		return nil
	}
	if p.EpochViews > maxEpochViews {
		return fmt.Errorf("%w: epoch_views %d exceeds %d", ErrInvalid, p.EpochViews, uint64(maxEpochViews))
	}
	if p.SafetyViews == 0 || p.EpochViews <= 2*p.SafetyViews {
		return fmt.Errorf("%w: epoch_views (%d) must exceed twice epoch_safety_views (%d), which must be positive",
			ErrInvalid, p.EpochViews, p.SafetyViews)
	}
	return nil
}

// maxEpochViews bounds epoch and extension lengths, so view arithmetic can
// never approach Forever (a century of millisecond views fits easily).
const maxEpochViews = 1 << 42

// MinEpochViews is the shortest epoch a setup may propose: long enough that
// its own successor can be set up before its safety threshold.
func (p Params) MinEpochViews() uint64 { return 2*p.SafetyViews + 1 }

// Outcome is what applying one finalized block did.
type Outcome struct {
	Accepted []*Event
	Rejected []Rejection
	// Extended is set when the block crossed the safety threshold without a
	// committed next epoch, so the current epoch was extended (fallback).
	Extended bool
	// Committed is the epoch an accepted EpochCommit scheduled.
	Committed *Epoch
}

// Changed reports whether the schedule changed.
func (o Outcome) Changed() bool { return o.Extended || o.Committed != nil }

// Rejection is a service event that had no effect, and why.
type Rejection struct {
	Event *Event
	Err   error
}

// State is the epoch state machine. Apply it to every finalized block in
// height order; it is deterministic, so all nodes derive the same schedule.
// Not safe for concurrent use; Schedule snapshots are.
type State struct {
	params   Params
	epochs   []*Epoch
	pending  *Spec // a setup seen in a finalized block, not yet committed
	schedule *Schedule
	// extensions counts fallback extensions of the newest epoch.
	extensions uint64
}

// Genesis starts the state machine with the genesis identity table, leader
// seed and clusters (AssignClusters of the table and seed, as for any
// epoch). The genesis epoch (counter 0) starts at view 0 and lasts
// EpochViews views.
func Genesis(p Params, ids []Identity, seed [32]byte, clusters [][]uint16) (*State, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	final := Forever
	if p.EpochViews > 0 {
		final = model.View(p.EpochViews)
	}
	e, err := New(p.Scheme, Spec{Counter: 0, FirstView: 0, FinalView: final, Identities: ids, Seed: seed, Clusters: clusters})
	if err != nil {
		return nil, err
	}
	s := &State{params: p, epochs: []*Epoch{e}}
	s.refresh()
	return s, nil
}

// Schedule is the current schedule (immutable snapshot).
func (s *State) Schedule() *Schedule { return s.schedule }

// Pending is the next epoch's setup when one is finalized but not committed.
func (s *State) Pending() *Spec { return s.pending }

// Params returns the rules the state was built with.
func (s *State) Params() Params { return s.params }

func (s *State) refresh() {
	sch, err := NewSchedule(s.epochs)
	if err != nil {
		panic(err) // the state machine only ever appends contiguous epochs
	}
	s.schedule = sch
}

func (s *State) last() *Epoch { return s.epochs[len(s.epochs)-1] }

// Apply applies the service events of the finalized block at the given view.
// Events that break the rules are rejected with a reason and change
// nothing; the block itself stays valid.
func (s *State) Apply(view model.View, events []*Event) (Outcome, error) {
	var out Outcome
	last := s.last()
	if view > last.FinalView {
		// A finalized block can only be verified against a known epoch.
		return out, fmt.Errorf("epoch state: finalized view %d is past the last known epoch (ends at %d)", view, last.FinalView)
	}
	if s.params.EpochViews > 0 && last.FinalView != Forever && uint64(view)+s.params.SafetyViews >= uint64(last.FinalView) {
		// The next epoch was not committed in time: keep the current
		// committee rather than halt. A pending setup is now stale.
		s.epochs[len(s.epochs)-1] = last.extended(last.FinalView + model.View(s.params.EpochViews))
		s.pending = nil
		s.extensions++
		out.Extended = true
		s.refresh()
	}
	for _, e := range events {
		if err := s.applyEvent(e, &out); err != nil {
			if !errors.Is(err, ErrRejected) && !errors.Is(err, ErrInvalid) {
				return out, err
			}
			out.Rejected = append(out.Rejected, Rejection{Event: e, Err: err})
			continue
		}
		out.Accepted = append(out.Accepted, e)
	}
	return out, nil
}

func (s *State) applyEvent(e *Event, out *Outcome) error {
	if err := e.Verify(s.params.Chain, s.params.Authorities); err != nil {
		return err
	}
	last := s.last()
	switch e.Kind {
	case KindSetup:
		sp := e.Setup
		switch {
		case s.params.EpochViews == 0 || last.FinalView == Forever:
			return fmt.Errorf("%w: this chain has no epoch changes (epoch_views is 0)", ErrRejected)
		case s.pending != nil:
			return fmt.Errorf("%w: EpochSetup for epoch %d while the setup of epoch %d awaits its commit", ErrRejected, sp.Counter, s.pending.Counter)
		case sp.Counter != last.Counter+1:
			return fmt.Errorf("%w: EpochSetup for epoch %d, want epoch %d", ErrRejected, sp.Counter, last.Counter+1)
		case sp.FirstView != last.FinalView+1:
			return fmt.Errorf("%w: EpochSetup for epoch %d starts at view %d, want %d (the view after epoch %d ends)",
				ErrRejected, sp.Counter, sp.FirstView, last.FinalView+1, last.Counter)
		case uint64(sp.FinalView-sp.FirstView) >= maxEpochViews:
			return fmt.Errorf("%w: EpochSetup for epoch %d lasts more than %d views", ErrRejected, sp.Counter, uint64(maxEpochViews))
		case uint64(sp.FinalView-sp.FirstView)+1 < s.params.MinEpochViews():
			return fmt.Errorf("%w: EpochSetup for epoch %d lasts %d views, minimum %d", ErrRejected, sp.Counter, sp.FinalView-sp.FirstView+1, s.params.MinEpochViews())
		}
		if _, err := New(s.params.Scheme, *sp); err != nil {
			return fmt.Errorf("%w: EpochSetup for epoch %d: %v", ErrRejected, sp.Counter, err)
		}
		c := sp.clone()
		s.pending = &c
	case KindCommit:
		c := e.Commit
		p := s.pending
		switch {
		case p == nil:
			return fmt.Errorf("%w: EpochCommit for epoch %d without a finalized setup", ErrRejected, c.Counter)
		case c.Counter != p.Counter || c.SetupID != p.ID():
			return fmt.Errorf("%w: EpochCommit for epoch %d does not match the pending setup of epoch %d", ErrRejected, c.Counter, p.Counter)
		case len(c.StakingKeys) != len(p.Identities):
			return fmt.Errorf("%w: EpochCommit confirms %d keys, the setup has %d members", ErrRejected, len(c.StakingKeys), len(p.Identities))
		}
		for i, k := range c.StakingKeys {
			if !bytes.Equal(k, p.Identities[i].StakingKey) {
				return fmt.Errorf("%w: EpochCommit key %d differs from the setup's", ErrRejected, i)
			}
		}
		next, err := New(s.params.Scheme, *p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
		s.epochs = append(s.epochs, next)
		s.pending = nil
		s.extensions = 0
		s.refresh()
		out.Committed = next
	}
	return nil
}

// Encode serialises the state (epochs and pending setup) for persistence.
func (s *State) Encode() []byte {
	w := codec.NewWriter(4096)
	w.Uint32(uint32(len(s.epochs)))
	for _, e := range s.epochs {
		e.Spec.encode(w)
	}
	w.Bool(s.pending != nil)
	if s.pending != nil {
		s.pending.encode(w)
	}
	w.Uint64(s.extensions)
	return w.Bytes()
}

// maxStoredEpochs bounds a decoded state (a century of weekly epochs).
const maxStoredEpochs = 1 << 13

// Decode restores a state written by Encode under the same parameters.
func Decode(p Params, b []byte) (*State, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := codec.NewReader(b)
	n := int(r.Uint32())
	if n == 0 || n > maxStoredEpochs {
		return nil, fmt.Errorf("%w: stored epoch state with %d epochs", ErrInvalid, n)
	}
	s := &State{params: p}
	for i := 0; i < n && r.Err() == nil; i++ {
		sp := decodeSpec(r)
		if r.Err() != nil {
			break
		}
		e, err := New(p.Scheme, sp)
		if err != nil {
			return nil, err
		}
		s.epochs = append(s.epochs, e)
	}
	if r.Bool() {
		sp := decodeSpec(r)
		if r.Err() == nil && len(s.epochs) > 0 {
			// Checked as on acceptance: a corrupt pending setup must not
			// make the node refuse the real commit later.
			last := s.epochs[len(s.epochs)-1]
			if sp.Counter != last.Counter+1 || sp.FirstView != last.FinalView+1 {
				return nil, fmt.Errorf("%w: stored pending setup for epoch %d does not follow epoch %d", ErrInvalid, sp.Counter, last.Counter)
			}
			if _, err := New(p.Scheme, sp); err != nil {
				return nil, err
			}
		}
		s.pending = &sp
	}
	s.extensions = r.Uint64()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: stored epoch state: %v", ErrInvalid, err)
	}
	sch, err := NewSchedule(s.epochs)
	if err != nil {
		return nil, err
	}
	s.schedule = sch
	return s, nil
}

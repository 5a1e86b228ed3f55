package epoch

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// MaxMembers bounds an identity table.
const MaxMembers = model.MaxCommitteeSize

// Spec is an epoch as written in an EpochSetup event or a snapshot: its
// counter, view range, identity table and random source.
type Spec struct {
	Counter    uint64
	FirstView  model.View
	FinalView  model.View
	Identities []Identity
	Seed       [32]byte // random source for leader selection
}

// Epoch is a Spec whose identity table has been validated (every proof of
// possession checked) and turned into a committee. Immutable.
type Epoch struct {
	Spec
	committee *committee.Committee
}

// New validates a spec and builds its committee.
func New(scheme crypto.Scheme, s Spec) (*Epoch, error) {
	if s.FinalView < s.FirstView {
		return nil, fmt.Errorf("%w: epoch %d ends at view %d before it starts at %d", ErrInvalid, s.Counter, s.FinalView, s.FirstView)
	}
	if len(s.Identities) == 0 || len(s.Identities) > MaxMembers {
		return nil, fmt.Errorf("%w: epoch %d has %d members, want 1..%d", ErrInvalid, s.Counter, len(s.Identities), MaxMembers)
	}
	c, err := buildCommittee(scheme, s.Identities, s.Seed)
	if err != nil {
		return nil, fmt.Errorf("epoch %d: %w", s.Counter, err)
	}
	return &Epoch{Spec: s.clone(), committee: c}, nil
}

// Committee is the epoch's consensus committee.
func (e *Epoch) Committee() *committee.Committee { return e.committee }

// Contains reports whether view v belongs to the epoch.
func (e *Epoch) Contains(v model.View) bool { return v >= e.FirstView && v <= e.FinalView }

// Member returns the identity with the given node ID.
func (e *Epoch) Member(id model.NodeID) (Identity, bool) {
	for _, m := range e.Identities {
		if m.ID() == id {
			return m, true
		}
	}
	return Identity{}, false
}

// extended returns a copy of e whose final view is later. The committee is
// shared: an extension keeps the identity table and random source.
func (e *Epoch) extended(final model.View) *Epoch {
	c := *e
	c.Spec = e.Spec.clone()
	c.FinalView = final
	return &c
}

func (s Spec) clone() Spec {
	s.Identities = append([]Identity(nil), s.Identities...)
	return s
}

// ID is the hash of the spec's canonical encoding.
func (s *Spec) ID() model.Identifier { return crypto.Sum(s.Encode()) }

// Encode returns the canonical encoding.
func (s *Spec) Encode() []byte {
	w := codec.NewWriter(64 + 300*len(s.Identities))
	s.encode(w)
	return w.Bytes()
}

func (s *Spec) encode(w *codec.Writer) {
	w.Uint64(s.Counter)
	w.Uint64(uint64(s.FirstView))
	w.Uint64(uint64(s.FinalView))
	w.Fixed(s.Seed[:])
	w.Uint16(uint16(len(s.Identities)))
	for _, m := range s.Identities {
		m.encode(w)
	}
}

func decodeSpec(r *codec.Reader) Spec {
	var s Spec
	s.Counter = r.Uint64()
	s.FirstView = model.View(r.Uint64())
	s.FinalView = model.View(r.Uint64())
	r.Fixed(s.Seed[:])
	n := int(r.Uint16())
	if n > MaxMembers {
		r.Fail("identity table of %d members", n)
		return s
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		s.Identities = append(s.Identities, decodeIdentity(r))
	}
	return s
}

// DecodeSpec decodes Spec.Encode output.
func DecodeSpec(b []byte) (Spec, error) {
	r := codec.NewReader(b)
	s := decodeSpec(r)
	return s, r.Done()
}

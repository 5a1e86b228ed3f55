package epoch

import (
	"fmt"
	"slices"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// MaxMembers bounds an identity table.
const MaxMembers = model.MaxCommitteeSize

// Spec is an epoch as written in an EpochSetup event or a snapshot: its
// counter, view range, identity table, random source and collector
// clusters.
type Spec struct {
	Counter    uint64
	FirstView  model.View
	FinalView  model.View
	Identities []Identity
	Seed       [32]byte // random source: leader selection, and (through ClusterSeed) clustering
	// Clusters are the collector clusters, each a sorted list of indices
	// into Identities: AssignClusters(Identities, Seed, len(Clusters)),
	// which validation recomputes. Empty exactly when there are no
	// collectors.
	Clusters [][]uint16
}

// Validate checks everything about a spec that needs no signature scheme:
// the view range, the table's size and every member's shape, unique
// staking keys, at least one consensus member, and the clusters.
func (s *Spec) Validate() error {
	if s.FinalView < s.FirstView {
		return fmt.Errorf("%w: epoch %d ends at view %d before it starts at %d", ErrInvalid, s.Counter, s.FinalView, s.FirstView)
	}
	if len(s.Identities) == 0 || len(s.Identities) > MaxMembers {
		return fmt.Errorf("%w: epoch %d has %d members, want 1..%d", ErrInvalid, s.Counter, len(s.Identities), MaxMembers)
	}
	seen := make(map[model.NodeID]bool, len(s.Identities))
	consensus := 0
	for _, m := range s.Identities {
		if err := m.checkShape(); err != nil {
			return err
		}
		// One key, one member: a key listed under two roles would sign for
		// both, and its node ID would name two members.
		if seen[m.ID()] {
			return fmt.Errorf("%w: epoch %d lists the staking key of %s twice", ErrInvalid, s.Counter, m.Name)
		}
		seen[m.ID()] = true
		if m.Role == RoleConsensus {
			consensus++
		}
	}
	if consensus == 0 {
		return fmt.Errorf("%w: epoch %d has no consensus member (an epoch needs at least one)", ErrInvalid, s.Counter)
	}
	return s.checkClusters()
}

// Epoch is a Spec whose identity table has been validated (every proof of
// possession checked) and whose consensus members have been turned into a
// committee. Immutable.
type Epoch struct {
	Spec
	committee *committee.Committee
	clusterOf map[model.NodeID]int
}

// New validates a spec and builds its committee.
func New(scheme crypto.Scheme, s Spec) (*Epoch, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	c, err := buildCommittee(scheme, s.Identities, s.Seed)
	if err != nil {
		return nil, fmt.Errorf("epoch %d: %w", s.Counter, err)
	}
	e := &Epoch{Spec: s.clone(), committee: c, clusterOf: make(map[model.NodeID]int)}
	for i, cl := range e.Clusters {
		for _, idx := range cl {
			e.clusterOf[e.Identities[idx].ID()] = i
		}
	}
	return e, nil
}

// Committee is the epoch's consensus committee: its consensus members only.
func (e *Epoch) Committee() *committee.Committee { return e.committee }

// Members returns the members of one role, in identity-table order.
func (e *Epoch) Members(role Role) []Identity {
	var out []Identity
	for _, m := range e.Identities {
		if m.Role == role {
			out = append(out, m)
		}
	}
	return out
}

// Cluster returns collector cluster i's members and the ID of the chain the
// cluster runs this epoch (model.ClusterChain of the network's main chain,
// the epoch counter and i). It returns nil and the zero ID when there is no
// cluster i.
func (e *Epoch) Cluster(i int, main model.ChainID) (members []Identity, chain model.ChainID) {
	if i < 0 || i >= len(e.Clusters) {
		return nil, model.ZeroID
	}
	members = make([]Identity, len(e.Clusters[i]))
	for j, idx := range e.Clusters[i] {
		members[j] = e.Identities[idx]
	}
	return members, model.ClusterChain(main, e.Counter, uint32(i))
}

// ClusterOfTx is the cluster that collects a transaction, by the one
// routing rule (collection.ClusterOf: its ID read as a 256-bit big-endian
// integer, modulo the number of clusters). It is -1 when the epoch has no
// clusters.
func (e *Epoch) ClusterOfTx(txID [32]byte) int {
	if len(e.Clusters) == 0 {
		return -1
	}
	return int(collection.ClusterOf(txID, uint32(len(e.Clusters))))
}

// ClusterOfNode returns the cluster a collector belongs to this epoch;
// false for a node that is in no cluster (not a collector of this epoch).
func (e *Epoch) ClusterOfNode(id model.NodeID) (int, bool) {
	i, ok := e.clusterOf[id]
	return i, ok
}

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
	if s.Clusters != nil {
		src := s.Clusters
		s.Clusters = make([][]uint16, len(src))
		for i, c := range src {
			s.Clusters[i] = slices.Clone(c)
		}
	}
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
	w.Uint16(uint16(len(s.Clusters)))
	for _, c := range s.Clusters {
		w.Uint16(uint16(len(c)))
		for _, i := range c {
			w.Uint16(i)
		}
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
	k := int(r.Uint16())
	if k > MaxClusters {
		r.Fail("%d clusters", k)
		return s
	}
	// A member is in one cluster at most, so the lists together are no
	// longer than the table: that bounds what a decoder allocates.
	listed := 0
	for i := 0; i < k && r.Err() == nil; i++ {
		size := int(r.Uint16())
		if listed += size; listed > n {
			r.Fail("clusters list %d members, the table has %d", listed, n)
			return s
		}
		c := make([]uint16, size)
		for j := range c {
			c[j] = r.Uint16()
		}
		s.Clusters = append(s.Clusters, c)
	}
	return s
}

// DecodeSpec decodes Spec.Encode output.
func DecodeSpec(b []byte) (Spec, error) {
	r := codec.NewReader(b)
	s := decodeSpec(r)
	return s, r.Done()
}

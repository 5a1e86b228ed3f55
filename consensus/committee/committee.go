// Package committee holds a consensus committee: its members in canonical
// order, their weights and staking keys, the supermajority and f+1
// thresholds, and stake-weighted leader selection from a seed.
package committee

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// ErrNotMember: an ID that is not in the committee.
var ErrNotMember = errors.New("not a committee member")

// ErrUnknownView: a view no known epoch covers yet, so it has no committee.
var ErrUnknownView = errors.New("view of an unknown epoch")

// MaxTotalWeight bounds the sum of weights so threshold arithmetic cannot
// overflow.
const MaxTotalWeight = 1 << 60

// Member is one committee member.
type Member struct {
	ID         model.NodeID
	Weight     uint64
	StakingKey crypto.PublicKey
	// Possession proves the member holds StakingKey's secret. Without it a
	// member could register a rogue key crafted from others' keys and forge
	// aggregate signatures; New refuses members whose proof does not verify.
	Possession []byte
}

// Committee is immutable after New. Member order is canonical: signer bitmaps
// index into it.
type Committee struct {
	members       []Member
	index         map[model.NodeID]int
	cumulative    []uint64 // cumulative[i] = sum of weights of members[0..i]
	total         uint64
	supermajority uint64
	oneThird      uint64
	seed          [32]byte
	// fixed overrides the seeded leader of some views (WithLeaders).
	fixed map[model.View]model.NodeID
}

// New validates members (unique IDs, positive weights, keys with valid
// proofs of possession) and
// builds the committee. Members are sorted by ID to make the order canonical
// whatever order the caller supplied. The seed drives leader selection.
func New(members []Member, seed [32]byte) (*Committee, error) {
	if len(members) == 0 || len(members) > model.MaxCommitteeSize {
		return nil, fmt.Errorf("committee of %d members: must have 1..%d", len(members), model.MaxCommitteeSize)
	}
	ms := append([]Member(nil), members...)
	sort.Slice(ms, func(i, j int) bool {
		return string(ms[i].ID[:]) < string(ms[j].ID[:])
	})
	c := &Committee{members: ms, index: make(map[model.NodeID]int, len(ms)), cumulative: make([]uint64, len(ms)), seed: seed}
	for i, m := range ms {
		if _, dup := c.index[m.ID]; dup {
			return nil, fmt.Errorf("committee lists member %v twice", m.ID)
		}
		if m.Weight == 0 {
			return nil, fmt.Errorf("committee member %v has zero weight", m.ID)
		}
		if m.StakingKey == nil {
			return nil, fmt.Errorf("committee member %v has no staking key", m.ID)
		}
		if err := VerifyPossession(m.StakingKey, m.Possession); err != nil {
			return nil, fmt.Errorf("committee member %v: %w", m.ID, err)
		}
		if m.Weight > MaxTotalWeight-c.total {
			return nil, fmt.Errorf("committee weight exceeds %d", uint64(MaxTotalWeight))
		}
		c.index[m.ID] = i
		c.total += m.Weight
		c.cumulative[i] = c.total
	}
	// Smallest w with 3w > 2·total, and smallest w with 3w > total.
	c.supermajority = 2*c.total/3 + 1
	c.oneThird = c.total/3 + 1
	return c, nil
}

// Size is the number of members.
func (c *Committee) Size() int { return len(c.members) }

// Members returns the members in canonical order. Callers must not modify it.
func (c *Committee) Members() []Member { return c.members }

// Member returns the member at canonical index i.
func (c *Committee) Member(i int) Member { return c.members[i] }

// Index returns the canonical index of id.
func (c *Committee) Index(id model.NodeID) (int, error) {
	i, ok := c.index[id]
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrNotMember, id)
	}
	return i, nil
}

// WeightOf returns the weight of id, or 0 if it is not a member.
func (c *Committee) WeightOf(id model.NodeID) uint64 {
	if i, ok := c.index[id]; ok {
		return c.members[i].Weight
	}
	return 0
}

// TotalWeight is the sum of all weights.
func (c *Committee) TotalWeight() uint64 { return c.total }

// SupermajorityThreshold is the smallest weight strictly greater than 2/3 of
// the total.
func (c *Committee) SupermajorityThreshold() uint64 { return c.supermajority }

// OneThirdThreshold (f+1) is the smallest weight strictly greater than 1/3 of
// the total: any set this heavy contains at least one honest member.
func (c *Committee) OneThirdThreshold() uint64 { return c.oneThird }

// SignersWeight sums the weight of a signer set defined over this committee.
func (c *Committee) SignersWeight(s model.SignerSet) (uint64, error) {
	if s.Size() != len(c.members) {
		return 0, fmt.Errorf("%w: signer set over %d members, committee has %d", model.ErrInvalid, s.Size(), len(c.members))
	}
	var w uint64
	for i := range c.members {
		if s.Has(i) {
			w += c.members[i].Weight
		}
	}
	return w, nil
}

// Leader returns the leader of view v: a stake-weighted draw from
// SHA-256(seed ‖ v), so every replica computes the same schedule with no
// communication and heavier members lead proportionally more often.
func (c *Committee) Leader(v model.View) model.NodeID {
	if id, ok := c.fixed[v]; ok {
		return id
	}
	r := c.draw(v) % c.total
	i := sort.Search(len(c.cumulative), func(i int) bool { return c.cumulative[i] > r })
	return c.members[i].ID
}

// LeaderWeighted draws the leader of view v from the same seeded hash as
// Leader but with the given weights (canonical order; package reputation
// computes them). Equal to Leader when weights are the members' weights.
// Views fixed by WithLeaders keep their leader. The weights must be as many
// as the members, sum to a positive total, and not overflow 64 bits.
func (c *Committee) LeaderWeighted(v model.View, weights []uint64) model.NodeID {
	if id, ok := c.fixed[v]; ok {
		return id
	}
	var total uint64
	for _, w := range weights {
		total += w
	}
	// The modulo bias is below total/2^64: negligible for the bounded
	// totals reputation produces (≤ 15 · 2^60 at worst, far less in practice).
	r := c.draw(v) % total
	var acc uint64
	for i, w := range weights {
		acc += w
		if acc > r {
			return c.members[i].ID
		}
	}
	return c.members[len(c.members)-1].ID
}

// draw is the seeded hash of view v: SHA-256(seed ‖ v), first 8 bytes.
func (c *Committee) draw(v model.View) uint64 {
	var buf [40]byte
	copy(buf[:32], c.seed[:])
	binary.BigEndian.PutUint64(buf[32:], uint64(v))
	h := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint64(h[:8])
}

// Schedule says which committee owns each view. Epochs change committees
// over time; a view no known epoch covers yet has no committee, and its
// messages are dropped rather than guessed at.
type Schedule interface {
	// CommitteeAt returns the committee of view v, or an error wrapping the
	// schedule's unknown-epoch sentinel.
	CommitteeAt(v model.View) (*Committee, error)
}

// CommitteeAt makes a committee a schedule with itself for every view (the
// simulator, and networks without epoch changes).
func (c *Committee) CommitteeAt(model.View) (*Committee, error) { return c, nil }

// WithLeaders returns a copy of c whose leader for each view in leaders is
// the given member; other views keep the seeded draw. Scenario tests (the
// simulator's Twins-style search) fix the leader of every round this way.
func (c *Committee) WithLeaders(leaders map[model.View]model.NodeID) (*Committee, error) {
	for v, id := range leaders {
		if _, ok := c.index[id]; !ok {
			return nil, fmt.Errorf("leader of view %d: %w: %v", v, ErrNotMember, id)
		}
	}
	cp := *c
	cp.fixed = make(map[model.View]model.NodeID, len(leaders))
	for v, id := range leaders {
		cp.fixed[v] = id
	}
	return &cp, nil
}

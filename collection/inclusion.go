package collection

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// DefaultMaxGuarantees bounds the guarantees one main-chain block carries.
const DefaultMaxGuarantees = 100

// Clusters names the clusters of the epochs a main-chain replica knows.
type Clusters interface {
	// Cluster returns the committee of the cluster whose chain is chain,
	// if chain is a cluster chain of epoch epoch.
	Cluster(epoch uint64, chain model.ChainID) (*committee.Committee, bool)
}

// Inclusion decides which guarantees a main-chain block may carry. A
// block at main height h, extending a fork, may carry a guarantee when:
//
//   - its reference block is a finalized main-chain block (ErrUnknownRef)
//     at most Expiry blocks below h (ErrGuaranteeExpired): the clusters
//     checked every transaction against that reference, so nothing in the
//     collection is older than 2 × Expiry when it is ordered;
//   - its chain is a cluster chain of the reference block's epoch
//     (ErrUnknownCluster), and it verifies against that cluster with one
//     aggregate check (Verify);
//   - its collection is in no other guarantee of the block or of the fork
//     (ErrIncluded), which the main chain's Index of collection IDs
//     answers, with the guarantee's reference height as the entry's.
//
// With the clusters' rules (a transaction in one collection of one
// cluster within its expiry window), this makes a transaction ordered at
// most once.
type Inclusion struct {
	Scheme        crypto.Scheme
	Expiry        uint64
	MaxGuarantees int // 0: DefaultMaxGuarantees
}

func (in *Inclusion) max() int {
	if in.MaxGuarantees > 0 {
		return in.MaxGuarantees
	}
	return DefaultMaxGuarantees
}

// CheckOne applies the rules that do not depend on a fork to one
// guarantee, signature included, for a block at main height height. It
// returns the guarantee's reference height. A proposer checks each
// guarantee once, when it enters its pool; replicas check every guarantee
// of a block they vote on (Check).
func (in *Inclusion) CheckOne(m Main, clusters Clusters, height uint64, g *Guarantee) (uint64, error) {
	refHeight, epoch, ok := m.ref(g.Ref)
	if !ok {
		return 0, fmt.Errorf("%w: guarantee of collection %v references %v", ErrUnknownRef, g.CollectionID, g.Ref)
	}
	if expired(refHeight, height, in.Expiry) {
		return 0, fmt.Errorf("%w: reference at height %d, block at %d, expiry %d", ErrGuaranteeExpired, refHeight, height, in.Expiry)
	}
	cluster, ok := clusters.Cluster(epoch, g.Chain)
	if !ok {
		return 0, fmt.Errorf("%w: chain %v in epoch %d", ErrUnknownCluster, g.Chain, epoch)
	}
	if err := Verify(in.Scheme, g, g.Chain, cluster); err != nil {
		return 0, err
	}
	return refHeight, nil
}

// Check checks the guarantees of a main-chain block at height height on
// a fork, and returns the entries (collection IDs with their reference
// heights) for the main chain's Index.
func (in *Inclusion) Check(m Main, clusters Clusters, height uint64, gs []*Guarantee, fork Fork) ([]Entry, error) {
	if len(gs) > in.max() {
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyGuarantees, len(gs), in.max())
	}
	entries := make([]Entry, 0, len(gs))
	seen := make(map[model.Identifier]struct{}, len(gs))
	for _, g := range gs {
		if _, dup := seen[g.CollectionID]; dup || fork.Seen(g.CollectionID) {
			return nil, fmt.Errorf("%w: collection %v", ErrIncluded, g.CollectionID)
		}
		seen[g.CollectionID] = struct{}{}
		refHeight, err := in.CheckOne(m, clusters, height, g)
		if err != nil {
			return nil, err
		}
		entries = append(entries, Entry{ID: g.CollectionID, RefHeight: refHeight})
	}
	return entries, nil
}

// Pooled is a guarantee that passed CheckOne, with its reference height.
type Pooled struct {
	Guarantee *Guarantee
	RefHeight uint64
}

// Select is the proposer's side of Check, over guarantees already checked
// (CheckOne) when they entered its pool: for a block at height height on
// fork, it takes candidates in order, skipping those expired at height,
// included on the fork or repeated, up to MaxGuarantees and room (the
// Index's). What it returns, Check accepts (the reference blocks stay
// finalized and the clusters known). dead lists the candidates that can
// never be included again (expired, or included on a fork that will not
// lose them: the caller decides, as only it knows what is final).
func (in *Inclusion) Select(height uint64, candidates []Pooled, fork Fork, room int) (take []*Guarantee, entries []Entry, expiredOnes []int) {
	limit := min(in.max(), room)
	seen := make(map[model.Identifier]struct{})
	for i, c := range candidates {
		if len(take) >= limit {
			break
		}
		g := c.Guarantee
		if expired(c.RefHeight, height, in.Expiry) {
			expiredOnes = append(expiredOnes, i)
			continue
		}
		if _, dup := seen[g.CollectionID]; dup || fork.Seen(g.CollectionID) {
			continue
		}
		seen[g.CollectionID] = struct{}{}
		take = append(take, g)
		entries = append(entries, Entry{ID: g.CollectionID, RefHeight: c.RefHeight})
	}
	return take, entries, expiredOnes
}

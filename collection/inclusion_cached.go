package collection

import (
	"fmt"
)

// Verified remembers guarantees whose signature a node already checked.
// Verify is a pure function of the guarantee's encoding and the cluster,
// and a cluster chain's members are fixed for its epoch, so a guarantee
// (same bytes) that verified once verifies again: a consensus replica that
// checked one at intake need not pay the aggregate check a second time
// when a block carries it.
type Verified interface {
	// Has reports whether g was verified for the cluster of its chain.
	Has(g *Guarantee) bool
	// Add records that g verified.
	Add(g *Guarantee)
}

// CheckOneCached is CheckOne with the signature check skipped for
// guarantees verified already remembers, and recorded there when it
// passes. Every other rule (reference, expiry, cluster, weight through
// Verify) applies as in CheckOne.
func (in *Inclusion) CheckOneCached(m Main, clusters Clusters, height uint64, g *Guarantee, verified Verified) (uint64, error) {
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
	if verified != nil && verified.Has(g) {
		return refHeight, nil
	}
	if err := Verify(in.Scheme, g, g.Chain, cluster); err != nil {
		return 0, err
	}
	if verified != nil {
		verified.Add(g)
	}
	return refHeight, nil
}

// Expired reports whether a guarantee whose reference block is at height
// ref may no longer be included in a block at height at.
func (in *Inclusion) Expired(ref, at uint64) bool { return expired(ref, at, in.Expiry) }

package collection

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// ErrInvalid is wrapped by every error that rejects a transaction,
// collection, payload, signature share or guarantee. It wraps
// model.ErrInvalid, so callers that already treat invalid consensus objects
// as benign drops do the same here.
var ErrInvalid = fmt.Errorf("invalid collection object: %w", model.ErrInvalid)

// The rules' sentinels. Each wraps ErrInvalid.
var (
	// ErrUnknownRef: a reference block that is not (yet) a finalized
	// main-chain block as far as this node knows. Unlike the others it can
	// resolve itself: the node may simply be behind on the main chain.
	ErrUnknownRef = fmt.Errorf("%w: unknown reference block", ErrInvalid)
	// ErrRefRegressed: a payload's reference block is lower than its
	// parent's, which would let expired transactions back in.
	ErrRefRegressed = fmt.Errorf("%w: reference block regressed along the fork", ErrInvalid)
	// ErrTooLarge: more transactions or bytes than the Limits allow.
	ErrTooLarge = fmt.Errorf("%w: too large", ErrInvalid)
	// ErrMalformedTx: a transaction without a body or reference block.
	ErrMalformedTx = fmt.Errorf("%w: malformed transaction", ErrInvalid)
	// ErrWrongCluster: a transaction that belongs to another cluster
	// (ClusterOf).
	ErrWrongCluster = fmt.Errorf("%w: transaction of another cluster", ErrInvalid)
	// ErrWrongEpoch: a reference block of another epoch than the cluster's.
	ErrWrongEpoch = fmt.Errorf("%w: reference block of another epoch", ErrInvalid)
	// ErrRefAhead: a transaction whose reference block is higher than the
	// payload's.
	ErrRefAhead = fmt.Errorf("%w: transaction reference ahead of the payload's", ErrInvalid)
	// ErrExpired: a transaction whose reference block is more than Expiry
	// main-chain blocks below the payload's.
	ErrExpired = fmt.Errorf("%w: transaction expired", ErrInvalid)
	// ErrSeen: a transaction already in a collection on the fork (within
	// its expiry window; past it, the transaction is ErrExpired).
	ErrSeen = fmt.Errorf("%w: transaction already collected on this fork", ErrInvalid)
	// ErrRepeated: a transaction twice in one collection.
	ErrRepeated = fmt.Errorf("%w: transaction twice in one collection", ErrInvalid)
)

// The guarantee's sentinels. Each wraps ErrInvalid.
var (
	// ErrWrongChain: a guarantee or share of another cluster chain.
	ErrWrongChain = fmt.Errorf("%w: guarantee of another chain", ErrInvalid)
	// ErrTooLittleWeight: signers of at most 2/3 of the cluster's weight.
	ErrTooLittleWeight = fmt.Errorf("%w: guarantee signers below a supermajority", ErrInvalid)
	// ErrBadSignature: a guarantee's aggregate signature, or a share's
	// signature, that does not verify.
	ErrBadSignature = fmt.Errorf("%w: bad guarantee signature", ErrInvalid)
)

// The main chain's sentinels for the guarantees a block carries
// (Inclusion). Each wraps ErrInvalid.
var (
	// ErrUnknownCluster: a guarantee whose chain is no cluster chain of its
	// reference block's epoch.
	ErrUnknownCluster = fmt.Errorf("%w: guarantee of no cluster of its reference epoch", ErrInvalid)
	// ErrGuaranteeExpired: a guarantee whose reference block is more than
	// Expiry blocks below the block that would include it.
	ErrGuaranteeExpired = fmt.Errorf("%w: guarantee expired", ErrInvalid)
	// ErrIncluded: a collection already included on the fork (or twice in
	// one block).
	ErrIncluded = fmt.Errorf("%w: collection already included on this fork", ErrInvalid)
	// ErrTooManyGuarantees: more than MaxGuarantees in one block.
	ErrTooManyGuarantees = fmt.Errorf("%w: too many guarantees in one block", ErrInvalid)
)

// Errors of the Index. They are not about an object's validity, so they do
// not wrap ErrInvalid.
var (
	// ErrFull: the index holds its maximum number of entries. It is
	// backpressure: a proposer collects nothing until finalization prunes
	// entries, and a replica cannot index (so cannot vote for) a block
	// until then.
	ErrFull = errors.New("collection index full")
	// ErrUnknownBlock: a cluster block the index does not hold: not added,
	// or pruned (finalized over, or on a fork that lost).
	ErrUnknownBlock = errors.New("cluster block not in the index")
)

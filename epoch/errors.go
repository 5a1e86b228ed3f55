package epoch

import (
	"errors"

	"github.com/floe-bft/floe/consensus/committee"
)

var (
	// ErrUnknownEpoch: a view that no known epoch covers (yet). Messages and
	// blocks for such views are dropped, not cached: the node learns the
	// epoch from finalized blocks first.
	ErrUnknownEpoch = committee.ErrUnknownView
	// ErrInvalid: a malformed or inconsistent epoch, identity table or
	// service event.
	ErrInvalid = errors.New("invalid epoch data")
	// ErrRejected: a well-formed service event that the epoch state machine
	// refused (wrong counter or view range, too late, unauthorised, no
	// matching setup, …). The block carrying it stays valid; the event has no
	// effect.
	ErrRejected = errors.New("service event rejected")
	// ErrSettled: the service event already took effect (CheckSettled); a
	// resubmission changes nothing and is not broadcast again.
	ErrSettled = errors.New("service event already in effect")
	// ErrAlreadyQueued: the service event already waits in this node's
	// queue for a block; a resubmission changes nothing.
	ErrAlreadyQueued = errors.New("service event already queued")
)

package consensus

import (
	"errors"

	"github.com/floe-bft/floe/consensus/aggregate"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/forks"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/safety"
)

// Expected conditions returned by Step. The input was dropped (or only its
// valid certificates were used) and the output is still to be applied.
var (
	// ErrStale: a message for a view the replica has moved past.
	ErrStale = errors.New("stale message")
	// ErrNotLeader: a vote sent to a replica that does not lead the next view.
	ErrNotLeader = errors.New("vote for a view this replica does not lead next")
	// ErrInvalid: a message inconsistent with the protocol (see model.ErrInvalid).
	ErrInvalid = model.ErrInvalid
)

// ErrConflictingFinality is fatal: two conflicting blocks are final.
var ErrConflictingFinality = forks.ErrConflictingFinality

// IsFatal reports whether err from Step or New means the replica must stop.
// Everything that is not an expected, benign condition is fatal.
func IsFatal(err error) bool {
	if err == nil {
		return false
	}
	for _, benign := range []error{ErrStale, ErrNotLeader, model.ErrInvalid, forks.ErrOutdated,
		forks.ErrMissingParent, aggregate.ErrOutsideWindow, safety.ErrRefused, committee.ErrNotMember, committee.ErrUnknownView} {
		if errors.Is(err, benign) {
			return errors.Is(err, ErrConflictingFinality)
		}
	}
	return true
}

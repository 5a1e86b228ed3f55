package light

import (
	"errors"

	"github.com/floe-bft/floe/epoch"
)

var (
	// ErrForged: the answer contradicts itself or the client's trusted
	// state — a signature or weight that does not verify, a broken hash
	// link, a payload that does not match its header, an event no governance
	// key signed, a committee that differs between setup and commit. An
	// honest full node never sends one; drop the answer and the peer.
	ErrForged = errors.New("forged light proof")
	// ErrIncomplete: every part of the answer checks out, but something the
	// client needs is missing — the blocks that prove finality, the commit
	// event, the requested block. An honest node behind the chain can send
	// one; ask again later or ask another node.
	ErrIncomplete = errors.New("incomplete light proof")
	// ErrMalformed: the bytes do not decode (truncated, garbage, over a size
	// bound, trailing data).
	ErrMalformed = errors.New("malformed light proof")
	// ErrUnavailable: the source has nothing to prove yet (an epoch not yet
	// committed, a height not yet final) or no longer holds it.
	ErrUnavailable = errors.New("light proof unavailable")
	// ErrUnknownEpoch: a view the client has no committee for yet; advance
	// the client first.
	ErrUnknownEpoch = epoch.ErrUnknownEpoch
	// ErrBadRequest: a request the source refuses for its shape (a key that
	// is empty or too long, a height of zero).
	ErrBadRequest = errors.New("bad light request")
)

package access

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/mempool"
)

// The refusals of Submit. Each wraps the sentinel the API maps to its
// status: a transaction's own fault wraps app.ErrInvalidTx (400, code
// "invalid") or mempool.ErrTooLarge (400, "too_large"); a full queue or
// tracker wraps mempool.ErrFull (503 with Retry-After when the whole batch
// is refused, code "full" per item).
var (
	// ErrMalformed: the bytes are not a well-formed collection.Tx.
	ErrMalformed = fmt.Errorf("%w: malformed transaction", app.ErrInvalidTx)
	// ErrTooLarge: the transaction's encoding exceeds the collection
	// limits' MaxTxBytes.
	ErrTooLarge = fmt.Errorf("%w: %w", mempool.ErrTooLarge, errors.New("transaction exceeds the collection limit"))
	// ErrUnknownRef: the reference block is not a finalized main-chain
	// block this node holds (too new for it, too old, or not a block).
	ErrUnknownRef = fmt.Errorf("%w: reference block unknown (not a finalized main-chain block this node holds)", app.ErrInvalidTx)
	// ErrExpiredRef: the reference block is more than Expiry blocks below
	// the finalized height; no cluster would collect the transaction.
	ErrExpiredRef = fmt.Errorf("%w: reference block expired", app.ErrInvalidTx)
	// ErrBusy: the cluster's queue or the tracker is full; retry later.
	ErrBusy = fmt.Errorf("%w: access node busy, retry", mempool.ErrFull)
	// ErrNoRoute: the reference block's epoch has no cluster with a
	// reachable member (no clusters, or none listing an API).
	ErrNoRoute = errors.New("no collector to route the transaction to")
)

// Refusal reasons in the metrics (floe_access_refused_total{reason}).
const (
	reasonMalformed = "malformed"
	reasonTooLarge  = "too_large"
	reasonUnknown   = "unknown_ref"
	reasonExpired   = "expired_ref"
	reasonBusy      = "busy"
	reasonNoRoute   = "no_route"
	reasonUnauth    = "unauthorized"
	reasonCannotPay = "cannot_pay"
	reasonNoAccount = "accounts_unavailable"
)

// signedReason is the metrics reason of a refused signed transaction.
func signedReason(err error) string {
	switch {
	case errors.Is(err, ErrUnauthorizedTx):
		return reasonUnauth
	case errors.Is(err, ErrCannotPay):
		return reasonCannotPay
	case errors.Is(err, ErrAccountsUnavailable):
		return reasonNoAccount
	default:
		return reasonMalformed
	}
}

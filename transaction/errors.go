package transaction

import (
	"errors"

	"github.com/floe-bft/floe/account"
)

// Expected failures. Decoding errors wrap ErrMalformed or ErrTooLarge;
// Check's verdict carries one of the others (wrapped with context).
var (
	// ErrMalformed: the bytes are not a canonical transaction, or a
	// transaction breaks a structural rule (limits, duplicates, order,
	// signers outside their roles). Also wraps codec.ErrMalformed for
	// decoding errors.
	ErrMalformed = errors.New("malformed transaction")
	// ErrTooLarge: the encoding is above MaxSize.
	ErrTooLarge = errors.New("transaction too large")
	// ErrInvalidAddress: an address that is not valid on the chain.
	ErrInvalidAddress = account.ErrInvalidAddress
	// ErrUnknownAccount: a role names an account that does not exist.
	ErrUnknownAccount = account.ErrUnknownAccount
	// ErrUnknownKey: a signature or the proposal key names a key index
	// the account does not have.
	ErrUnknownKey = errors.New("unknown account key")
	// ErrRevokedKey: a signature or the proposal key uses a revoked key.
	ErrRevokedKey = errors.New("revoked account key")
	// ErrInvalidSignature: a signature does not verify over its message.
	ErrInvalidSignature = account.ErrInvalidSignature
	// ErrInsufficientWeight: the valid signatures of the payer or of an
	// authorizer weigh less than account.Threshold.
	ErrInsufficientWeight = errors.New("insufficient key weight")
	// ErrMissingProposalSignature: the proposal key did not sign.
	ErrMissingProposalSignature = errors.New("proposal key did not sign")
	// ErrSequenceNumber: the proposal key's sequence number is not the
	// transaction's: a replay, or a transaction out of order.
	ErrSequenceNumber = errors.New("wrong sequence number")
	// ErrSigningOrder: a payload signature added after the envelope was
	// signed (it would invalidate the envelope signatures).
	ErrSigningOrder = errors.New("payload signed after envelope")
)

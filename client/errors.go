package client

import "errors"

// Expected failures of the account and signed-transaction helpers,
// wrapped with %w and context.
var (
	// ErrNoAccount: the access node has no account at the address.
	ErrNoAccount = errors.New("no such account")
	// ErrKeyMismatch: a wallet names a key the account does not have,
	// whose public key or algorithms are not the wallet's, or which is
	// revoked.
	ErrKeyMismatch = errors.New("wallet key does not match the account")
	// ErrInsufficientWeight: the wallets given for an account (the payer
	// or an authorizer) weigh less than account.Threshold together, so
	// the network would refuse the transaction.
	ErrInsufficientWeight = errors.New("wallet keys weigh less than the threshold")
	// ErrBadAnswer: a node's answer that does not decode (a key with an
	// unknown algorithm, a chain or block ID that is not hex, an event
	// payload of the wrong size).
	ErrBadAnswer = errors.New("malformed answer from the node")
	// ErrTxFailed: the transaction executed and failed; the error carries
	// the VM's reason.
	ErrTxFailed = errors.New("transaction failed")
	// ErrOutcomeUnknown: the access node says the transaction executed
	// but no execution node has told it the outcome yet.
	ErrOutcomeUnknown = errors.New("transaction executed, outcome not yet known")
	// ErrInvalidArg: a call argument or amount the CLI syntax does not
	// accept.
	ErrInvalidArg = errors.New("invalid argument")
)

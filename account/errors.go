package account

import "errors"

// Expected failures, wrapped with %w by the functions that return them.
var (
	// ErrInvalidAddress: not an address of this chain (a typo, an address of
	// another chain, index 0 or out of range, or not 16 hex digits).
	ErrInvalidAddress = errors.New("invalid address")
	// ErrInvalidKey: a key whose algorithms are unknown or mismatched, whose
	// public key does not decode to a usable curve point, or whose weight
	// is out of range.
	ErrInvalidKey = errors.New("invalid account key")
	// ErrInvalidSignature: the signature does not verify under the key.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrUnknownAccount: no account at the address. Returned by key
	// lookups (the VM's state), defined here so every layer shares it.
	ErrUnknownAccount = errors.New("unknown account")
	// ErrKeyFile: a key file that cannot be written or read back
	// (exists already, wrong permissions, bad JSON, inconsistent key).
	ErrKeyFile = errors.New("key file")
)

package fvm

import "errors"

// Why a transaction failed: the Result's Error starts with one of these
// (a transaction's failure is its outcome, not a Go error). ErrCorruptState
// is different: the state holds what the VM never writes, so execution
// stops.
var (
	// ErrMalformed: the body does not decode as a transaction.
	ErrMalformed = errors.New("malformed transaction")
	// ErrUnauthorized: transaction.Check refused it (the reason follows).
	ErrUnauthorized = errors.New("not authorized")
	// ErrInsufficientBalance: the payer cannot pay for the gas limit, or
	// an account cannot cover a transfer.
	ErrInsufficientBalance = errors.New("insufficient balance")
	// ErrOutOfGas: the transaction used its whole gas limit.
	ErrOutOfGas = errors.New("out of gas")
	// ErrNoAccount: an operation names an account that does not exist.
	ErrNoAccount = errors.New("no such account")
	// ErrNoProgram: a call names an account without a program.
	ErrNoProgram = errors.New("no program deployed")
	// ErrKeyIndex: AddKey past the account's key limit, RevokeKey of a key
	// that does not exist or is revoked already.
	ErrKeyIndex = errors.New("invalid key index")
	// ErrAccountsExhausted: no account index left.
	ErrAccountsExhausted = errors.New("no account index left")
	// ErrProgram: the program failed (trapped, aborted, went too deep,
	// broke an ownership rule); the reason follows.
	ErrProgram = errors.New("program failed")
	// ErrInvalidProgram: Deploy of a module the runtime refuses.
	ErrInvalidProgram = errors.New("invalid program")
	// ErrCorruptState: a register holds a value the VM never writes.
	ErrCorruptState = errors.New("fvm: corrupt account state")
)

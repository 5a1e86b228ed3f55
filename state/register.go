// Package state is the execution state of a pipeline network: registers
// (owner, key) → value, committed to by a 32-byte sparse Merkle root (the
// same commitment as package app/merkle, so merkle.Verify checks its
// single-register proofs), with values and interior nodes on disk.
//
// This file holds what every user of the state shares: the register's
// name, the read interface executors and programs read through, and a
// write. The disk-backed store, proofs and snapshots are beside it.
package state

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/codec"
)

// Limits of a register's name and value. An owner is an account address
// (8 bytes with accounts) or empty for network-wide registers; keys are
// program-chosen names.
const (
	MaxOwnerSize = 32
	MaxKeySize   = 256
	MaxValueSize = 64 << 10
)

// ErrInvalidRegister wraps every reason a register ID or value is refused.
var ErrInvalidRegister = errors.New("invalid register")

// RegisterID names one register. Owner and Key are byte strings held in
// Go strings so that IDs are comparable map keys.
type RegisterID struct {
	Owner string
	Key   string
}

// ID builds a register ID from byte slices.
func ID(owner, key []byte) RegisterID { return RegisterID{Owner: string(owner), Key: string(key)} }

// Check reports whether the ID is within the limits: a key of 1 to
// MaxKeySize bytes and an owner of at most MaxOwnerSize.
func (id RegisterID) Check() error {
	switch {
	case len(id.Owner) > MaxOwnerSize:
		return fmt.Errorf("%w: owner of %d bytes, at most %d", ErrInvalidRegister, len(id.Owner), MaxOwnerSize)
	case len(id.Key) == 0:
		return fmt.Errorf("%w: empty key", ErrInvalidRegister)
	case len(id.Key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes, at most %d", ErrInvalidRegister, len(id.Key), MaxKeySize)
	}
	return nil
}

// Encode is the ID's canonical encoding: u8 owner length, owner, u16 key
// length, key. It is what the Merkle path hashes, so two distinct IDs
// never share a path (up to SHA-256 collisions).
func (id RegisterID) Encode() []byte {
	w := codec.NewWriter(1 + len(id.Owner) + 2 + len(id.Key))
	w.Uint8(uint8(len(id.Owner)))
	w.Fixed([]byte(id.Owner))
	w.Bytes16([]byte(id.Key))
	return w.Bytes()
}

// DecodeRegisterID decodes Encode's output; errors wrap ErrInvalidRegister.
func DecodeRegisterID(b []byte) (RegisterID, error) {
	r := codec.NewReader(b)
	n := int(r.Uint8())
	if n > MaxOwnerSize {
		return RegisterID{}, fmt.Errorf("%w: owner of %d bytes, at most %d", ErrInvalidRegister, n, MaxOwnerSize)
	}
	owner := make([]byte, n)
	r.Fixed(owner)
	key := r.Bytes16(MaxKeySize, "register key")
	if err := r.Done(); err != nil {
		return RegisterID{}, fmt.Errorf("%w: %v", ErrInvalidRegister, err)
	}
	id := ID(owner, key)
	return id, id.Check()
}

// Path is the register's place in the Merkle tree: SHA-256 of Encode.
func (id RegisterID) Path() merkle.Hash { return merkle.KeyHash(id.Encode()) }

// String is for logs and errors.
func (id RegisterID) String() string { return fmt.Sprintf("%x/%q", id.Owner, id.Key) }

// Reader reads registers of one state version. Get returns nil for an
// absent register (values are never empty, so nil is unambiguous); an
// error means the state could not be read (storage failure, a version no
// longer held) and must stop whoever executes, never be taken as absence.
// Implementations are safe for concurrent use.
type Reader interface {
	Get(id RegisterID) ([]byte, error)
}

// Write sets a register; a nil Value deletes it.
type Write struct {
	ID    RegisterID
	Value []byte
}

// CheckValue reports whether v may be stored: nil (a delete) or 1 to
// MaxValueSize bytes. An empty non-nil value would be indistinguishable
// from absence in proofs.
func CheckValue(v []byte) error {
	if v != nil && (len(v) == 0 || len(v) > MaxValueSize) {
		return fmt.Errorf("%w: value of %d bytes (1 to %d, or nil to delete)", ErrInvalidRegister, len(v), MaxValueSize)
	}
	return nil
}

// MapReader is an in-memory Reader (tests, and the overlay of writes not
// yet committed). It must not be modified while read.
type MapReader map[RegisterID][]byte

// Get returns the value or nil.
func (m MapReader) Get(id RegisterID) ([]byte, error) { return m[id], nil }

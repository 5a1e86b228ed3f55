// Package model holds the immutable consensus objects of Jolteon: blocks,
// proposals, votes, quorum certificates (QC), timeout objects and timeout
// certificates (TC), with validating constructors and a canonical binary
// encoding. Identifiers are SHA-256 hashes of canonical encodings.
//
// Constructors and decoders check everything that can be checked without a
// committee or keys (shapes, sizes, internal consistency). Signature and
// weight checks need the committee and live in consensus/verify.
package model

import (
	"encoding/hex"
	"fmt"
)

// View is a consensus round number. Views only grow.
type View uint64

// Identifier is a 32-byte hash: block IDs and node IDs.
type Identifier [32]byte

// NodeID identifies a committee member.
type NodeID = Identifier

// ZeroID is the all-zero identifier, never the ID of a real block.
var ZeroID Identifier

// String returns the first 8 hex characters, enough for logs and traces.
func (id Identifier) String() string { return hex.EncodeToString(id[:4]) }

// Hex returns the full hex encoding.
func (id Identifier) Hex() string { return hex.EncodeToString(id[:]) }

// ParseIdentifier decodes a 64-character hex string.
func ParseIdentifier(s string) (Identifier, error) {
	var id Identifier
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: identifier must be 64 hex characters", ErrInvalid)
	}
	copy(id[:], b)
	return id, nil
}

// Limits on decoded sizes. They bound memory per message, whatever a peer sends.
const (
	// MaxCommitteeSize bounds signer bitmaps and per-signer lists.
	MaxCommitteeSize = 4096
	// MaxSignatureSize bounds any encoded signature (BLS G2 is 96 bytes).
	MaxSignatureSize = 192
	// MaxPayloadSize bounds a block payload on the wire. Nodes configure a
	// smaller limit for what they build and accept.
	MaxPayloadSize = 64 << 20
)

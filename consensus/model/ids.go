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
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// View is a consensus round number. Views only grow.
type View uint64

// Identifier is a 32-byte hash: block IDs and node IDs.
type Identifier [32]byte

// NodeID identifies a committee member.
type NodeID = Identifier

// ProtocolVersion is the version of everything this build signs, encodes
// and stores for a chain: block headers, the signed byte strings, the wire
// frames and the store layout. Genesis files, peers (TLS ALPN) and data
// directories carry it, and a build refuses any other version. Version 2
// put the chain ID into headers and signed messages; version 3 moved the
// execution result out of the header into the payload, which is committed
// to section by section; version 4 gave every identity a role and every
// epoch its collector clusters (the EpochSetup and stored epoch encodings).
const ProtocolVersion = 4

// ChainID names one chain: the main chain of a network, or one collector
// cluster's chain in one epoch. It is in every block header and every
// signed byte string, so a message or certificate of one chain never
// verifies on another, even where the same keys sign on both.
type ChainID = Identifier

// MainChain derives the ID of a network's main chain from the chain name in
// its genesis file.
func MainChain(name string) ChainID {
	return sha256.Sum256([]byte("floe/chain/main\x00" + name))
}

// ClusterChain derives the ID of collector cluster index's chain in epoch
// of the network whose main chain is main. Each epoch's cluster chains are
// new chains: nothing signed for one is valid on another.
func ClusterChain(main ChainID, epoch uint64, index uint32) ChainID {
	var b [len("floe/chain/cluster\x00") + 32 + 8 + 4]byte
	n := copy(b[:], "floe/chain/cluster\x00")
	n += copy(b[n:], main[:])
	binary.BigEndian.PutUint64(b[n:], epoch)
	binary.BigEndian.PutUint32(b[n+8:], index)
	return sha256.Sum256(b[:])
}

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

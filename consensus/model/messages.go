package model

import "encoding/binary"

// The byte strings that get signed. Each is signed under its own domain
// (crypto.Domain*), so equal bytes in two kinds can never be confused, and
// each starts with the chain it belongs to, so nothing signed on one chain
// verifies on another.

// VoteMessage is what a vote (and every QC signer) signs:
// (chain, view, block ID).
func VoteMessage(chain ChainID, view View, blockID Identifier) []byte {
	msg := make([]byte, 32+8+32)
	copy(msg, chain[:])
	binary.BigEndian.PutUint64(msg[32:], uint64(view))
	copy(msg[40:], blockID[:])
	return msg
}

// TimeoutMessage is what a timeout (and every TC signer) signs:
// (chain, view, newest QC view). Signers with the same newest QC view sign
// the same bytes, which is what lets a TC verify with one aggregated key
// per distinct newest-QC view.
func TimeoutMessage(chain ChainID, view, newestQCView View) []byte {
	msg := make([]byte, 32+16)
	copy(msg, chain[:])
	binary.BigEndian.PutUint64(msg[32:], uint64(view))
	binary.BigEndian.PutUint64(msg[40:], uint64(newestQCView))
	return msg
}

// ProposalMessage is what a leader signs when it proposes a block:
// (chain, block ID). The block ID covers the header, its chain included,
// the view, the parent QC and the TC.
func ProposalMessage(chain ChainID, blockID Identifier) []byte {
	msg := make([]byte, 64)
	copy(msg, chain[:])
	copy(msg[32:], blockID[:])
	return msg
}

package model

import "encoding/binary"

// The byte strings that get signed. Each is signed under its own domain
// (crypto.Domain*), so equal bytes in two kinds can never be confused.

// VoteMessage is what a vote (and every QC signer) signs: (view, block ID).
func VoteMessage(view View, blockID Identifier) []byte {
	msg := make([]byte, 8+32)
	binary.BigEndian.PutUint64(msg, uint64(view))
	copy(msg[8:], blockID[:])
	return msg
}

// TimeoutMessage is what a timeout (and every TC signer) signs:
// (view, newest QC view). Signers with the same newest QC view sign the same
// bytes, which is what lets a TC verify with one aggregated key per distinct
// newest-QC view.
func TimeoutMessage(view, newestQCView View) []byte {
	msg := make([]byte, 16)
	binary.BigEndian.PutUint64(msg, uint64(view))
	binary.BigEndian.PutUint64(msg[8:], uint64(newestQCView))
	return msg
}

// ProposalMessage is what a leader signs when it proposes a block. The block
// ID covers the view, the parent QC and the TC.
func ProposalMessage(blockID Identifier) []byte {
	return append([]byte(nil), blockID[:]...)
}

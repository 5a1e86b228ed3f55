// Package transaction holds floe's signed transactions: their canonical
// binary encoding, the byte strings their signers sign, and the
// authorization check that decides, given the accounts' keys, whether a
// transaction may run, whether its payer may be charged and whether its
// proposal key's sequence number advances.
//
// A transaction names a proposer (one key, whose sequence number orders and
// de-duplicates the account's transactions), a payer (who pays the fee)
// and authorizers (whose accounts the operation acts on), as in Flow. The
// proposer and the authorizers sign the payload; the payer signs the
// envelope, which covers the payload and the payload signatures. Every
// signed byte string starts with a domain tag and the chain ID, so nothing
// signed for one chain or one purpose is valid for another.
//
// Decoding and checking are pure and deterministic: the same bytes and the
// same keys give the same verdict on every node. Execution (fees, programs,
// state changes) is the VM's; this package only says who signed what.
package transaction

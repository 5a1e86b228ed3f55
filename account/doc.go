// Package account holds what a floe account is made of outside the VM:
// addresses, account keys and the signatures those keys make.
//
// Addresses are codewords of an extended BCH code [64,45,8], shifted by a
// per-chain constant, so a mistyped address (up to 7 flipped bits) and an
// address of another chain are refused before anything is looked up. Keys
// are weighted (Threshold = 1000 authorizes an account), revocable and carry
// the account's replay-protecting sequence number. Signatures are ECDSA P-256
// over SHA2-256 or SHA3-256, or Ed25519 (cofactored, strict encodings, so
// that single and batch verification always agree).
//
// The package is pure: no global mutable state, no I/O except the key file
// helpers. The transaction package builds signed transactions on it, and the
// VM and the ingress nodes verify them with VerifySignature and VerifyBatch.
package account

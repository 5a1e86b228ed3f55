// Package execution turns finalized main-chain blocks into execution
// results: it executes a block's collections in block order (in parallel,
// with blockstm, the outcome equal to sequential execution) over the
// disk-backed register state (package state), commits the state after
// each collection so every chunk has its own start and end commitment,
// and keeps, per chunk, a data pack from which a verifier can re-execute
// the chunk with no other state (VerifyChunk).
//
// It is pure of networking: the execution role (role/execution) feeds it
// blocks and collections, signs receipts for its results and serves its
// reads. docs/execution.md describes the design.
package execution

// Package light is floe's light client: it follows the chain from the
// genesis identity table alone, learning each later epoch's committee from a
// few blocks instead of the whole chain, and then checks that blocks are
// final and reads application state with Merkle proofs.
//
// The trust argument (docs/light.md) in one paragraph: a QC is a
// supermajority of an epoch's committee signing a block, and honest members
// only sign blocks of their own epoch that extend a valid chain. A block is
// final when it is followed by a certified child in the next view (2-chain
// rule). So a short segment of hash-linked headers whose QCs verify against
// epoch N's committee proves, under the usual assumption that less than a
// third of N's weight is byzantine, that the blocks it finalizes are on the
// one finalized chain; the EpochSetup and EpochCommit events in such blocks,
// signed by a governance key named in genesis, name epoch N+1's committee.
//
// The package has both halves: Client verifies; ChainSource builds proofs
// from a node's finalized blocks; Handler and HTTPSource carry them over
// HTTP. Every proof has a canonical binary encoding with hard size bounds.
package light

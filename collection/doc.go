// Package collection holds what collector clusters agree on and certify:
// the transaction envelope (Tx), the ordered batch a cluster block carries
// (Collection, inside a Payload), the validity rules a cluster replica
// applies to a payload and a proposer applies when it builds one (Rules),
// the fork-aware index that keeps a transaction from being collected twice
// (Index), and the certificate consensus nodes see instead of the
// transactions (Guarantee), with the Aggregator that builds it from the
// cluster members' signature shares.
//
// The package is pure: no goroutines, no clocks, no I/O. Everything it
// needs of the main chain comes through the RefLookup interface, and a
// caller owns the concurrency.
//
// Every error that rejects a transaction, collection, payload, share or
// guarantee wraps ErrInvalid, which wraps model.ErrInvalid: the object is
// dropped, nothing changes. See docs/pipeline.md for the design decisions.
package collection

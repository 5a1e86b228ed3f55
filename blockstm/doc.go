// Package blockstm executes a block's transactions in parallel with the
// result of executing them one after another: the same per-transaction
// results and events, the same read and write sets, the same final
// writes, byte for byte.
//
// Execute follows Block-STM (Gelashvili et al., 2022): transactions run
// optimistically against a multi-version memory that holds, per register,
// the value each transaction wrote; each run records what it read and
// from which writer, and is validated by re-reading; a transaction whose
// reads changed is re-executed, and its writes are first marked as
// estimates so that transactions reading them wait for it instead of
// running on stale data. A collaborative scheduler hands out execution and
// validation tasks in the block's order, so the transaction that decides
// everyone else's reads is always the first to be run again. Sequential
// is the reference: one pass in order, through the same View.
//
// How many workers run is a node setting (Options.Workers), never a
// protocol rule: every setting yields the same Output. All concurrency of
// block execution lives in this package; Func is called from several
// goroutines and must be deterministic in (i, what it read). See
// docs/blockstm.md for the design, the argument that Execute equals
// Sequential, and measurements.
package blockstm

// Package access is the access role (floe start with role = "access"):
// the node users submit transactions to in a pipeline network
// (docs/pipeline.md, "The access role").
//
// An access node follows the main chain as an observer (role/observer: it
// serves blocks, the stream and status like one) and adds the transaction
// path: it checks each submitted collection.Tx (well formed, within size,
// reference block finalized and known here, not expired), routes it to
// cluster txID mod k of its reference block's epoch, and hands it to
// Redundancy members of that cluster through a bounded queue per cluster.
// It tracks every transaction it took through pending → collected →
// finalized → executed (or expired, or failed) and streams those
// transitions (GET /v1/access/events).
//
// Assembly: Service is the transaction path, independent of how the main
// chain arrives (Chain, Directory: tests feed synthetic blocks); Node is
// Service + observer.Observer. Goroutines: the block processor (the
// observer's OnFinalized only wakes it, so the follower never waits), one
// forwarder per cluster queue, the collector poller and its workers.
package access

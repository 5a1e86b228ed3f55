package api

import (
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/storage"
)

// TxStatus is what a node knows about one transaction.
type TxStatus struct {
	ID     model.Identifier
	Status string // "pending", "finalized" or "unknown"
	Result *storage.TxResult
	// Stages is an access node's record of the transaction's steps
	// (api/access.go); nil on other roles.
	Stages *TxStages
	// Execution is where and how a pipeline network executed it (an
	// execution node's own record, or what an access node fetched from
	// one); nil elsewhere.
	Execution *TxExecution
}

// TxExecution is a transaction's execution in a pipeline network: the
// execution result it belongs to (its ID is what receipts sign), its
// chunk, the computation it used and the events it emitted.
type TxExecution struct {
	Result      string      `json:"result"`
	Chunk       uint16      `json:"chunk"`
	Computation uint64      `json:"computation"`
	Events      []EventInfo `json:"events"`
}

// EventInfo is one event: its type and payload (hex).
type EventInfo struct {
	Type    string `json:"type"`
	Payload string `json:"payload"`
}

// Submission is the outcome of submitting one transaction.
type Submission struct {
	ID    model.Identifier
	Error error // nil when accepted into the mempool (or already known)
}

// PeerState describes a peer for the status API.
type PeerState struct {
	ID        model.NodeID
	Name      string
	Address   string
	Connected bool
}

// Status is the node's view of itself.
type Status struct {
	NodeID  model.NodeID
	Name    string
	ChainID string
	View    model.View
	// Leader leads View as this node computes it (with leader reputation:
	// for a block extending its newest QC); zero when unknown (a follower,
	// or the newest QC's block not here yet).
	Leader          model.NodeID
	FinalizedHeight uint64
	FinalizedID     model.Identifier
	ExecutedHeight  uint64
	StateRoot       [32]byte
	Syncing         bool   // behind the best height peers report
	BestPeerHeight  uint64 // highest finalized height a peer reported
	MempoolTxs      int
	MempoolBytes    int
	Committee       []CommitteeMember // of the current view's epoch
	Peers           []PeerState
	Epoch           EpochSummary  // the current view's epoch (or the newest known)
	NextEpoch       *EpochSummary // committed and not yet started
	PendingSetup    *EpochSummary // an EpochSetup finalized and awaiting its commit
}

// EpochSummary summarises an epoch.
type EpochSummary struct {
	Counter   uint64
	FirstView model.View
	FinalView model.View
	Members   int            // the whole identity table, every role
	Roles     map[string]int // members by role name
	// Clusters are the collector clusters, by member name.
	Clusters [][]string
}

// CommitteeMember is one member of the current committee.
type CommitteeMember struct {
	ID     model.NodeID
	Name   string
	Weight uint64
}

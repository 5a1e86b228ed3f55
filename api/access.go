package api

// What an access node adds to GET /v1/transactions/{id} (docs/pipeline.md,
// "The access role"): where a transaction it took is in the pipeline.

// Statuses of a transaction tracked by an access node, in life order.
// Expired and failed are final like executed: expired means no cluster
// collected it before its reference block's expiry (resubmit with a newer
// reference), failed that no collector of its cluster took it.
const (
	TxPending   = "pending"
	TxCollected = "collected"
	TxFinalized = "finalized"
	TxExecuted  = "executed"
	TxExpired   = "expired"
	TxFailed    = "failed"
)

// TxStages is an access node's record of one transaction's life: each step
// is set once reached. Times are Unix nanoseconds on the access node's
// clock.
type TxStages struct {
	// RefHeight is the height of the transaction's reference block, Epoch
	// its epoch counter and Cluster the index of the cluster that collects
	// it (txID mod k).
	RefHeight uint64 `json:"ref_height"`
	Epoch     uint64 `json:"epoch"`
	Cluster   int    `json:"cluster"`
	// Collection and ClusterChain name the collection that carries it.
	Collection   string `json:"collection,omitempty"`
	ClusterChain string `json:"cluster_chain,omitempty"`
	// FinalizedHeight is the main-chain block that carries the collection's
	// guarantee; ExecutedHeight the executed height of the first finalized
	// result that covers it.
	FinalizedHeight uint64 `json:"finalized_height,omitempty"`
	ExecutedHeight  uint64 `json:"executed_height,omitempty"`
	// Error says why a failed transaction failed.
	Error string `json:"error,omitempty"`
	// OK and ExecError are an executed transaction's outcome as an
	// execution node reports it (fetched when first asked; absent until
	// one answered).
	OK        *bool  `json:"ok,omitempty"`
	ExecError string `json:"exec_error,omitempty"`

	SubmittedAt int64 `json:"submitted_at"`
	CollectedAt int64 `json:"collected_at,omitempty"`
	FinalizedAt int64 `json:"finalized_at,omitempty"`
	ExecutedAt  int64 `json:"executed_at,omitempty"`
	ExpiredAt   int64 `json:"expired_at,omitempty"`
	FailedAt    int64 `json:"failed_at,omitempty"`
}

// TxEvent is one status transition on an access node's event stream
// (GET /v1/access/events): Height is the main-chain height of the step
// (finalized: the block with the guarantee; executed: the executed height;
// expired: the finalized height that expired it), Collection the
// collection once known.
type TxEvent struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Height     uint64 `json:"height,omitempty"`
	Collection string `json:"collection,omitempty"`
	UnixNanos  int64  `json:"unix_nanos"`
}

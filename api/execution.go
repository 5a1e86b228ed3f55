package api

// ExecutionResultResponse answers an execution node's
// GET /v1/execution/results/{height}: the result it computed for the
// block, and the one it published when a test fault made them differ.
type ExecutionResultResponse struct {
	Height    uint64 `json:"height"`
	Block     string `json:"block"`
	Result    string `json:"result"`
	EndState  string `json:"end_state"`
	Chunks    int    `json:"chunks"`
	Published string `json:"published,omitempty"`
	// Encoded is the result's canonical encoding (hex).
	Encoded string `json:"encoded"`
}

// ResultInfo is one executor's result in a disagreement.
type ResultInfo struct {
	Result       string `json:"result"`
	Executor     string `json:"executor,omitempty"`
	ExecutorName string `json:"executor_name,omitempty"`
	EndState     string `json:"end_state,omitempty"`
	// Receipt is the receipt's canonical encoding (hex): signed by the
	// executor, checkable by anyone holding the epoch's identities.
	Receipt string `json:"receipt,omitempty"`
}

// Disagreement is a finalized block for which finalized main-chain blocks
// incorporated two different execution results: at most one of them is
// what executing the block gives. Verification and sealing will decide
// which; until then it is evidence for operators.
type Disagreement struct {
	Height uint64 `json:"height"`
	Block  string `json:"block"`
	// IncludedAt is the main-chain height whose block carried the second
	// result.
	IncludedAt uint64 `json:"included_at"`
	// Results are the result incorporated first (its ID) and the
	// disagreeing receipt.
	Results [2]ResultInfo `json:"results"`
}

// DisagreementsResponse is the body of a consensus node's
// GET /v1/execution/disagreements.
type DisagreementsResponse struct {
	Disagreements []Disagreement `json:"disagreements"`
	Dropped       int            `json:"dropped"`
}

// ExecutionStateResponse answers an execution node's
// GET /v1/execution/state/{key}?height=H: the network-wide register named
// key (owner empty) in the end state of executed height H, with its
// Merkle proof against that state root. The proof is over the register's
// encoding (state.RegisterID.Encode), not the raw key:
// merkle.Verify(root, state.RegisterID{Key: key}.Encode(), value, proof).
// An absent register is Found false with a proof of its absence.
type ExecutionStateResponse struct {
	// Owner is the register's owner in hex, empty for a network-wide
	// register (what the key/value application writes).
	Owner string `json:"owner,omitempty"`
	Key   string `json:"key"`
	Found bool   `json:"found"`
	Value string `json:"value,omitempty"`
	Proof string `json:"proof"`
	// Height is the executed height whose end state was read, EndState
	// that state's root and Result this node's own result for the height
	// (the one its receipt signs, unless a test fault made them differ).
	Height   uint64 `json:"height"`
	EndState string `json:"end_state"`
	Result   string `json:"result"`
}

// MaxRegistersPerRequest bounds the registers of one
// ExecutionRegistersRequest.
const MaxRegistersPerRequest = 256

// RegisterRef names a register: owner (empty: network-wide) and key, hex.
type RegisterRef struct {
	Owner string `json:"owner,omitempty"`
	Key   string `json:"key"`
}

// ExecutionRegistersRequest is the body of an execution node's
// POST /v1/execution/registers: registers to read in the end state of
// executed height Height (0: the newest), with one batch proof.
type ExecutionRegistersRequest struct {
	Height    uint64        `json:"height,omitempty"`
	Registers []RegisterRef `json:"registers"`
}

// ExecutionRegistersResponse answers it: a state.BatchProof (hex of its
// encoding) covering every register asked for, with their values or
// their absence, against EndState, the end state of executed height
// Height (Result is this node's result for it). state.VerifyBatch checks
// it against a root you trust; BatchProof.Get then reads each register.
type ExecutionRegistersResponse struct {
	Height   uint64 `json:"height"`
	EndState string `json:"end_state"`
	Result   string `json:"result"`
	Proof    string `json:"proof"`
}

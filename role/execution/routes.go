package execution

import (
	"net/http"

	"github.com/floe-bft/floe/api"
)

// StatusResponse answers GET /v1/execution/status: how far the node
// executed, the newest receipt it signed and what each consensus node
// accepted, and the evidence of collections no guarantor served (open:
// still missing, execution waits for them; resolved: the most recent
// that a guarantor served at last).
type StatusResponse struct {
	ExecutedHeight  uint64 `json:"executed_height"`
	FinalizedHeight uint64 `json:"finalized_height"`
	// Result and EndState are the newest executed block's own result
	// and its state commitment.
	Result        string          `json:"result"`
	EndState      string          `json:"end_state"`
	ReceiptHeight uint64          `json:"receipt_height"`
	Receipts      []ReceiptTarget `json:"receipts"`
	Missing       []MissingRecord `json:"missing"`
	Resolved      []MissingRecord `json:"resolved"`
}

// ReceiptTarget is one consensus node receipts go to.
type ReceiptTarget struct {
	URL string `json:"url"`
	// AnsweredHeight: the node answered (took, or refused for good) every
	// receipt up to this height.
	AnsweredHeight uint64 `json:"answered_height"`
}

// Routes serves the execution node's own endpoints (api.RouteProvider):
// GET /v1/execution/status, /v1/execution/results/{height},
// /v1/execution/packs/{chunk}, /v1/execution/snapshot/{height},
// /v1/execution/state/{key}; POST /v1/execution/registers.
func (n *Node) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("GET /v1/execution/status", func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, http.StatusOK, n.ExecutionStatus())
	})
	handle("GET /v1/execution/results/{height}", n.handleResult)
	handle("GET /v1/execution/packs/{chunk}", n.handlePack)
	handle("GET /v1/execution/snapshot/{height}", n.handleSnapshot)
	handle("GET /v1/execution/state/{key}", n.handleState)
	handle("POST /v1/execution/registers", n.handleRegisters)
}

var _ api.RouteProvider = (*Node)(nil)

// ExecutionStatus is what GET /v1/execution/status answers.
func (n *Node) ExecutionStatus() StatusResponse {
	at := n.runner.executed.Load()
	st := StatusResponse{
		ExecutedHeight: at.height, FinalizedHeight: n.led.FinalizedHeight(),
		Result: at.result.Hex(), EndState: at.root.Hex(),
		ReceiptHeight: n.receipts.newest(),
		Missing:       n.missing.Open(), Resolved: n.missing.Resolved(),
	}
	for _, sl := range n.receipts.slots {
		st.Receipts = append(st.Receipts, ReceiptTarget{URL: sl.url, AnsweredHeight: sl.AnsweredHeight()})
	}
	return st
}

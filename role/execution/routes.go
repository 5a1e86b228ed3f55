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
	ExecutedHeight  uint64          `json:"executed_height"`
	FinalizedHeight uint64          `json:"finalized_height"`
	ReceiptHeight   uint64          `json:"receipt_height"`
	Receipts        []ReceiptTarget `json:"receipts"`
	Missing         []MissingRecord `json:"missing"`
	Resolved        []MissingRecord `json:"resolved"`
}

// ReceiptTarget is one consensus node receipts go to.
type ReceiptTarget struct {
	URL string `json:"url"`
	// AcceptedHeight is the height of the newest receipt it accepted.
	AcceptedHeight uint64 `json:"accepted_height"`
}

// Routes serves GET /v1/execution/status (api.RouteProvider).
func (n *Node) Routes(handle func(pattern string, h http.HandlerFunc)) {
	handle("GET /v1/execution/status", func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, http.StatusOK, n.ExecutionStatus())
	})
}

var _ api.RouteProvider = (*Node)(nil)

// ExecutionStatus is what GET /v1/execution/status answers.
func (n *Node) ExecutionStatus() StatusResponse {
	st := StatusResponse{
		ExecutedHeight: n.led.ExecutedHeight(), FinalizedHeight: n.led.FinalizedHeight(),
		ReceiptHeight: n.receipts.signed.Load(),
		Missing:       n.missing.Open(), Resolved: n.missing.Resolved(),
	}
	for _, sl := range n.receipts.slots {
		st.Receipts = append(st.Receipts, ReceiptTarget{URL: sl.url, AcceptedHeight: sl.SentHeight()})
	}
	return st
}

package api

// Answers of the pipeline's role-to-role endpoints (docs/pipeline.md,
// "Roles and wiring"). The servers live with the roles that answer them.

// CollectorTxResponse answers GET /v1/collector/transactions/{id} on a
// collector: "pending" (in its pool), "collected" (in a collection its
// cluster finalized; Collection and Chain name it, Guaranteed says whether
// the guarantee has formed) or "unknown".
type CollectorTxResponse struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Collection string `json:"collection,omitempty"`
	Chain      string `json:"chain,omitempty"`
	Guaranteed bool   `json:"guaranteed,omitempty"`
}

// GuaranteesResponse answers POST /v1/guarantees on a consensus node: how
// many of the batch were new and valid, and why the others were refused
// (index into the batch; known ones count as accepted).
type GuaranteesResponse struct {
	Accepted int             `json:"accepted"`
	Rejected []RejectedEntry `json:"rejected,omitempty"`
}

// RejectedEntry is one refused entry of a batch.
type RejectedEntry struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

package consensus

import (
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/floe-bft/floe/api"
)

// maxDisagreements bounds the disagreements kept (the newest stay).
const maxDisagreements = 256

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
	// Results are the result incorporated first (with only its ID) and
	// the disagreeing receipt.
	Results [2]ResultInfo `json:"results"`
}

// DisagreementsResponse is the body of GET /v1/execution/disagreements.
type DisagreementsResponse struct {
	Disagreements []Disagreement `json:"disagreements"`
	Dropped       int            `json:"dropped"`
}

// disagreements keeps the newest maxDisagreements, rebuilt at start from
// the finalized blocks of the receipt window.
type disagreements struct {
	mu      sync.Mutex
	list    []Disagreement
	dropped int
}

func newDisagreements() *disagreements { return &disagreements{} }

func (d *disagreements) add(x Disagreement) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.list) == maxDisagreements {
		d.list = d.list[1:]
		d.dropped++
	}
	d.list = append(d.list, x)
}

func (d *disagreements) snapshot() DisagreementsResponse {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DisagreementsResponse{Disagreements: append([]Disagreement{}, d.list...), Dropped: d.dropped}
}

func (p *pipeline) disagreementInfo(x disagreement, includedAt uint64) Disagreement {
	r := x.receipt
	return Disagreement{
		Height: x.height, Block: x.block.Hex(), IncludedAt: includedAt,
		Results: [2]ResultInfo{
			{Result: x.existing.Hex()},
			{Result: r.Result.ID().Hex(), Executor: r.Executor.Hex(), ExecutorName: p.n.nameOf(r.Executor),
				EndState: r.Result.EndState().Hex(), Receipt: hex.EncodeToString(r.Encode())},
		},
	}
}

// Disagreements lists the blocks with disagreeing incorporated results.
func (n *Node) Disagreements() DisagreementsResponse {
	if n.pipe == nil {
		return DisagreementsResponse{Disagreements: []Disagreement{}}
	}
	return n.pipe.disagreements.snapshot()
}

func (p *pipeline) handleDisagreements(w http.ResponseWriter, _ *http.Request) {
	api.WriteJSON(w, http.StatusOK, p.disagreements.snapshot())
}

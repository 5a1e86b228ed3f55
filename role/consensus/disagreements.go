package consensus

import (
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/floe-bft/floe/api"
)

// maxDisagreements bounds the disagreements kept (the newest stay).
const maxDisagreements = 256

// The JSON shapes are the api package's.
type (
	// Disagreement is api.Disagreement.
	Disagreement = api.Disagreement
	// DisagreementsResponse is api.DisagreementsResponse.
	DisagreementsResponse = api.DisagreementsResponse
)

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
		Results: [2]api.ResultInfo{
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

package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// simPayloads builds small payloads tagged with the instance, so the two
// halves of a twin propose different blocks for the same view.
// Under load (load.go) they carry transactions and commit to the executed
// height.
type simPayloads struct {
	tag    uint16
	in     *instance
	maxTxs int // > 0 under load
}

// maxSimPayload bounds what a replica accepts.
const maxSimPayload = 64

// Build tags the payload and carries the parent's execution result forward:
// the simulator has no application, only the core's monotonicity rule.
func (p *simPayloads) Build(view model.View, parent *model.Block) ([]byte, model.Result) {
	if p.maxTxs > 0 {
		result := parent.Result
		if h := p.in.store.executed; h > result.Height {
			result = model.Result{Height: h, Root: simRoot(h)}
		}
		return p.in.buildTxs(view, parent, p.tag, p.maxTxs), result
	}
	b := make([]byte, 10)
	binary.BigEndian.PutUint64(b, uint64(view))
	binary.BigEndian.PutUint16(b[8:], p.tag)
	return b, parent.Result
}

func (p *simPayloads) Validate(b *model.Block) error {
	if p.maxTxs > 0 {
		return p.in.validateTxs(b, p.maxTxs)
	}
	if len(b.Payload) > maxSimPayload {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", model.ErrInvalid, len(b.Payload), maxSimPayload)
	}
	return nil
}

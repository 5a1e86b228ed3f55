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

// Build tags the payload; under load it carries transactions and the
// execution result (load.go). Without load there is nothing to execute.
func (p *simPayloads) Build(view model.View, parent *model.Block) []byte {
	if p.in.col != nil {
		return p.in.col.build(parent)
	}
	if p.maxTxs > 0 {
		return p.in.buildTxs(view, parent, p.tag, p.maxTxs)
	}
	b := make([]byte, 10)
	binary.BigEndian.PutUint64(b, uint64(view))
	binary.BigEndian.PutUint16(b[8:], p.tag)
	return b
}

func (p *simPayloads) Validate(b, parent *model.Block) error {
	if p.in.col != nil {
		return p.in.col.validate(b, parent)
	}
	if p.maxTxs > 0 {
		return p.in.validateTxs(b, parent, p.maxTxs)
	}
	if len(b.Payload) > maxSimPayload {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", model.ErrInvalid, len(b.Payload), maxSimPayload)
	}
	return nil
}

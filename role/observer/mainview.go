package observer

import (
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// What the pipeline's roles read of the main chain beside the served API:
// the epoch schedule (which epoch a finalized block belongs to, its
// clusters) and a finalized block's decoded payload (guarantees, result),
// through the ledger's payload cache.

// Schedule is the epoch schedule as of the newest finalized block.
func (o *Observer) Schedule() *epoch.Schedule { return o.led.Directory().Schedule() }

// Decoded returns a block's decoded payload from the ledger's cache.
func (o *Observer) Decoded(b *model.Block) (*payload.Payload, error) { return o.led.Decoded(b) }

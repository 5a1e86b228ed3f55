package ledger

import (
	"context"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/light"
)

// Served is the part of a ledger a role serves as it is: every role
// embeds it, so the read API of a consensus node and of an observer is one
// implementation, and a role exposes none of the ledger's writers.
type Served struct{ l *Ledger }

// Served returns the ledger's reads for a role to embed.
func (l *Ledger) Served() Served { return Served{l} }

// BlockByHeight returns a finalized block; height 0 is genesis.
func (s Served) BlockByHeight(h uint64) (*model.Block, error) { return s.l.BlockByHeight(h) }

// LatestBlock returns the last finalized block.
func (s Served) LatestBlock() (*model.Block, error) { return s.l.LatestBlock() }

// State reads a key of the executed application state with its proof
// (a local read: ctx is not needed).
func (s Served) State(_ context.Context, key []byte) (StateValue, error) { return s.l.State(key) }

// SubscribeFinalized streams executed finalized blocks until ctx ends.
func (s Served) SubscribeFinalized(ctx context.Context) (<-chan FinalizedBlock, error) {
	return s.l.SubscribeFinalized(ctx)
}

// FinalizedChain returns finalized blocks from height from with their
// state roots (see Ledger.FinalizedChain).
func (s Served) FinalizedChain(ctx context.Context, from uint64, max int) ([]ChainBlock, error) {
	return s.l.FinalizedChain(ctx, from, max)
}

// SyncRange serves a range of finalized blocks in the sync wire format.
func (s Served) SyncRange(ctx context.Context, from uint64, count int) ([]byte, error) {
	return s.l.SyncRange(ctx, from, count)
}

// SubscribeSync streams live sync frames until ctx ends.
func (s Served) SubscribeSync(ctx context.Context) (<-chan SyncFrame, error) {
	return s.l.SubscribeSync(ctx)
}

// LightSource serves light clients from the finalized chain; call it once.
func (s Served) LightSource() light.Source { return s.l.LightSource() }

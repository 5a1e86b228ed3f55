package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/light"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// LightSource serves light clients of a pipeline network: finality
// segments and epoch transitions from base (the observer's source, built
// from the finalized chain this node follows), and state proofs whose
// value and Merkle proof come from execution nodes. A state proof names
// a finalized block B: its segment proves B final, its result opening
// proves B's Result (height H, root R), and its Merkle proof — which an
// execution node served for the register at H and this node checked
// against R before serving it — proves the value over the register
// encoding (light clients of pipeline networks verify it so:
// light.Genesis.Pipeline).
type LightSource struct {
	base light.Source
	svc  *Service
}

var _ light.Source = (*LightSource)(nil)

// NewLightSource returns the light source of an access node whose
// finalized chain base serves and whose Service asks execution nodes.
func NewLightSource(base light.Source, svc *Service) *LightSource {
	return &LightSource{base: base, svc: svc}
}

// Transition implements light.Source (the chain's own proofs).
func (l *LightSource) Transition(ctx context.Context, counter uint64) (*light.Transition, error) {
	return l.base.Transition(ctx, counter)
}

// Final implements light.Source (the chain's own proofs).
func (l *LightSource) Final(ctx context.Context, height uint64) (*light.Segment, error) {
	return l.base.Final(ctx, height)
}

// State implements light.Source: the register named key at the Result
// of the finalized block at height (0: the newest provably final one).
// No execution node proving it against that Result is ErrUnavailable
// (404): a client may ask again, or ask for another height.
func (l *LightSource) State(ctx context.Context, key []byte, height uint64) (*light.StateProof, error) {
	if err := (state.RegisterID{Key: string(key)}).Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", light.ErrBadRequest, err)
	}
	blocks := chainBlocks{l.svc.cfg.Chain}
	if height == 0 {
		h, err := light.NewestProvable(blocks)
		if err != nil {
			return nil, err
		}
		height = h
	}
	b, err := blocks.FinalizedByHeight(height)
	if err != nil {
		return nil, err
	}
	r, err := l.svc.ProveRegister(ctx, state.RegisterID{Key: string(key)}, b)
	if errors.Is(err, ErrNoResult) || errors.Is(err, ErrUnproven) {
		return nil, fmt.Errorf("%w: %v", light.ErrUnavailable, err)
	}
	if err != nil {
		return nil, err
	}
	opening, err := payload.OpenResult(b.Payload)
	if err != nil {
		return nil, fmt.Errorf("finalized block %d: %w", b.Height, err)
	}
	seg, err := light.BuildSegment(blocks, height)
	if err != nil {
		return nil, err
	}
	return &light.StateProof{Segment: seg, Result: opening, Key: r.Key, Value: r.Value, Proof: r.Proof}, nil
}

// chainBlocks reads the access node's finalized chain as a light
// BlockReader.
type chainBlocks struct{ c Chain }

func (b chainBlocks) FinalizedHeight() uint64 {
	latest, err := b.c.LatestBlock()
	if err != nil {
		return 0
	}
	return latest.Height
}

func (b chainBlocks) FinalizedByHeight(h uint64) (*model.Block, error) {
	if tip := b.FinalizedHeight(); h > tip {
		return nil, fmt.Errorf("%w: height %d is not finalized (finalized: %d)", light.ErrUnavailable, h, tip)
	}
	return b.c.BlockByHeight(h)
}

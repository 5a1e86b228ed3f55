package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/light"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// LightSource returns the source that serves light clients from this
// node's finalized chain (the /v1/light/ API). Call it once: each call
// starts its own event index.
func (l *Ledger) LightSource() light.Source {
	ls := &lightServer{l: l}
	ls.src = light.ChainSource{Blocks: ledgerBlocks{l}, Prover: ls}
	return ls
}

// lightServer builds light proofs. Its event index is a scan of the
// finalized chain, brought up to date on each request that needs it: the
// node's epoch state says what the schedule is but not at which heights
// the events that made it sit. The first request after start-up scans the
// whole chain once.
type lightServer struct {
	l   *Ledger
	src light.ChainSource

	mu    sync.Mutex // guards index creation; the index locks itself
	index *light.ScanIndex
}

var _ light.Source = (*lightServer)(nil)

// ledgerBlocks reads the ledger's finalized chain.
type ledgerBlocks struct{ l *Ledger }

func (b ledgerBlocks) FinalizedByHeight(h uint64) (*model.Block, error) {
	if h > b.l.finalizedHeight.Load() {
		return nil, fmt.Errorf("%w: height %d is not finalized", light.ErrUnavailable, h)
	}
	return b.l.store.FinalizedByHeight(h)
}

func (b ledgerBlocks) FinalizedHeight() uint64 { return b.l.finalizedHeight.Load() }

func (s *lightServer) updatedIndex() (*light.ScanIndex, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		g, err := light.GenesisOf(s.l.cfg.Genesis)
		if err != nil {
			return nil, err
		}
		idx, err := light.NewScanIndex(g)
		if err != nil {
			return nil, err
		}
		s.index = idx
	}
	return s.index, s.index.Update(ledgerBlocks{s.l})
}

// Transition implements light.Source.
func (s *lightServer) Transition(ctx context.Context, counter uint64) (*light.Transition, error) {
	idx, err := s.updatedIndex()
	if err != nil {
		return nil, err
	}
	src := s.src
	src.Index = idx
	return src.Transition(ctx, counter)
}

// Final implements light.Source.
func (s *lightServer) Final(ctx context.Context, height uint64) (*light.Segment, error) {
	return s.src.Final(ctx, height)
}

// ProveState implements light.StateProver. The node holds only its current
// state, so it can prove a height's state only while that state is still
// current (nothing was written since).
func (s *lightServer) ProveState(key []byte, resultHeight uint64) ([]byte, []byte, error) {
	want, err := s.l.ResultAt(resultHeight)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: state root of height %d: %v", light.ErrUnavailable, resultHeight, err)
	}
	s.l.appMu.RLock()
	defer s.l.appMu.RUnlock()
	if model.Identifier(s.l.app.Root()) != want {
		return nil, nil, fmt.Errorf("%w: the state after height %d is no longer held (only the current state is)", light.ErrUnavailable, resultHeight)
	}
	return s.l.app.Prove(key)
}

// lightStateWait bounds how long a state request waits for a final block
// that commits to the state it proved.
const lightStateWait = 5 * time.Second

// State implements light.Source. Blocks commit to the state a couple of
// heights behind execution, so while the chain writes, no final block
// commits to the current state yet. Without a height, the node proves the
// key against its current state and waits until a provably final block
// commits to that state root (a few views), proving again if the chain
// skipped it.
func (s *lightServer) State(ctx context.Context, key []byte, height uint64) (*light.StateProof, error) {
	p, err := s.src.State(ctx, key, height)
	if height != 0 || !errors.Is(err, light.ErrUnavailable) {
		return p, err
	}
	ctx, cancel := context.WithTimeout(ctx, lightStateWait)
	defer cancel()
	for {
		s.l.appMu.RLock()
		value, proof, err := s.l.app.Prove(key)
		root := model.Identifier(s.l.app.Root())
		executed := s.l.executedHeight.Load()
		s.l.appMu.RUnlock()
		if err != nil {
			return nil, err
		}
		from := s.l.finalizedHeight.Load()
		for {
			b, next, done, err := s.findCommitting(from, root, executed)
			if err != nil {
				return nil, err
			}
			if b != nil {
				opening, err := payload.OpenResult(b.Payload)
				if err != nil {
					return nil, fmt.Errorf("finalized block %d: %w", b.Height, err)
				}
				seg, err := light.BuildSegment(ledgerBlocks{s.l}, b.Height)
				if err == nil {
					return &light.StateProof{Segment: seg, Result: opening, Key: append([]byte(nil), key...), Value: value, Proof: proof}, nil
				}
				if !errors.Is(err, light.ErrUnavailable) {
					return nil, err
				}
			}
			if done {
				break // the chain moved past this state: prove again
			}
			if b == nil {
				from = next
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: no final block committed to the state of height %d within %v", light.ErrUnavailable, executed, lightStateWait)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// findCommitting looks at finalized blocks from height from on for one
// whose result commitment is root; next is where to continue looking.
// done reports that the chain has committed to a later height than
// executed without committing to root, so waiting longer cannot help.
func (s *lightServer) findCommitting(from uint64, root model.Identifier, executed uint64) (b *model.Block, next uint64, done bool, err error) {
	tip := s.l.finalizedHeight.Load()
	h := from
	for ; h <= tip; h++ {
		b, err := s.l.store.FinalizedByHeight(h)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, h, false, err
		}
		if b.IsRoot() {
			continue // a light client proves state against certified blocks
		}
		res, err := payload.ResultOf(b.Payload)
		if err != nil {
			return nil, h, false, fmt.Errorf("finalized block %d: %w", h, err)
		}
		if res == nil {
			continue
		}
		if res.Root == root {
			return b, h, false, nil
		}
		if res.Height > executed {
			return nil, h, true, nil
		}
	}
	return nil, h, false, nil
}

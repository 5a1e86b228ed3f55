package light

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// BlockReader reads a node's finalized chain: all a proof builder needs.
type BlockReader interface {
	// FinalizedByHeight returns the finalized block at height (with its
	// payload).
	FinalizedByHeight(height uint64) (*model.Block, error)
	// FinalizedHeight is the newest finalized height.
	FinalizedHeight() uint64
}

// ExtensionHeight locates the proof of one fallback extension: the epoch's
// final view before it and the height of the first finalized block in a
// view past it (0 while no such block is finalized).
type ExtensionHeight struct {
	From    model.View
	Witness uint64
}

// TransitionHeights locates the blocks a transition proof to epoch Counter
// is made of.
type TransitionHeights struct {
	Counter uint64
	// Extensions of epoch Counter-1, oldest first.
	Extensions []ExtensionHeight
	// Setup and Commit are the heights of the blocks with the accepted
	// EpochSetup and EpochCommit of epoch Counter; 0 while not committed.
	Setup, Commit uint64
}

// EventIndex knows where the accepted service events and fallback
// extensions of each epoch are in the finalized chain. A node that applies
// the epoch state machine as it finalizes blocks records them as it goes;
// ScanIndex derives them by scanning blocks.
type EventIndex interface {
	// TransitionHeights returns what is known about the transition to
	// epoch counter; ErrUnavailable when nothing is.
	TransitionHeights(counter uint64) (TransitionHeights, error)
}

// ScanIndex is an EventIndex built by scanning finalized blocks from
// genesis and applying the epoch state machine to them, exactly as every
// node does. Safe for concurrent use.
type ScanIndex struct {
	mu      sync.Mutex
	state   *epoch.State
	next    uint64 // next height to scan
	records map[uint64]*TransitionHeights
}

// NewScanIndex starts an index at genesis.
func NewScanIndex(g Genesis) (*ScanIndex, error) {
	st, err := epoch.Genesis(g.Params, g.Identities, g.Seed, g.Clusters)
	if err != nil {
		return nil, err
	}
	return &ScanIndex{state: st, next: 1, records: make(map[uint64]*TransitionHeights)}, nil
}

func (x *ScanIndex) record(counter uint64) *TransitionHeights {
	r := x.records[counter]
	if r == nil {
		r = &TransitionHeights{Counter: counter}
		x.records[counter] = r
	}
	return r
}

// Update scans the blocks finalized since the last update.
func (x *ScanIndex) Update(r BlockReader) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	tip := r.FinalizedHeight()
	for ; x.next <= tip; x.next++ {
		b, err := r.FinalizedByHeight(x.next)
		if err != nil {
			return fmt.Errorf("scan height %d: %w", x.next, err)
		}
		if err := x.apply(b); err != nil {
			return fmt.Errorf("scan height %d: %w", x.next, err)
		}
	}
	return nil
}

func (x *ScanIndex) apply(b *model.Block) error {
	// A finalized payload was validated before it was voted for; one that
	// does not decode would carry no events for the nodes' state machine
	// either.
	events, _ := payload.ServiceEventsOf(b.Payload)
	before := x.state.Schedule().Last()
	// The first block past an extended epoch's old final view witnesses
	// the extension.
	if rec := x.records[before.Counter+1]; rec != nil {
		for i := range rec.Extensions {
			if e := &rec.Extensions[i]; e.Witness == 0 && b.View > e.From {
				e.Witness = b.Height
			}
		}
	}
	out, err := x.state.Apply(b.View, events)
	if err != nil {
		return err
	}
	if out.Extended {
		rec := x.record(before.Counter + 1)
		rec.Extensions = append(rec.Extensions, ExtensionHeight{From: before.FinalView})
		rec.Setup = 0 // a pending setup is void after an extension
	}
	for _, e := range out.Accepted {
		switch e.Kind {
		case epoch.KindSetup:
			x.record(e.Setup.Counter).Setup = b.Height
		case epoch.KindCommit:
			x.record(e.Commit.Counter).Commit = b.Height
		}
	}
	return nil
}

// TransitionHeights implements EventIndex.
func (x *ScanIndex) TransitionHeights(counter uint64) (TransitionHeights, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.records[counter]
	if r == nil {
		return TransitionHeights{}, fmt.Errorf("%w: nothing finalized about epoch %d yet", ErrUnavailable, counter)
	}
	out := *r
	out.Extensions = append([]ExtensionHeight(nil), r.Extensions...)
	return out, nil
}

// Schedule is the schedule derived from the scanned blocks.
func (x *ScanIndex) Schedule() *epoch.Schedule {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state.Schedule()
}

// StateProver proves application state as of a finalized height.
type StateProver interface {
	// ProveState returns key's value (nil if absent) and its Merkle proof
	// against the state root after executing resultHeight. ErrUnavailable:
	// the prover does not hold the state of that height.
	ProveState(key []byte, resultHeight uint64) (value, proof []byte, err error)
}

// ChainSource is a Source that builds proofs from a node's finalized
// blocks: the server half of the light protocol.
type ChainSource struct {
	Blocks BlockReader
	Index  EventIndex
	Prover StateProver // nil: no state proofs
}

var _ Source = (*ChainSource)(nil)

// BuildSegment returns the shortest segment starting at height that proves
// the block there final: blocks up to the first pair in consecutive views
// whose second block's QC is carried by a third. Blocks carrying service
// events come with their payloads.
func BuildSegment(r BlockReader, height uint64) (*Segment, error) {
	s, _, err := buildSegment(r, height)
	return s, err
}

// buildSegment also returns how many of the segment's blocks it proves
// final.
func buildSegment(r BlockReader, height uint64) (*Segment, int, error) {
	if height == 0 {
		return nil, 0, fmt.Errorf("%w: the genesis block is trusted, not proven", ErrBadRequest)
	}
	tip := r.FinalizedHeight()
	if height > tip {
		return nil, 0, fmt.Errorf("%w: height %d is not finalized (finalized: %d)", ErrUnavailable, height, tip)
	}
	var (
		seg   Segment
		views []model.View
	)
	for h := height; len(seg.Blocks) < MaxSegmentBlocks; h++ {
		if h > tip {
			return nil, 0, fmt.Errorf("%w: height %d is final but not yet provable from finalized blocks (finalized: %d)", ErrUnavailable, height, tip)
		}
		b, err := r.FinalizedByHeight(h)
		if err != nil {
			return nil, 0, fmt.Errorf("read height %d: %w", h, err)
		}
		events, _ := payload.ServiceEventsOf(b.Payload)
		seg.Blocks = append(seg.Blocks, segmentBlock(b, len(events) > 0))
		views = append(views, b.View)
		// The newest block's QC certifies its parent: if that parent is in
		// the view after its own parent, the grandparent is final.
		if n := len(views); n >= 3 && views[n-2] == views[n-3]+1 {
			return &seg, n - 2, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: no two consecutive views certified within %d blocks after height %d", ErrUnavailable, MaxSegmentBlocks, height)
}

// NewestProvable is the newest height whose finality the finalized blocks
// prove: k with k+1 in the next view and k+2 finalized. ErrUnavailable:
// none among the newest MaxSegmentBlocks heights.
func NewestProvable(r BlockReader) (uint64, error) {
	tip := r.FinalizedHeight()
	for k := tip; k >= 1 && k+MaxSegmentBlocks >= tip; k-- {
		if k+2 > tip {
			continue
		}
		b, err := r.FinalizedByHeight(k)
		if err != nil {
			return 0, err
		}
		c, err := r.FinalizedByHeight(k + 1)
		if err != nil {
			return 0, err
		}
		if c.View == b.View+1 {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: no recent finalized block is provably final yet", ErrUnavailable)
}

// Transition implements Source.
func (s *ChainSource) Transition(_ context.Context, counter uint64) (*Transition, error) {
	th, err := s.Index.TransitionHeights(counter)
	if err != nil {
		return nil, err
	}
	t := &Transition{Counter: counter}
	for _, e := range th.Extensions {
		if e.Witness == 0 {
			break // the chain has not passed this extension's old end yet
		}
		seg, err := BuildSegment(s.Blocks, e.Witness)
		if errors.Is(err, ErrUnavailable) {
			break
		}
		if err != nil {
			return nil, err
		}
		t.Extensions = append(t.Extensions, Extension{From: e.From, Segment: seg})
	}
	if th.Commit == 0 || len(t.Extensions) < len(th.Extensions) {
		// Not committed, or committed after an extension the finalized
		// chain cannot prove yet: prove what can be proven.
		if len(t.Extensions) == 0 {
			return nil, fmt.Errorf("%w: epoch %d is not committed yet", ErrUnavailable, counter)
		}
		return t, nil
	}
	setup, final, err := buildSegment(s.Blocks, th.Setup)
	if err != nil {
		return nil, err
	}
	t.Setup = setup
	if th.Commit >= th.Setup+uint64(final) {
		if t.Commit, err = BuildSegment(s.Blocks, th.Commit); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Final implements Source.
func (s *ChainSource) Final(_ context.Context, height uint64) (*Segment, error) {
	if height == 0 {
		h, err := NewestProvable(s.Blocks)
		if err != nil {
			return nil, err
		}
		height = h
	}
	return BuildSegment(s.Blocks, height)
}

// maxStateSearch bounds how far back State looks for a block whose
// committed state the prover still holds.
const maxStateSearch = 64

// State implements Source.
func (s *ChainSource) State(_ context.Context, key []byte, height uint64) (*StateProof, error) {
	if s.Prover == nil {
		return nil, fmt.Errorf("%w: this source serves no state proofs", ErrUnavailable)
	}
	if len(key) == 0 || len(key) > MaxKeySize {
		return nil, fmt.Errorf("%w: key of %d bytes", ErrBadRequest, len(key))
	}
	candidates := []uint64{height}
	if tip := s.Blocks.FinalizedHeight(); height > tip {
		return nil, fmt.Errorf("%w: height %d is not finalized (finalized: %d)", ErrUnavailable, height, tip)
	}
	if height == 0 {
		newest, err := NewestProvable(s.Blocks)
		if err != nil {
			return nil, err
		}
		candidates = candidates[:0]
		for h := newest; h >= 1 && len(candidates) < maxStateSearch; h-- {
			candidates = append(candidates, h)
		}
	}
	var lastErr error
	for _, h := range candidates {
		b, err := s.Blocks.FinalizedByHeight(h)
		if err != nil {
			return nil, fmt.Errorf("read height %d: %w", h, err)
		}
		res, err := payload.ResultOf(b.Payload)
		if err != nil {
			return nil, fmt.Errorf("finalized block %d: %w", h, err)
		}
		if res == nil {
			continue // the genesis block commits to no result
		}
		opening, err := payload.OpenResult(b.Payload)
		if err != nil {
			return nil, fmt.Errorf("finalized block %d: %w", h, err)
		}
		value, proof, err := s.Prover.ProveState(key, res.Height)
		if errors.Is(err, ErrUnavailable) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, err
		}
		seg, err := BuildSegment(s.Blocks, h)
		if err != nil {
			return nil, err
		}
		return &StateProof{Segment: seg, Result: opening, Key: append([]byte(nil), key...), Value: value, Proof: proof}, nil
	}
	return nil, lastErr
}

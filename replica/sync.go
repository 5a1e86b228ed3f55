package replica

import (
	"fmt"
	"slices"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// Block sync, both halves, for one chain. Fetch by ID answers the core's
// Output.Fetch: a block it saw certified (or a proposal's parent) and does
// not have, with its ancestors above what the replica finalized. Range
// sync is for a replica that fell behind: peers announce their finalized
// height (Status), and a replica behind one asks it for the next batch of
// finalized blocks, again as soon as each answer arrives, until it has
// caught up; then live proposals take over. The server half (Ancestry,
// CheckBatch) is what answers and what checks an answer.
//
// Sync decides what to ask and whom; it sends nothing and starts no
// goroutines. Its owner sends the requests it returns (a node over its
// transport, the simulator through its simulated links), feeds it the
// current time, and serializes calls (a node holds a lock: requests come
// from its consensus loop, announcements from its receive loop, answers
// from its verification workers). P names a peer: a node ID in a node, an
// instance in the simulator (whose twins share an ID).

// SyncConfig tunes a Sync.
type SyncConfig struct {
	// Batch bounds the blocks in one answer, and so in one range request.
	Batch int
	// RepeatGap is how often one block may be asked for (0: every time the
	// core asks).
	RepeatGap time.Duration
	// Retries is how many times Retry re-asks for a block still missing (0:
	// only when the core asks again).
	Retries int
	// RangeTimeout is how long a range request may stay unanswered before
	// another one goes out.
	RangeTimeout time.Duration
	// MaxTracked bounds the blocks remembered as asked for.
	MaxTracked int
}

// SyncRequest is one request to send to To: a block and its ancestors
// above height Have when Block is set, else Count finalized blocks from
// height From.
type SyncRequest[P comparable] struct {
	To    P
	Block model.Identifier
	Have  uint64
	From  uint64
	Count int
}

// Sync is the block-sync client. See the comment above SyncConfig.
type Sync[P comparable] struct {
	cfg  SyncConfig
	pick func(n int) int
	// asked remembers when each missing block was last asked for, and how
	// often.
	asked map[model.Identifier]askState
	// heights are the finalized heights peers last announced.
	heights map[P]uint64
	// One range request at a time: from which height, when.
	rangeFrom   uint64
	rangeSentAt time.Time
	// nextFrom is the height after the last contiguous answer, which the
	// core may not have finalized yet: the next range starts there.
	nextFrom uint64
}

type askState struct {
	at    time.Time
	tries int
}

// NewSync returns a sync client. pick chooses among n candidate peers
// (round robin in a node; the simulator's seeded random source there, so a
// seed still reproduces a run).
func NewSync[P comparable](cfg SyncConfig, pick func(n int) int) *Sync[P] {
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = 1024
	}
	return &Sync[P]{cfg: cfg, pick: pick, asked: make(map[model.Identifier]askState), heights: make(map[P]uint64)}
}

// Fetch is the request for block id the core asked for, or false if it
// was asked for within RepeatGap or no peer can be asked. have is the
// replica's finalized height.
//
// While a range request is outstanding the replica is behind and range
// sync brings the blocks in order; a fetch then asks for the ancestry of a
// live block far above, whose answer cannot connect and only costs every
// block's certificate check. Each live proposal of a replica behind asked
// for one: the checks crowded out range sync (a replica 200 blocks behind
// caught up at half the network's pace, and never did).
func (s *Sync[P]) Fetch(now time.Time, id model.Identifier, have uint64, peers []P) (SyncRequest[P], bool) {
	if a, ok := s.asked[id]; ok && now.Sub(a.at) < s.cfg.RepeatGap {
		return SyncRequest[P]{}, false
	}
	if s.ranging(now) {
		return SyncRequest[P]{}, false
	}
	return s.ask(now, id, have, peers, 0)
}

// Retry re-asks another peer for block id, missing says whether it is
// still missing; false once it arrived or was asked for Retries times.
func (s *Sync[P]) Retry(now time.Time, id model.Identifier, missing bool, have uint64, peers []P) (SyncRequest[P], bool) {
	a, ok := s.asked[id]
	if !ok || !missing || a.tries >= s.cfg.Retries {
		delete(s.asked, id)
		return SyncRequest[P]{}, false
	}
	return s.ask(now, id, have, peers, a.tries+1)
}

func (s *Sync[P]) ask(now time.Time, id model.Identifier, have uint64, peers []P, tries int) (SyncRequest[P], bool) {
	if len(peers) == 0 {
		return SyncRequest[P]{}, false
	}
	if _, ok := s.asked[id]; !ok && len(s.asked) >= s.cfg.MaxTracked {
		// Forget what is old; a block still missing is asked for again by
		// the core with the next message that needs it.
		for k, a := range s.asked {
			if now.Sub(a.at) >= s.cfg.RepeatGap {
				delete(s.asked, k)
			}
		}
	}
	if _, ok := s.asked[id]; ok || len(s.asked) < s.cfg.MaxTracked {
		s.asked[id] = askState{at: now, tries: tries}
	}
	return SyncRequest[P]{To: peers[s.pick(len(peers))], Block: id, Have: have}, true
}

// ranging reports whether a range request is outstanding (sent, not yet
// answered, not timed out).
func (s *Sync[P]) ranging(now time.Time) bool {
	return !s.rangeSentAt.IsZero() && now.Sub(s.rangeSentAt) < s.cfg.RangeTimeout
}

// Status records a peer's announced finalized height and returns a range
// request if the replica (finalized at ours) is behind it.
func (s *Sync[P]) Status(now time.Time, from P, height, ours uint64) (SyncRequest[P], bool) {
	s.heights[from] = height
	return s.nextRange(now, from, ours)
}

// BestPeerHeight is the highest finalized height a peer announced.
func (s *Sync[P]) BestPeerHeight() uint64 {
	best := uint64(0)
	for _, h := range s.heights {
		best = max(best, h)
	}
	return best
}

// Forget drops what a peer announced (it left the committee).
func (s *Sync[P]) Forget(peer P) { delete(s.heights, peer) }

// Received notes checked blocks from a peer (an answer to either kind of
// request) and returns the next range request at once, so a replica far
// behind catches up at full speed.
//
// Range sync moves on only past blocks that continue, without a gap, from
// where it stands: a fetch answer (a live block's ancestry, far above) may
// arrive first from the very peer a range request went to, and counting it
// would skip every height between the two for good.
func (s *Sync[P]) Received(now time.Time, from P, blocks []*model.Block, ours uint64) (SyncRequest[P], bool) {
	have := make(map[uint64]bool, len(blocks))
	for _, b := range blocks {
		have[b.Height] = true
		delete(s.asked, b.ID())
	}
	if !s.rangeSentAt.IsZero() && have[s.rangeFrom] {
		s.rangeSentAt = time.Time{} // answered, by whoever
	}
	next := max(ours+1, s.nextFrom)
	for have[next] {
		next++
	}
	s.nextFrom = next
	return s.nextRange(now, from, ours)
}

// nextRange asks peer for the next batch if the replica is behind it and
// no range request is outstanding (or the last one timed out).
func (s *Sync[P]) nextRange(now time.Time, peer P, ours uint64) (SyncRequest[P], bool) {
	timedOut := !s.rangeSentAt.IsZero() && now.Sub(s.rangeSentAt) >= s.cfg.RangeTimeout
	if timedOut || s.nextFrom > ours+1+uint64(maxRangesAhead*s.cfg.Batch) {
		// Answers counted on may never have reached the core (a lost or
		// refused batch): start again from what is finalized.
		s.nextFrom = 0
	}
	from := max(ours+1, s.nextFrom)
	if s.heights[peer] < from+1 || (!s.rangeSentAt.IsZero() && !timedOut) {
		return SyncRequest[P]{}, false
	}
	s.rangeFrom, s.rangeSentAt = from, now
	return SyncRequest[P]{To: peer, From: from, Count: s.cfg.Batch}, true
}

// maxRangesAhead bounds how far range sync may run ahead of the finalized
// height it is told (which lags the blocks handed to the core by the
// 2-chain and the events in flight): further ahead, answers are being lost.
const maxRangesAhead = 4

// Ancestry answers a fetch: block id and its ancestors while above(b)
// holds, oldest first, at most max of them; get returns nil for a block
// the server does not hold. Roots are never served (every replica has its
// own).
func Ancestry(get func(model.Identifier) *model.Block, id model.Identifier, above func(*model.Block) bool, max int) []*model.Block {
	var chain []*model.Block
	for len(chain) < max {
		b := get(id)
		if b == nil || b.IsRoot() || !above(b) {
			break
		}
		chain = append(chain, b)
		id = b.ParentID
	}
	slices.Reverse(chain)
	return chain
}

// CheckBatch checks an answer before its blocks reach the core: at most
// max blocks, consecutive heights hash-linked, and every block's
// certificates (verify). It returns the blocks, roots left out, in height
// order, up to the first that fails, with that failure: the blocks below
// it stand on their own (each carries its certificates), and a replica
// needs them. Its schedule may end inside the answer, until the blocks
// below that point are finalized and extend the epoch; refusing the whole
// answer would leave it asking for the same one forever.
func CheckBatch(blocks []*model.Block, max int, verify func(*model.Block) error) ([]*model.Block, error) {
	if len(blocks) > max {
		return nil, fmt.Errorf("%w: %d blocks in one answer, at most %d", model.ErrInvalid, len(blocks), max)
	}
	sorted := model.ByHeight(blocks)
	out := make([]*model.Block, 0, len(sorted))
	for i, b := range sorted {
		if b.IsRoot() {
			continue
		}
		if i > 0 && !sorted[i-1].IsRoot() && b.Height == sorted[i-1].Height+1 && b.ParentID != sorted[i-1].ID() {
			return out, fmt.Errorf("%w: block at height %d does not link to the one below it", model.ErrInvalid, b.Height)
		}
		if err := verify(b); err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

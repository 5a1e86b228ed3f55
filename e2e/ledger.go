package e2e

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// Bounds of the runner's own bookkeeping: a run longer or faster than this
// stops submitting (and says so) instead of growing without limit.
const (
	maxTrackedTxs  = 2_000_000 // ~150 bytes each in the ledger
	maxChainHeight = 5_000_000
	maxSeconds     = 24 * 3600
)

// ledger records every transaction the load submitted and, once a node
// served it in a finalized block, the height that block has: the set of
// transactions "the network acknowledged as finalized", which must then be
// on every node.
type ledger struct {
	mu        sync.Mutex
	txs       map[[32]byte]*txEntry
	acked     []ackedTx
	submitted int
	rejected  int
	failed    int
	full      bool // maxTrackedTxs reached; the load stopped
}

type txEntry struct {
	submittedAt time.Time
	acked       bool
}

// ackedTx is a transaction seen in a finalized block.
type ackedTx struct {
	id      [32]byte
	height  uint64
	blockID model.Identifier
	node    string // the node that served the block first
}

func newLedger() *ledger { return &ledger{txs: make(map[[32]byte]*txEntry)} }

// submit records accepted transactions; it reports false once full.
func (l *ledger) submit(ids [][32]byte, at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if len(l.txs) >= maxTrackedTxs {
			l.full = true
			return false
		}
		if _, ok := l.txs[id]; !ok {
			l.txs[id] = &txEntry{submittedAt: at}
			l.submitted++
		}
	}
	return true
}

func (l *ledger) fail(rejected, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rejected += rejected
	l.failed += failed
}

// ack marks the submitted transactions among a block's and returns how
// many were newly acknowledged.
func (l *ledger) ack(ids [][32]byte, height uint64, blockID model.Identifier, node string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, id := range ids {
		e := l.txs[id]
		if e == nil || e.acked {
			continue
		}
		e.acked = true
		l.acked = append(l.acked, ackedTx{id: id, height: height, blockID: blockID, node: node})
		n++
	}
	return n
}

// ackedSnapshot returns the acknowledged transactions so far.
func (l *ledger) ackedSnapshot() []ackedTx {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ackedTx(nil), l.acked...)
}

// unackedByPeriod counts the transactions never acknowledged by when they
// were submitted: period i runs from starts[i] to starts[i+1] (the last to
// the end).
func (l *ledger) unackedByPeriod(starts []time.Time) []int {
	out := make([]int, len(starts))
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.txs {
		if e.acked || len(starts) == 0 {
			continue
		}
		i := sort.Search(len(starts), func(i int) bool { return starts[i].After(e.submittedAt) }) - 1
		out[max(i, 0)]++
	}
	return out
}

type ledgerCounts struct {
	Submitted, Rejected, Failed, Acked int
	Full                               bool
}

func (l *ledger) counts() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ledgerCounts{l.submitted, l.rejected, l.failed, len(l.acked), l.full}
}

// chainRecord is the finalized chain as first observed, height by height,
// from whichever node served it; every later observation of a height, from
// any node, must match it.
type chainRecord struct {
	mu       sync.Mutex
	ids      []model.Identifier // by height
	firstBy  []string           // the node that served each height first
	stamps   []int64            // block timestamps
	roots    map[uint64]rootSeen
	verified []bool // certificates and parent link checked
	// rootMatches counts state roots that matched another node's.
	rootMatches int
}

type rootSeen struct {
	root [32]byte
	node string
}

func newChainRecord() *chainRecord { return &chainRecord{roots: make(map[uint64]rootSeen)} }

// errFork and errState describe disagreements; observe returns them.
type disagreement struct {
	kind   string // "fork" or "state"
	detail string
}

// observe checks one node's block (and state root, if executed) at a
// height against the record, extending the record when the height is new.
// Heights must be observed in order per node; a gap is an error.
func (c *chainRecord) observe(node string, b *model.Block, root *[32]byte) (*disagreement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := b.Height
	switch {
	case h < uint64(len(c.ids)):
		if c.ids[h] != b.ID() {
			return &disagreement{"fork", fmt.Sprintf("height %d: %s finalized block %s, %s finalized %s",
				h, node, b.ID().Hex(), c.firstBy[h], c.ids[h].Hex())}, nil
		}
	case h == uint64(len(c.ids)):
		if h >= maxChainHeight {
			return nil, fmt.Errorf("chain longer than %d blocks: the runner does not track more", maxChainHeight)
		}
		c.ids = append(c.ids, b.ID())
		c.firstBy = append(c.firstBy, node)
		c.stamps = append(c.stamps, b.Timestamp)
		c.verified = append(c.verified, false)
	default:
		return nil, fmt.Errorf("height %d observed before height %d", h, len(c.ids))
	}
	if root == nil {
		return nil, nil
	}
	if seen, ok := c.roots[h]; ok {
		if seen.root != *root {
			return &disagreement{"state", fmt.Sprintf("height %d: %s has state root %x, %s has %x",
				h, node, root[:], seen.node, seen.root[:])}, nil
		}
		c.rootMatches++
		return nil, nil
	}
	c.roots[h] = rootSeen{root: *root, node: node}
	return nil, nil
}

// height is the number of heights recorded minus one (-1 if none).
func (c *chainRecord) top() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		return 0, false
	}
	return uint64(len(c.ids) - 1), true
}

// claimVerify reports whether height h is recorded but not verified yet,
// with its parent's ID and timestamp, and marks it verified: each height is
// verified once, by whichever goroutine claims it first.
func (c *chainRecord) claimVerify(h uint64) (need bool, parent model.Identifier, parentStamp int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == 0 || h >= uint64(len(c.ids)) || c.verified[h] {
		return false, model.Identifier{}, 0
	}
	c.verified[h] = true
	return true, c.ids[h-1], c.stamps[h-1]
}

func (c *chainRecord) rootMatchCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rootMatches
}

func (c *chainRecord) verifiedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.verified {
		if v {
			n++
		}
	}
	return n
}

// idAt returns the recorded block ID at a height.
func (c *chainRecord) idAt(h uint64) (model.Identifier, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h >= uint64(len(c.ids)) {
		return model.Identifier{}, false
	}
	return c.ids[h], true
}

// series counts acknowledged transactions and finalized blocks per second
// of the run, for throughput before, during and after each fault.
type series struct {
	mu     sync.Mutex
	start  time.Time
	txs    []int
	blocks []int
}

func newSeries(start time.Time) *series { return &series{start: start} }

func (s *series) add(at time.Time, txs, blocks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := int(at.Sub(s.start) / time.Second)
	if sec < 0 || sec >= maxSeconds {
		return
	}
	for len(s.txs) <= sec {
		s.txs = append(s.txs, 0)
		s.blocks = append(s.blocks, 0)
	}
	s.txs[sec] += txs
	s.blocks[sec] += blocks
}

// rate is transactions and blocks per second over [from, to).
func (s *series) rate(from, to time.Time) (txPerS, blocksPerS float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := int(from.Sub(s.start) / time.Second)
	b := int(to.Sub(s.start) / time.Second)
	if b <= a {
		return 0, 0
	}
	var tx, bl int
	for i := max(a, 0); i < b && i < len(s.txs); i++ {
		tx += s.txs[i]
		bl += s.blocks[i]
	}
	d := float64(b - a)
	return float64(tx) / d, float64(bl) / d
}

// longestStall is the longest run of whole seconds within [from, to) in
// which no block was finalized (as the tracker saw them).
func (s *series) longestStall(from, to time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only seconds entirely inside the interval count.
	a := int((from.Sub(s.start) + time.Second - 1) / time.Second)
	b := int(to.Sub(s.start) / time.Second)
	longest, run := 0, 0
	for i := max(a, 0); i < b; i++ {
		if i < len(s.blocks) && s.blocks[i] > 0 {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return time.Duration(longest) * time.Second
}

// txID is a transaction's ID as the node computes it.
func txID(tx []byte) [32]byte { return sha256.Sum256(tx) }

package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// Transactions under load. With Config.Load set, a client offers that many
// transactions a simulated second to every replica that is up (as gossip
// would), leaders fill blocks with them, and replicas execute what is
// finalized, after Config.ExecLag: blocks commit to the executed height,
// and a proposal naming a height its receiver has not executed waits in
// the replica engine (parking) until it has. The invariants: no transaction
// is finalized twice, and after GST every transaction is finalized within
// Config.TxDeadline, with no stretch longer than Config.MaxTxStall without
// a finalized transaction while some are pending.

const (
	// loadTick is how often the client offers a batch.
	loadTick = 10 * time.Millisecond
	// maxPool bounds a replica's pool of offered, unfinalized transactions.
	maxPool = 50_000
	// txHeader is the payload header under load: view, tag, count, and the
	// execution result (height, root).
	txHeader = 8 + 2 + 2 + 8 + 32
)

// txPool is one instance's transactions not yet known to be finalized, in
// the order they were offered.
type txPool struct {
	ids     []uint64
	dropped uint64
}

func (p *txPool) add(id uint64) {
	if len(p.ids) >= maxPool {
		p.dropped++
		return
	}
	p.ids = append(p.ids, id)
}

// prune forgets finalized transactions.
func (p *txPool) prune(final map[uint64]bool) {
	p.ids = slices.DeleteFunc(p.ids, func(id uint64) bool { return final[id] })
}

// loadState is the client's side and the global ledger of transactions.
type loadState struct {
	next      uint64                   // next transaction ID
	carry     float64                  // fractional transactions owed
	submitted map[uint64]time.Duration // offered, not yet finalized anywhere
	final     map[uint64]uint64        // transaction → height it was finalized at
	txStats
}

// txStats measure finalized transactions: when one was last finalized,
// and the latencies of those offered after GST.
type txStats struct {
	lastFinalAt time.Duration
	latencies   []time.Duration
}

// txFinalized counts a transaction finalized for the first time, offered
// at offeredAt if offered (a transaction the client tracks).
func (s *sim) txFinalized(st *txStats, offeredAt time.Duration, offered bool) {
	s.res.TxFinalized++
	if offered && !s.faulty && offeredAt >= s.gstAt {
		st.latencies = append(st.latencies, s.now-offeredAt)
	}
	if !s.faulty {
		if gap := s.now - max(st.lastFinalAt, s.gstAt); gap > s.res.LongestTxStall {
			s.res.LongestTxStall = gap
		}
	}
	st.lastFinalAt = s.now
}

// latencyPercentiles sets the result's latency summary.
func (s *sim) latencyPercentiles(st *txStats) {
	if len(st.latencies) > 0 {
		l := slices.Clone(st.latencies)
		slices.Sort(l)
		s.res.TxLatencyP50, s.res.TxLatencyMax = l[len(l)/2], l[len(l)-1]
	}
}

func newLoadState() *loadState {
	return &loadState{next: 1, submitted: make(map[uint64]time.Duration), final: make(map[uint64]uint64)}
}

// offer is the client's tick: a batch to every instance that is up.
func (s *sim) offer() {
	ld := s.load
	ld.carry += float64(s.cfg.Load) * loadTick.Seconds()
	n := int(ld.carry)
	ld.carry -= float64(n)
	for range n {
		id := ld.next
		ld.next++
		ld.submitted[id] = s.now
		s.res.TxOffered++
		for _, in := range s.insts {
			if in.up {
				in.pool.add(id)
			}
		}
	}
	s.sched.push(&event{at: s.now + loadTick, kind: evLoad})
}

// encodeTxs is the payload of a block under load: the simulator's own
// compact encoding (it has no application), with the execution result the
// chain rule (payload.CheckResult) is checked on.
func encodeTxs(view model.View, tag uint16, res payload.Result, ids []uint64) []byte {
	b := make([]byte, txHeader+8*len(ids))
	binary.BigEndian.PutUint64(b, uint64(view))
	binary.BigEndian.PutUint16(b[8:], tag)
	binary.BigEndian.PutUint16(b[10:], uint16(len(ids)))
	binary.BigEndian.PutUint64(b[12:], res.Height)
	copy(b[20:], res.Root[:])
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[txHeader+8*i:], id)
	}
	return b
}

// decodeTxs parses a payload under load: its transactions and result.
func decodeTxs(b []byte, maxTxs int) ([]uint64, *payload.Result, error) {
	if len(b) < txHeader {
		return nil, nil, fmt.Errorf("%w: payload of %d bytes has no transaction header", model.ErrInvalid, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[10:]))
	if n > maxTxs || len(b) != txHeader+8*n {
		return nil, nil, fmt.Errorf("%w: payload of %d bytes claims %d transactions (at most %d)", model.ErrInvalid, len(b), n, maxTxs)
	}
	res := &payload.Result{Height: binary.BigEndian.Uint64(b[12:])}
	copy(res.Root[:], b[20:])
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = binary.BigEndian.Uint64(b[txHeader+8*i:])
	}
	return ids, res, nil
}

// resultOf is the result a block under load carries: nil for the genesis
// block (and for a payload that does not decode, which never joins a tree).
func resultOf(b *model.Block, maxTxs int) *payload.Result {
	if b == nil || b.IsRoot() && len(b.Payload) == 0 {
		return nil
	}
	_, res, err := decodeTxs(b.Payload, maxTxs)
	if err != nil {
		return nil
	}
	return res
}

// simRoot is the state root every honest replica computes after executing
// height h (the simulator has no application; this stands for one).
func simRoot(h uint64) model.Identifier {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h)
	return sha256.Sum256(b[:])
}

// chainTxs are the transactions of parent and its ancestors above the
// persisted finalized block (those below are in store.finalTxs). Within a
// step the core may finalize and prune blocks the store has not recorded
// yet, so ancestors are looked up in the core's tree, then among stored
// blocks, then among blocks that passed Validate in this life.
func (in *instance) chainTxs(parent *model.Block, maxTxs int) map[uint64]bool {
	lookup := func(id model.Identifier) *model.Block {
		if b := in.core.Block(id); b != nil {
			return b
		}
		if b := in.store.blocks[id]; b != nil {
			return b
		}
		return in.validated[id]
	}
	seen := make(map[uint64]bool)
	for b := parent; b != nil && b.Height > in.store.root.Height; b = lookup(b.ParentID) {
		ids, _, err := decodeTxs(b.Payload, maxTxs)
		if err != nil {
			continue // a block in the tree passed Validate; this cannot happen
		}
		for _, id := range ids {
			seen[id] = true
		}
	}
	return seen
}

// buildTxs fills a block extending parent: the oldest offered transactions
// neither finalized nor carried by the chain it extends.
func (in *instance) buildTxs(view model.View, parent *model.Block, tag uint16, maxTxs int) []byte {
	own := payload.Result{}
	if h := in.store.executed; h > 0 {
		own = payload.Result{Height: h, Root: simRoot(h)}
	}
	res := payload.Newest(own, resultOf(parent, maxTxs))
	onChain := in.chainTxs(parent, maxTxs)
	if in.repeatTxs {
		clear(onChain)
	}
	ids := make([]uint64, 0, maxTxs)
	for _, id := range in.pool.ids {
		if len(ids) == maxTxs {
			break
		}
		if !in.store.finalTxs[id] && !onChain[id] {
			ids = append(ids, id)
		}
	}
	return encodeTxs(view, tag, res, ids)
}

// validateTxs is the replica's payload rule: well formed, no transaction
// twice in the block, none already finalized or on the chain it extends,
// and a result root that matches what execution computes.
func (in *instance) validateTxs(b, parent *model.Block, maxTxs int) error {
	ids, res, err := decodeTxs(b.Payload, maxTxs)
	if err != nil {
		return err
	}
	if err := payload.CheckResult(b.Height, b.View, res, resultOf(parent, maxTxs)); err != nil {
		return err
	}
	onChain := in.chainTxs(parent, maxTxs)
	inBlock := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		switch {
		case inBlock[id]:
			return fmt.Errorf("%w: transaction %d twice in the block for view %d", model.ErrInvalid, id, b.View)
		case in.store.finalTxs[id]:
			return fmt.Errorf("%w: transaction %d of the block for view %d is already finalized", model.ErrInvalid, id, b.View)
		case onChain[id] && !in.repeatTxs:
			return fmt.Errorf("%w: transaction %d of the block for view %d is already on its chain", model.ErrInvalid, id, b.View)
		}
		inBlock[id] = true
	}
	if res.Height > 0 && res.Root != simRoot(res.Height) {
		return fmt.Errorf("%w: block for view %d commits to a wrong root for height %d", model.ErrInvalid, b.View, res.Height)
	}
	in.validated[b.ID()] = b
	return nil
}

// finalizedTxs records a block an instance finalized: its transactions
// leave the pool, count against the global ledger (a transaction finalized
// at two heights is a safety violation), and the block is executed after
// the execution lag.
func (s *sim) finalizedTxs(in *instance, b *model.Block) {
	ids, _, err := decodeTxs(b.Payload, s.cfg.MaxBlockTxs)
	if err != nil {
		s.violation(in, "finalized block h%d has a malformed payload: %v", b.Height, err)
		return
	}
	honest := !s.ids[in.member].byzantine()
	for _, id := range ids {
		in.store.finalTxs[id] = true
		if !honest {
			continue
		}
		ld := s.load
		if h, ok := ld.final[id]; ok {
			if h != b.Height {
				s.violation(in, "transaction %d finalized twice: at heights %d and %d", id, h, b.Height)
			}
			continue
		}
		ld.final[id] = b.Height
		at, ok := ld.submitted[id]
		delete(ld.submitted, id)
		s.txFinalized(&ld.txStats, at, ok)
	}
	if len(in.pool.ids) > 0 && len(ids) > 0 {
		in.pool.prune(in.store.finalTxs)
	}
	for id, vb := range in.validated {
		if vb.Height <= b.Height {
			delete(in.validated, id)
		}
	}
	if s.cfg.ExecLag == 0 {
		in.store.executed = b.Height
		return
	}
	s.sched.push(&event{at: s.now + s.cfg.ExecLag, kind: evExecuted, inst: in.idx, gen: in.gen, n: int(b.Height)})
}

// executed marks height h executed at in and retries the proposals that
// waited for it.
func (s *sim) executed(in *instance, h uint64) {
	if h <= in.store.executed {
		return
	}
	in.store.executed = h
	s.trace.add(s.now, "n%d executed h%d", in.idx, h)
	s.ran(in, in.eng.Retry(epoch.Add(s.now)))
}

// checkTxs is the liveness rule of a run under load, at its end: every
// transaction offered after GST, more than TxDeadline before the end, was
// finalized; and no stretch after GST without a finalized transaction
// exceeded MaxTxStall.
func (s *sim) checkTxs() {
	ld := s.load
	if ld == nil {
		return
	}
	s.latencyPercentiles(&ld.txStats)
	if len(ld.submitted) > 0 && !s.faulty {
		if gap := s.now - max(ld.lastFinalAt, s.gstAt); gap > s.res.LongestTxStall {
			s.res.LongestTxStall = gap
		}
	}
	for id, at := range ld.submitted {
		if at >= s.gstAt && s.now-at > s.cfg.TxDeadline {
			s.liveness("transaction %d offered at %v (after GST at %v) not finalized by %v", id, at, s.gstAt, s.now)
			return
		}
	}
	if s.cfg.MaxTxStall > 0 && s.res.LongestTxStall > s.cfg.MaxTxStall {
		s.liveness("no transaction finalized for %v after GST (bound %v)", s.res.LongestTxStall, s.cfg.MaxTxStall)
	}
}

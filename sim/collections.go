package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// A cluster run (Config.Cluster). The simulated chain is one collector
// cluster's chain: its payloads are collections, built and checked by
// collection.Chain, the code the collection role runs, against a simulated
// main chain that finalizes a block every mainInterval. Each replica sees
// the main chain mainLagMax or less behind (a follower's lag), so
// proposals referencing a main block it has not seen yet wait in the
// replica engine. A client offers Load transactions a second, each to
// every replica that is up (as access nodes and gossip would, so every
// pool holds every transaction and only the no-repeat index keeps them
// out of two collections), and re-offers older ones at random, finalized
// and expired ones included.
//
// The invariants, checked on every collection an honest replica
// finalizes, independently of the rules under test: it is within the
// limits, every transaction belongs to the cluster, references a main
// block at or below the collection's and within the expiry window, and no
// transaction is in two finalized collections: execution runs every
// finalized collection, so this is "no transaction executed twice".
// Liveness: every transaction offered after GST is finalized within
// Config.TxDeadline, and honest replicas never refuse an honest leader's
// collection nor fail to index a block (Result.HonestCollectionsRefused,
// Result.IndexErrors).
//
// Config.BadLeaders byzantine identities propose invalid collections
// (oversize by count or bytes, an expired transaction, another cluster's,
// one already collected, a reference block not yet final); honest
// replicas must refuse every one (Result.BadCollectionsRefused) and the
// invariants must hold.

const (
	// mainInterval is the simulated main chain's block time.
	mainInterval = 100 * time.Millisecond
	// mainLagMax bounds how far behind the main chain a replica's view is.
	mainLagMax = 300 * time.Millisecond
	// clusterExpiry is the expiry window in main blocks: 15 s, longer than
	// the stalls a twin still causes after GST (6 failed views in a row,
	// 8.4 s without a collection: seed 68 of the twin soak with 6 s), short
	// enough to roll several times in a run.
	clusterExpiry = 150
	// clusterK and clusterIndex: the simulated cluster is cluster 0 of 2,
	// so half the offered transactions belong to another cluster and must
	// never be collected here.
	clusterK, clusterIndex = 2, 0
	// resubmitEvery: one tick in this many re-offers an older transaction.
	resubmitEvery = 5
	// historyMax bounds the offered transactions kept for re-offering.
	historyMax = 4096
	// maxColPool bounds a replica's pool.
	maxColPool = 20_000
)

// clusterRules are the rules of the simulated cluster.
func clusterRules(maxTxs int) collection.Rules {
	return collection.Rules{
		Expiry: clusterExpiry,
		Limits: collection.Limits{MaxTxs: maxTxs, MaxBytes: 16 << 10, MaxTxBytes: 256},
		K:      clusterK, Index: clusterIndex, Epoch: 1,
	}
}

// simMain is the simulated main chain: block h is final from
// (h-1)·mainInterval on.
type simMain struct {
	ids    map[model.Identifier]uint64
	byH    []model.Identifier // byH[h-1]
	height func() uint64      // the newest final height now
}

func newSimMain(s *sim) *simMain {
	m := &simMain{ids: make(map[model.Identifier]uint64)}
	m.height = func() uint64 { return m.heightAt(s.now) }
	return m
}

func (m *simMain) heightAt(at time.Duration) uint64 {
	if at < 0 {
		at = 0
	}
	return 1 + uint64(at/mainInterval)
}

// id is main block h's ID (h ≥ 1).
func (m *simMain) id(h uint64) model.Identifier {
	for uint64(len(m.byH)) < h {
		n := uint64(len(m.byH)) + 1
		id := crypto.Sum([]byte("floe-sim/main"), binary.BigEndian.AppendUint64(nil, n))
		m.byH = append(m.byH, id)
		m.ids[id] = n
	}
	return m.byH[h-1]
}

// mainView is one replica's view of the main chain, lag behind.
type mainView struct {
	s   *sim
	m   *simMain
	lag time.Duration
}

func (v mainView) Latest() (model.Identifier, uint64) {
	h := v.m.heightAt(v.s.now - v.lag)
	return v.m.id(h), h
}

func (v mainView) RefHeight(id model.Identifier) (uint64, uint64, bool) {
	h, ok := v.m.ids[id]
	if _, latest := v.Latest(); !ok || h > latest {
		return 0, 0, false
	}
	return h, 1, true
}

// colPool is one replica's pending transactions, in offer order.
type colPool struct {
	txs []collection.Tx
	ids map[model.Identifier]bool
}

func (p *colPool) add(tx collection.Tx, lim collection.Limits) {
	id := tx.ID()
	if p.ids == nil {
		p.ids = make(map[model.Identifier]bool)
	}
	if p.ids[id] || len(p.txs) >= maxColPool || tx.Check(lim) != nil || collection.ClusterOf(id, clusterK) != clusterIndex {
		return // as the collector's Submit refuses another cluster's
	}
	p.ids[id] = true
	p.txs = append(p.txs, tx)
}

func (p *colPool) remove(ids []model.Identifier) {
	if len(ids) == 0 {
		return
	}
	gone := make(map[model.Identifier]bool, len(ids))
	for _, id := range ids {

		if p.ids[id] {
			gone[id] = true
			delete(p.ids, id)
		}
	}
	if len(gone) > 0 {
		p.txs = slices.DeleteFunc(p.txs, func(tx collection.Tx) bool { return gone[tx.ID()] })
	}
}

// colReplica is one instance's cluster-chain state for one life: the
// collection role's Chain, its pool and its main-chain view.
type colReplica struct {
	s     *sim
	in    *instance
	view  mainView
	chain *collection.Chain
	pool  colPool
	bad   bool // a BadLeaders identity
}

// colLoad is the client's side and the global record of finalized
// transactions.
type colLoad struct {
	next      uint64
	carry     float64
	ticks     int
	history   []collection.Tx
	submitted map[model.Identifier]time.Duration // offered, ours, not final
	refOf     map[model.Identifier]uint64        // main height each submitted tx references
	final     map[model.Identifier]uint64        // tx → cluster height of its collection
	txStats
}

// startCluster begins a cluster run.
func (s *sim) startCluster() {
	s.col = &colLoad{next: 1, submitted: map[model.Identifier]time.Duration{},
		refOf: map[model.Identifier]uint64{}, final: map[model.Identifier]uint64{}}
	s.sched.push(&event{at: 0, kind: evLoad})
	s.sched.push(&event{at: mainInterval, kind: evMainBlock})
}

// freshTx is a new client transaction referencing a recent main block.
func (s *sim) freshTx() collection.Tx {
	ld := s.col
	h := s.main.height()
	if back := uint64(s.rng.IntN(4)); h > back {
		h -= back
	}
	body := binary.BigEndian.AppendUint64([]byte("sim-tx  "), ld.next)
	ld.next++
	return collection.Tx{Ref: s.main.id(h), Body: body}
}

// offerCollections is the client's tick.
func (s *sim) offerCollections() {
	ld := s.col
	ld.carry += float64(s.cfg.Load) * loadTick.Seconds()
	n := int(ld.carry)
	ld.carry -= float64(n)
	var batch []collection.Tx
	for range n {
		tx := s.freshTx()
		id := tx.ID()
		if collection.ClusterOf(id, clusterK) == clusterIndex {
			ld.submitted[id] = s.now
			ld.refOf[id] = s.main.ids[tx.Ref]
			s.res.TxOffered++
		}
		if len(ld.history) < historyMax {
			ld.history = append(ld.history, tx)
		} else {
			ld.history[s.rng.IntN(historyMax)] = tx
		}
		batch = append(batch, tx)
	}
	ld.ticks++
	if ld.ticks%resubmitEvery == 0 && len(ld.history) > 0 {
		batch = append(batch, ld.history[s.rng.IntN(len(ld.history))])
		s.res.TxResubmitted++
	}
	lim := clusterRules(s.cfg.MaxBlockTxs).Limits
	for _, in := range s.insts {
		if in.up && in.col != nil {
			for _, tx := range batch {
				in.col.pool.add(tx, lim)
			}
		}
	}
	s.sched.push(&event{at: s.now + loadTick, kind: evLoad})
}

// mainBlock: the main chain advanced; proposals that waited for it are
// retried.
func (s *sim) mainBlock() {
	for _, in := range s.insts {
		if in.up && in.eng != nil {
			s.ran(in, in.eng.Retry(epoch.Add(s.now)))
		}
	}
	s.sched.push(&event{at: s.now + mainInterval, kind: evMainBlock})
}

// newColReplica restores an instance's cluster-chain state from its store,
// as the collector does after a restart: the index from the finalized
// window, then the unfinalized blocks. The pool starts empty.
func (s *sim) newColReplica(in *instance, st consensus.State) (*colReplica, error) {
	c := &colReplica{s: s, in: in, view: mainView{s: s, m: s.main, lag: in.mainLag}, bad: s.ids[in.member].role == roleBadLeader}
	chain, err := collection.NewChain(clusterRules(s.cfg.MaxBlockTxs), c.view, s.genesis.Root, 0)
	if err != nil {
		return nil, err
	}
	parent := func(b *model.Block) (*model.Block, error) {
		if p := in.store.blocks[b.ParentID]; p != nil {
			return p, nil
		}
		return nil, fmt.Errorf("block %v's parent not stored", b.ID())
	}
	if err := chain.Rebuild(st.Root, parent, 0, nil); err != nil {
		return nil, err
	}
	for _, b := range model.ByHeight(st.Blocks) {
		_ = chain.Add(b) // a block of a dead fork may not connect; its descendants are refused
	}
	c.chain = chain
	return c, nil
}

// build is the leader's side: the collection role's Build, or a bad
// collection from a BadLeaders identity.
func (c *colReplica) build(parent *model.Block) []byte {
	if c.bad {
		if p := c.badPayload(parent); p != nil {
			c.s.res.BadCollectionsProposed++
			return p
		}
	}
	payload, dead, _ := c.chain.Build(parent, c.pool.candidates(c.chain.Candidates(parent)), true)
	c.pool.remove(dead)
	return payload
}

func (p *colPool) candidates(n int) []collection.Tx { return p.txs[:min(n, len(p.txs))] }

// validate is the replica's side. Honest replicas run the collection
// role's Validate (unless Config.AcceptAnyCollection breaks it); a bad
// leader accepts anything, its own blocks included.
func (c *colReplica) validate(b, parent *model.Block) error {
	s := c.s
	if c.bad {
		return nil
	}
	if s.cfg.AcceptAnyCollection {
		if _, err := c.chain.PayloadOf(b); err != nil {
			return fmt.Errorf("%w: %w", model.ErrInvalid, err)
		}
		return nil
	}
	err := c.chain.Validate(b, parent)
	if err == nil {
		return nil
	}
	proposer := s.identityOf(b.ProposerID)
	switch {
	case s.ids[c.in.member].byzantine():
	case !c.chain.Ready(b):
		// Checked before its reference is final here: the engine parks
		// proposals until Ready, but steps a parked proposal's block and
		// synced blocks at once (so certificates finalize at the network's
		// speed); such a block joins the tree when it comes again.
		s.res.UnreadyRefused++
	case proposer != nil && proposer.role == roleBadLeader:
		s.res.BadCollectionsRefused++
		s.trace.add(s.now, "n%d refuses the bad collection of view %d: %v", c.in.idx, b.View, err)
	case proposer != nil && !proposer.byzantine():
		s.res.HonestCollectionsRefused++
		s.trace.add(s.now, "n%d refuses an honest proposer's collection of view %d: %v", c.in.idx, b.View, err)
	}
	return err
}

// identityOf is the identity with ID id, nil for none.
func (s *sim) identityOf(id model.NodeID) *identity {
	for _, idt := range s.ids {
		if idt.id == id {
			return idt
		}
	}
	return nil
}

// applied keeps the index in step with the block tree, as the collector's
// Applied hook does: new blocks by height, then what was finalized; a
// finalized collection's transactions leave the pool, and so do the pool's
// expired ones.
func (c *colReplica) applied(out *consensus.Output) {
	s := c.s
	for _, b := range model.ByHeight(out.Blocks) {
		if err := c.chain.Add(b); err != nil && !c.bad {
			s.res.IndexErrors++
			s.trace.add(s.now, "n%d cannot index the block of view %d: %v", c.in.idx, b.View, err)
		}
	}
	for _, b := range out.Finalized {
		p, err := c.chain.Finalize(b)
		if err != nil {
			if !c.bad {
				s.res.IndexErrors++
				s.trace.add(s.now, "n%d cannot finalize h%d in the index: %v", c.in.idx, b.Height, err)
			}
			continue
		}
		c.pool.remove(p.Collection.TxIDs())
	}
	if len(out.Finalized) > 0 {
		_, latest := c.view.Latest()
		var old []model.Identifier
		for _, tx := range c.pool.txs {
			if h, _, ok := c.view.RefHeight(tx.Ref); ok && h+clusterExpiry < latest {
				old = append(old, tx.ID())
			}
		}
		c.pool.remove(old)
	}
}

// BadCollectionKinds names the invalid collections bad leaders propose
// (Config.BadKind), in badPayload's order.
var BadCollectionKinds = []string{"oversize", "oversize-tx", "expired", "other-cluster", "repeat", "ref-ahead"}

// badPayload is a BadLeaders identity's proposal: one kind of invalid
// collection, drawn at random. nil when the kind cannot be built
// yet (too early for an expired reference, nothing final to repeat): the
// leader then proposes an honest collection.
func (c *colReplica) badPayload(parent *model.Block) []byte {
	s := c.s
	lim := c.chain.Rules().Limits
	ref, latest := c.view.Latest()
	if pp, err := c.chain.PayloadOf(parent); err == nil && pp.Ref != model.ZeroID && s.main.ids[pp.Ref] > latest {
		ref = pp.Ref // keep the payload reference from regressing: only the collection is bad
	}
	// made is a new transaction of this cluster, changed by change (the
	// reference and body are part of the ID, so the change comes first).
	made := func(change func(*collection.Tx)) collection.Tx {
		for {
			tx := s.freshTx()
			change(&tx)
			if collection.ClusterOf(tx.ID(), clusterK) == clusterIndex {
				return tx
			}
		}
	}
	fresh := func() collection.Tx { return made(func(*collection.Tx) {}) }
	var txs []collection.Tx
	kind := s.rng.IntN(len(BadCollectionKinds))
	if s.cfg.BadKind != "" {
		kind = slices.Index(BadCollectionKinds, s.cfg.BadKind)
	}
	switch kind {
	case 0: // one transaction over the count limit
		for range lim.MaxTxs + 1 {
			txs = append(txs, fresh())
		}
	case 1: // one transaction over the byte limit
		txs = append(txs, made(func(tx *collection.Tx) { tx.Body = append(tx.Body, make([]byte, lim.MaxTxBytes)...) }))
	case 2: // an expired transaction
		if latest <= clusterExpiry+1 {
			return nil
		}
		txs = append(txs, made(func(tx *collection.Tx) { tx.Ref = s.main.id(latest - clusterExpiry - 1) }))
	case 3: // another cluster's transaction
		for {
			tx := s.freshTx()
			if collection.ClusterOf(tx.ID(), clusterK) != clusterIndex {
				txs = append(txs, tx)
				break
			}
		}
	case 4: // a transaction already collected and finalized, still unexpired
		var again *collection.Tx
		for _, tx := range s.col.history {
			if _, final := s.col.final[tx.ID()]; final && s.main.ids[tx.Ref]+clusterExpiry > latest+5 {
				again = &tx
				break
			}
		}
		if again == nil {
			return nil
		}
		txs = append(txs, *again)
	case 5: // a transaction referencing a main block no replica has yet
		txs = append(txs, made(func(tx *collection.Tx) { tx.Ref = s.main.id(s.main.height() + 20) }))
	}
	return (&collection.Payload{Ref: ref, Collection: collection.NewCollection(txs)}).Encode()
}

// finalizedCollection checks a block an honest replica finalized against
// the invariants, independently of the rules under test.
func (s *sim) finalizedCollection(in *instance, b *model.Block) {
	if s.ids[in.member].byzantine() || len(b.Payload) == 0 {
		return
	}
	ld := s.col
	rules := clusterRules(s.cfg.MaxBlockTxs)
	p, err := collection.DecodePayload(b.Payload, rules.Limits)
	if err != nil {
		s.violation(in, "finalized cluster block h%d carries an invalid collection: %v", b.Height, err)
		return
	}
	at, ok := s.main.ids[p.Ref]
	if !ok {
		s.violation(in, "finalized cluster block h%d references no main block", b.Height)
		return
	}
	seen := make(map[model.Identifier]bool)
	first := false
	for _, tx := range p.Collection.Txs() {
		id := tx.ID()
		ref, known := s.main.ids[tx.Ref]
		switch {
		case collection.ClusterOf(id, clusterK) != clusterIndex:
			s.violation(in, "finalized collection h%d holds transaction %v of cluster %d", b.Height, id, collection.ClusterOf(id, clusterK))
		case !known || ref > at:
			s.violation(in, "finalized collection h%d (main ref %d) holds transaction %v with reference %d (known %v)", b.Height, at, id, ref, known)
		case ref+clusterExpiry < at:
			s.violation(in, "finalized collection h%d (main ref %d) holds transaction %v expired at %d", b.Height, at, id, ref+clusterExpiry)
		case seen[id]:
			s.violation(in, "transaction %v executed twice: twice in the collection finalized at cluster height %d", id, b.Height)
		}
		seen[id] = true
		if h, ok := ld.final[id]; ok {
			if h != b.Height {
				s.violation(in, "transaction %v executed twice: in the collections finalized at cluster heights %d and %d", id, h, b.Height)
			}
			continue
		}
		first = true
		ld.final[id] = b.Height
		offered, ok := ld.submitted[id]
		delete(ld.submitted, id)
		s.txFinalized(&ld.txStats, offered, ok)
	}
	if first {
		s.res.Collections++
	}
}

// checkCollections is the liveness rule of a cluster run, at its end:
// every transaction of the cluster offered after GST, more than
// TxDeadline before the end, was finalized. Those never finalized whose
// reference expired count as expired (refused, not lost): only
// transactions offered in the fault phase may end that way.
func (s *sim) checkCollections() {
	ld := s.col
	switch {
	case s.res.HonestCollectionsRefused > 0:
		s.liveness("honest replicas refused %d collections honest leaders proposed", s.res.HonestCollectionsRefused)
		return
	case s.res.IndexErrors > 0 && !s.cfg.AcceptAnyCollection:
		s.liveness("honest replicas could not index %d blocks", s.res.IndexErrors)
		return
	}
	s.latencyPercentiles(&ld.txStats)
	now := s.main.height()
	for id, at := range ld.submitted {
		expired := ld.refOf[id]+clusterExpiry < now
		if expired {
			s.res.TxExpired++
		}
		if at >= s.gstAt && s.now-at > s.cfg.TxDeadline && s.res.LivenessFailure == "" {
			s.liveness("transaction %v offered at %v (after GST at %v) not collected by %v (expired: %v)", id, at, s.gstAt, s.now, expired)
		}
	}
	if s.cfg.MaxTxStall > 0 && s.res.LongestTxStall > s.cfg.MaxTxStall {
		s.liveness("no transaction collected for %v after GST (bound %v)", s.res.LongestTxStall, s.cfg.MaxTxStall)
	}
}

// errNotCluster: a cluster-only setting without Config.Cluster.
var errNotCluster = errors.New("sim: bad leaders and accept-any-collection need a cluster run")

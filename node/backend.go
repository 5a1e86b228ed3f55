package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/storage"
)

// SubmitTxs offers transactions to the mempool and queues the accepted ones
// for gossip. A transaction already in the mempool is reported as accepted
// (submitting twice is not an error for a client).
func (n *Node) SubmitTxs(txs [][]byte) []SubmitResult {
	out := make([]SubmitResult, len(txs))
	if n.fol != nil {
		return n.refuseTxs(txs, out)
	}
	now := time.Now()
	var accepted [][]byte
	for i, tx := range txs {
		id, err := n.mempool.Add(tx)
		out[i] = SubmitResult{ID: model.Identifier(id), Error: err}
		if err == nil {
			accepted = append(accepted, tx)
			n.seen.add(model.Identifier(id), now)
		} else if errors.Is(err, mempool.ErrDuplicate) {
			out[i].Error = nil
		}
	}
	n.outbox.push(accepted)
	if len(accepted) > 0 {
		n.signalWork()
	}
	return out
}

// TxStatus reports whether a transaction is pending, finalized (with its
// result) or unknown to this node.
func (n *Node) TxStatus(id model.Identifier) (TxStatus, error) {
	r, err := n.store.TxResult(id)
	if err == nil {
		return TxStatus{ID: id, Status: "finalized", Result: &r}, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return TxStatus{}, err
	}
	if n.mempool.Has(id) {
		return TxStatus{ID: id, Status: "pending"}, nil
	}
	return TxStatus{ID: id, Status: "unknown"}, nil
}

// BlockByHeight returns the finalized block at height.
func (n *Node) BlockByHeight(height uint64) (*model.Block, error) {
	if height > n.finalizedHeight.Load() {
		return nil, storage.ErrNotFound
	}
	return n.store.FinalizedByHeight(height)
}

// LatestBlock returns the last finalized block.
func (n *Node) LatestBlock() (*model.Block, error) {
	return n.store.FinalizedByHeight(n.finalizedHeight.Load())
}

// Status describes the node.
func (n *Node) Status() Status {
	st := Status{
		NodeID: n.self, Name: n.name, ChainID: n.cfg.Genesis.ChainID,
		View: model.View(n.view.Load()), FinalizedHeight: n.finalizedHeight.Load(),
		Leader:         n.leaderLoad(),
		ExecutedHeight: n.executedHeight.Load(), BestPeerHeight: n.bestPeerHeight.Load(),
	}
	if b, err := n.store.FinalizedByHeight(st.FinalizedHeight); err == nil {
		st.FinalizedID = b.ID()
	}
	if root, err := n.store.StateRoot(st.ExecutedHeight); err == nil {
		st.StateRoot = root
	}
	st.Syncing = st.BestPeerHeight > st.FinalizedHeight+2
	st.MempoolTxs, st.MempoolBytes = n.mempool.Size()
	d := n.dir.Load()
	cur, err := d.schedule.EpochAt(st.View)
	if err != nil {
		cur = d.schedule.Last()
	}
	st.Epoch = epochInfo(&cur.Spec)
	if last := d.schedule.Last(); last.Counter > cur.Counter {
		next := epochInfo(&last.Spec)
		st.NextEpoch = &next
	}
	if d.pending != nil {
		p := epochInfo(d.pending)
		st.PendingSetup = &p
	}
	for _, m := range cur.Committee().Members() {
		st.Committee = append(st.Committee, CommitteeMember{ID: m.ID, Name: n.nameOf(m.ID), Weight: m.Weight})
	}
	connected := map[model.NodeID]bool{}
	for _, p := range n.transport.Peers() {
		connected[p.ID] = p.Connected
	}
	for _, m := range d.peers {
		if m.ID() != n.self {
			st.Peers = append(st.Peers, PeerInfo{ID: m.ID(), Name: m.Name, Address: m.Address, Connected: connected[m.ID()]})
		}
	}
	return st
}

// State reads a key of the executed application state with its Merkle
// proof against the state root at the executed height.
func (n *Node) State(key []byte) (StateValue, error) {
	n.appMu.RLock()
	defer n.appMu.RUnlock()
	value, proof, err := n.app.Prove(key)
	if err != nil {
		return StateValue{}, err
	}
	return StateValue{Key: key, Value: value, Proof: proof, Height: n.executedHeight.Load(), Root: n.app.Root()}, nil
}

// SubscribeFinalized streams executed blocks until ctx ends. A subscriber
// more than subscriberBuffer blocks behind is dropped (its channel closed).
func (n *Node) SubscribeFinalized(ctx context.Context) <-chan FinalizedBlock {
	return n.subs.add(ctx)
}

const (
	subscriberBuffer = 256
	maxSubscribers   = 64
)

// subscribers fan executed blocks out to API streams.
type subscribers = fanout[FinalizedBlock]

func newSubscribers() *subscribers {
	return newFanout[FinalizedBlock](subscriberBuffer, maxSubscribers)
}

// outbox holds transactions waiting to be gossiped; bounded, dropping the
// newest when full (they stay in our mempool and reach a block when we
// lead).
type outbox struct {
	mu  sync.Mutex
	txs [][]byte
	max int
}

func (o *outbox) push(txs [][]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := o.max - len(o.txs)
	if room <= 0 {
		return
	}
	if len(txs) > room {
		txs = txs[:room]
	}
	o.txs = append(o.txs, txs...)
}

func (o *outbox) drain(max int) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.txs) == 0 {
		return nil
	}
	n := min(max, len(o.txs))
	out := o.txs[:n:n]
	o.txs = o.txs[n:]
	return out
}

func epochInfo(s *epoch.Spec) EpochInfo {
	return EpochInfo{Counter: s.Counter, FirstView: s.FirstView, FinalView: s.FinalView, Members: len(s.Identities)}
}

package consensus

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/storage"
)

// SubmitTxs offers transactions to the mempool and queues the accepted ones
// for gossip. A transaction already in the mempool is reported as accepted
// (submitting twice is not an error for a client); one already finalized
// is refused with mempool.ErrFinalized, whether the mempool's recent window
// still remembers it or only the store does.
func (n *Node) SubmitTxs(txs [][]byte) []api.Submission {
	out := make([]api.Submission, len(txs))
	if n.pipe != nil {
		for i, tx := range txs {
			out[i] = api.Submission{ID: model.Identifier(crypto.Sum(tx)), Error: ErrPipelineNetwork}
		}
		return out
	}
	now := time.Now()
	var accepted [][]byte
	for i, tx := range txs {
		// What the mempool knows (pending, or finalized recently) is
		// answered from memory: a flood of resubmissions costs a hash and
		// a map lookup each. Only then the store: past the mempool's
		// recent window it alone remembers a finalized transaction, and a
		// transaction refused here never enters the pool a leader reaps
		// from.
		txID := model.Identifier(crypto.Sum(tx))
		if kerr := n.mempool.Known(mempool.ID(txID)); kerr != nil {
			out[i] = api.Submission{ID: txID}
			if !errors.Is(kerr, mempool.ErrPending) {
				out[i].Error = kerr
			}
			continue
		}
		if ferr := n.finalizedBefore(txID); ferr != nil {
			out[i] = api.Submission{ID: txID, Error: ferr}
			continue
		}
		id, err := n.mempool.Add(tx)
		out[i] = api.Submission{ID: model.Identifier(id), Error: err}
		switch {
		case err == nil:
			accepted = append(accepted, tx)
			n.seen.add(model.Identifier(id), now)
		case errors.Is(err, mempool.ErrPending):
			out[i].Error = nil
		}
	}
	n.outbox.push(accepted)
	if len(accepted) > 0 {
		n.run.SignalWork()
	}
	return out
}

// finalizedBefore reports (as an error wrapping mempool.ErrFinalized) that
// the store holds a result for id. A store failure other than "not found"
// is reported as it is: the submission then fails with code "error".
func (n *Node) finalizedBefore(id model.Identifier) error {
	r, err := n.led.Store().TxResult(id)
	switch {
	case err == nil:
		return fmt.Errorf("%w: %s is %w at height %d", mempool.ErrDuplicate, id, mempool.ErrFinalized, r.Height)
	case errors.Is(err, storage.ErrNotFound):
		return nil
	default:
		return err
	}
}

// TxStatus reports whether a transaction is pending, finalized (with its
// result) or unknown to this node.
func (n *Node) TxStatus(id model.Identifier) (api.TxStatus, error) {
	r, err := n.led.Store().TxResult(id)
	if err == nil {
		return api.TxStatus{ID: id, Status: "finalized", Result: &r}, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return api.TxStatus{}, err
	}
	if n.mempool.Has(id) {
		return api.TxStatus{ID: id, Status: "pending"}, nil
	}
	return api.TxStatus{ID: id, Status: "unknown"}, nil
}

// Status describes the node.
func (n *Node) Status() api.Status {
	st := api.ChainStatus(n.led, n.run.View())
	st.Leader, _ = n.run.Leader()
	st.NodeID, st.Name = n.self, n.name
	st.BestPeerHeight = n.run.BestPeerHeight()
	st.Syncing = st.BestPeerHeight > st.FinalizedHeight+2
	st.MempoolTxs, st.MempoolBytes = n.mempool.Size()
	connected := map[model.NodeID]bool{}
	for _, p := range n.transport.Peers() {
		connected[p.ID] = p.Connected
	}
	for _, m := range n.led.Directory().Peers() {
		if m.ID() != n.self {
			st.Peers = append(st.Peers, api.PeerState{ID: m.ID(), Name: m.Name, Address: m.Address, Connected: connected[m.ID()]})
		}
	}
	return st
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

// Evidence returns the equivocations this node has witnessed since its data
// directory was created, oldest first, and how many more were not kept
// because the log was full.
func (n *Node) Evidence() ([]evidence.Record, int) { return n.evidence.Snapshot() }

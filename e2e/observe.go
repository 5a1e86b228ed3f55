package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// The load and the tracker run beside the schedule, each in one goroutine,
// until the run ends. They only talk to nodes the runner believes reachable
// (started, not killed, paused or disconnected); partitioned nodes still
// answer on the host, and the load keeps submitting to them, as clients of
// a real partitioned node would.

// loadTick is how often the load submits a batch.
const loadTick = 100 * time.Millisecond

// loadKeys is the application key space the load writes to.
const loadKeys = 1000

// runLoad submits Rate transactions per second, round-robin over reachable
// nodes, in one batch per tick. A batch a node refuses or cannot take is
// tried once on the next node, then counted as failed: the load is
// open-loop and never queues.
func (r *Runner) runLoad(ctx context.Context) {
	var runID [8]byte
	rand.Read(runID[:])
	var counter uint64
	carry := 0.0
	next := 0
	tick := time.NewTicker(loadTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		carry += float64(r.loadRate.Load()) * loadTick.Seconds()
		n := int(carry)
		carry -= float64(n)
		if n == 0 {
			continue
		}
		txs := make([][]byte, n)
		for i := range txs {
			counter++
			key := fmt.Appendf(nil, "e2e-%03d", counter%loadKeys)
			value := binary.BigEndian.AppendUint64(nil, counter)
			nonce := binary.BigEndian.AppendUint64(append([]byte(nil), runID[:]...), counter)
			txs[i] = kvstore.EncodeSet(key, value, nonce)
		}
		nodes := r.reachableValidators() // followers refuse transactions
		if len(nodes) == 0 {
			r.ledger.fail(0, n)
			continue
		}
		sent := false
		for try := 0; try < 2 && !sent; try++ {
			nd := nodes[next%len(nodes)]
			next++
			rejected, err := nd.client.submit(ctx, txs)
			if err != nil {
				continue
			}
			sent = true
			accepted := make([][32]byte, 0, len(txs))
			for i, tx := range txs {
				if _, bad := rejected[i]; !bad {
					accepted = append(accepted, txID(tx))
				}
			}
			if !r.ledger.submit(accepted, time.Now()) {
				r.logf("load: %d transactions tracked, the most the runner keeps; the load stops", maxTrackedTxs)
				return
			}
			r.ledger.fail(len(rejected), 0)
		}
		if !sent {
			r.ledger.fail(0, n)
		}
	}
}

// trackerTick is how often the tracker asks for new finalized blocks.
const trackerTick = 250 * time.Millisecond

// runTracker follows the finalized chain from r.trackerNext on whichever reachable node
// answers (the one with the highest finalized height), records every block
// in the chain record (so that a node serving a different block at a height
// is a fork at once) and acknowledges the load's transactions it finds.
func (r *Runner) runTracker(ctx context.Context) {
	tick := time.NewTicker(trackerTick)
	defer tick.Stop()
	next := &r.trackerNext
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		nd, height := r.highestNode(ctx)
		if nd == nil || height < *next {
			continue
		}
		for *next <= height && ctx.Err() == nil {
			blocks, err := nd.client.chain(ctx, *next, 64)
			if err != nil || len(blocks) == 0 {
				break
			}
			for _, info := range blocks {
				b, err := r.decodeChainBlock(nd.Name, info)
				if err != nil {
					r.violate("chain", "%v", err)
					return
				}
				if b.Height != *next {
					r.violate("chain", "%s served height %d when asked for %d", nd.Name, b.Height, *next)
					return
				}
				if err := r.observeBlock(nd.Name, b, nil); err != nil {
					r.logf("tracker: %v", err)
					return
				}
				ids, err := payloadTxIDs(b, r.net.Genesis.Params.MaxBlockTxs)
				if err != nil {
					r.violate("chain", "%s: block %d: %v", nd.Name, b.Height, err)
					return
				}
				r.noteTimestamp(b)
				acked := r.ledger.ack(ids, b.Height, b.ID(), nd.Name)
				r.series.add(time.Now(), acked, min(int(b.Height), 1)) // genesis is no finalized block
				*next++
			}
		}
	}
}

// highestNode asks every reachable node for its status and returns the one
// with the highest finalized height.
func (r *Runner) highestNode(ctx context.Context) (*nodeState, uint64) {
	var best *nodeState
	var height uint64
	for _, nd := range r.reachableValidators() {
		st, err := nd.client.status(ctx)
		if err != nil {
			continue
		}
		if best == nil || st.FinalizedHeight > height {
			best, height = nd, st.FinalizedHeight
		}
	}
	return best, height
}

// decodeChainBlock decodes a block as served by GET /v1/chain and checks
// that it is the block the node claims (the ID is recomputed from the
// header, and decoding checks the payload against its hash).
func (r *Runner) decodeChainBlock(node string, info api.ChainBlockInfo) (*model.Block, error) {
	raw, err := hex.DecodeString(info.Block)
	if err != nil {
		return nil, fmt.Errorf("%s: block %d: %w", node, info.Height, err)
	}
	b, err := model.DecodeBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: block %d does not decode: %w", node, info.Height, err)
	}
	if b.Height != info.Height || b.ID().Hex() != info.ID {
		return nil, fmt.Errorf("%s: block listed as height %d, ID %s is height %d, ID %s",
			node, info.Height, info.ID, b.Height, b.ID().Hex())
	}
	return b, nil
}

// payloadTxIDs lists the IDs of a block's transactions.
func payloadTxIDs(b *model.Block, maxTxs int) ([][32]byte, error) {
	if b.Height == 0 {
		return nil, nil // genesis
	}
	p, err := payload.Decode(b.Payload, payload.Limits{MaxTxs: maxTxs})
	if err != nil {
		return nil, err
	}
	txs := p.Transactions
	ids := make([][32]byte, len(txs))
	for i, tx := range txs {
		ids[i] = txID(tx)
	}
	return ids, nil
}

// noteTimestamp keeps the largest lead of a block's timestamp (the
// proposer's clock) over the runner's clock when the block was first seen:
// skewed clocks show up here.
func (r *Runner) noteTimestamp(b *model.Block) {
	if b.Height == 0 {
		return
	}
	lead := time.Duration(b.Timestamp-time.Now().UnixMilli()) * time.Millisecond
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxTimestampLead = max(r.maxTimestampLead, lead)
}

package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
)

// queueKey names a cluster: clusters are per epoch.
type queueKey struct {
	epoch   uint64
	cluster int
}

// outTx is one transaction waiting to be forwarded.
type outTx struct {
	id  model.Identifier
	raw []byte
}

// forwarder drains one cluster's bounded queue into batches for the
// cluster's collectors (POST /v1/collector/transactions).
type forwarder struct {
	s      *Service
	key    queueKey
	route  Route
	queue  chan outTx
	rotate int // the first member of the next batch: spreads the load
}

// forwarderFor returns the cluster's forwarder, starting it on first use.
// The number of forwarders is bounded by the clusters of the epochs whose
// references are in the window (a handful of epochs).
func (s *Service) forwarderFor(r Route) *forwarder {
	k := queueKey{r.Epoch, r.Cluster}
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	if f, ok := s.forwarders[k]; ok {
		return f
	}
	f := &forwarder{s: s, key: k, route: r, queue: make(chan outTx, s.cfg.QueueTxs)}
	s.forwarders[k] = f
	s.goFunc(f.run)
	return f
}

// offer queues a transaction without waiting; false when the queue is full.
func (f *forwarder) offer(tx outTx) bool {
	select {
	case f.queue <- tx:
		return true
	default:
		return false
	}
}

func (f *forwarder) run() {
	ctx := f.s.ctx
	batch := make([]outTx, 0, f.s.cfg.BatchTxs)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case tx := <-f.queue:
			batch = append(batch, tx)
		}
		// Gather what arrives within BatchWait of the first, up to BatchTxs.
		timer := time.NewTimer(f.s.cfg.BatchWait)
	gather:
		for len(batch) < f.s.cfg.BatchTxs {
			select {
			case tx := <-f.queue:
				batch = append(batch, tx)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		timer.Stop()
		f.s.m.queueDepth(f.key, len(f.queue))
		f.send(ctx, batch)
	}
}

// send delivers a batch to Redundancy members of the cluster, starting at
// a rotating member. A member that refuses the whole batch (503: its pool
// is full; or unreachable) is replaced by the next one; when a whole round
// over the members delivered no copy, the batch waits (50 ms, doubling)
// and tries again, ForwardRetries times. Transactions no member took end
// failed; a member's per-item refusals count against that item only.
func (f *forwarder) send(ctx context.Context, batch []outTx) {
	members := f.route.Members
	want := min(f.s.cfg.Redundancy, len(members))
	raws := make([][]byte, len(batch))
	for i, tx := range batch {
		raws[i] = tx.raw
	}
	copies := make([]int, len(batch))
	lastErr := make([]string, len(batch))
	var took []string
	start := f.rotate
	f.rotate = (f.rotate + 1) % len(members)
	backoff := 50 * time.Millisecond
	var err error
	for round := 0; round <= f.s.cfg.ForwardRetries && len(took) == 0; round++ {
		if round > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff *= 2
		}
		for j := 0; j < len(members) && len(took) < want; j++ {
			url := members[(start+j)%len(members)]
			rejected, e := f.deliver(ctx, url, raws)
			if e != nil {
				err = e
				f.s.log.Debug("access: collector refused a batch", "collector", url, "txs", len(batch), "err", e)
				continue
			}
			took = append(took, url)
			for i := range batch {
				if msg, ok := rejected[i]; ok {
					lastErr[i] = msg
					continue
				}
				copies[i]++
				f.s.m.forwarded.Inc()
			}
		}
	}
	var ids, failed []model.Identifier
	for i, tx := range batch {
		if copies[i] > 0 {
			ids = append(ids, tx.id)
		} else {
			failed = append(failed, tx.id)
			if lastErr[i] == "" && err != nil {
				lastErr[i] = err.Error()
			}
		}
	}
	switch {
	case len(took) == 0:
		f.s.m.fwdBatches.WithLabelValues("failed").Inc()
		f.s.log.Warn("access: no collector took a batch", "epoch", f.key.epoch, "cluster", f.key.cluster, "txs", len(batch), "err", err)
	case len(took) < want:
		f.s.m.fwdBatches.WithLabelValues("partial").Inc()
	default:
		f.s.m.fwdBatches.WithLabelValues("ok").Inc()
	}
	f.s.tr.delivered(ids, took)
	if len(failed) > 0 {
		f.s.m.fwdFailed.Add(float64(len(failed)))
		now := f.s.cfg.Now()
		for i, tx := range batch {
			if copies[i] == 0 {
				f.s.tr.fail([]model.Identifier{tx.id}, fmt.Sprintf("no collector of cluster %d took it: %s", f.key.cluster, lastErr[i]), now)
			}
		}
	}
}

// errCollectorBusy: a collector refused the whole batch as full.
var errCollectorBusy = errors.New("collector busy")

// deliver posts the batch to one collector and returns its per-item
// refusals by index. An error means the collector took none of it.
func (f *forwarder) deliver(ctx context.Context, url string, raws [][]byte) (map[int]string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.s.cfg.RequestTimeout)
	defer cancel()
	resp, err := f.s.collector(url).SubmitCollector(ctx, raws)
	if err != nil {
		if client.IsStatus(err, 503) {
			return nil, fmt.Errorf("%w: %s: %v", errCollectorBusy, url, err)
		}
		return nil, err
	}
	if resp.Accepted == 0 && resp.Rejected > 0 {
		return nil, fmt.Errorf("%s took none of %d transactions: %s", url, len(raws), resp.Error)
	}
	rejected := make(map[int]string, len(resp.Results))
	for _, r := range resp.Results {
		if r.Error != "" && r.Index >= 0 && r.Index < len(raws) {
			rejected[r.Index] = r.Error
		}
	}
	return rejected, nil
}

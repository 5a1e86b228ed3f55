package access

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
// cluster's collectors (POST /v1/collector/transactions). The queue is a
// slice that grows with use up to QueueTxs, so an idle cluster costs
// nothing but its goroutine.
type forwarder struct {
	s      *Service
	key    queueKey
	route  Route
	rotate int // the first member of the next batch: spreads the load

	mu     sync.Mutex
	items  []outTx
	notify chan struct{} // something was queued
	stop   chan struct{} // closed when the cluster's epoch left the window
}

// forwarderFor returns the cluster's forwarder, starting it on first use.
// Forwarders of epochs older than every reference in the window are
// retired (retire), so their number stays that of the clusters of a
// handful of epochs.
func (s *Service) forwarderFor(r Route) *forwarder {
	k := queueKey{r.Epoch, r.Cluster}
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	if f, ok := s.forwarders[k]; ok {
		return f
	}
	f := &forwarder{s: s, key: k, route: r, notify: make(chan struct{}, 1), stop: make(chan struct{})}
	s.forwarders[k] = f
	s.goFunc(f.run)
	return f
}

// retire stops the idle forwarders of epochs below oldest: no reference
// in the window names them, so Submit routes nothing there any more.
func (s *Service) retire(oldest uint64) {
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	for k, f := range s.forwarders {
		if k.epoch < oldest && f.depth() == 0 {
			close(f.stop)
			delete(s.forwarders, k)
		}
	}
}

// offer queues a transaction without waiting; false when the queue is full.
func (f *forwarder) offer(tx outTx) bool {
	f.mu.Lock()
	if len(f.items) >= f.s.cfg.QueueTxs {
		f.mu.Unlock()
		return false
	}
	f.items = append(f.items, tx)
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	return true
}

func (f *forwarder) depth() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.items)
}

// take removes up to max queued transactions, oldest first.
func (f *forwarder) take(max int) []outTx {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(max, len(f.items))
	batch := make([]outTx, n)
	copy(batch, f.items)
	clear(f.items[:n])
	f.items = f.items[n:]
	if len(f.items) == 0 {
		f.items = nil // give the array back
	}
	return batch
}

func (f *forwarder) run() {
	ctx := f.s.ctx
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.stop:
			return
		case <-f.notify:
		}
		for f.depth() > 0 {
			// Gather what arrives within BatchWait, unless a full batch waits.
			if f.depth() < f.s.cfg.BatchTxs {
				t := time.NewTimer(f.s.cfg.BatchWait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			batch := f.take(f.s.cfg.BatchTxs)
			f.s.m.queueDepth(f.key, f.depth())
			f.send(ctx, batch)
		}
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
	resp, err := f.s.apiClient(url).SubmitCollector(ctx, raws)
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

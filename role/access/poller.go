package access

import (
	"context"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
)

// pollTick is how often the poller looks for due polls; each tick hands
// out PollRate/10 at most.
const pollTick = 100 * time.Millisecond

// poll asks, for each pending transaction once per PollInterval, one of
// the collectors that took it (in turn) whether it was collected
// (GET /v1/collector/transactions/{id}). PollWorkers requests at most are
// in flight and PollRate per second; when they cannot keep up, polls wait
// in the tracker's due queue (bounded by the tracker), oldest first,
// instead of piling up here.
func (s *Service) poll() {
	jobs := make(chan pollJob, s.cfg.PollWorkers)
	for range s.cfg.PollWorkers {
		s.goFunc(func() {
			for {
				select {
				case <-s.ctx.Done():
					return
				case j := <-jobs:
					s.pollOne(j)
				}
			}
		})
	}
	t := time.NewTicker(pollTick)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		for _, j := range s.tr.takeDue(s.cfg.Now(), max(1, s.cfg.PollRate/10)) {
			select {
			case <-s.ctx.Done():
				return
			case jobs <- j:
			}
		}
	}
}

func (s *Service) pollOne(j pollJob) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.apiClient(j.url).CollectorTx(ctx, j.id)
	switch {
	case err != nil:
		s.m.polls.WithLabelValues("error").Inc()
		s.log.Debug("access: collector poll failed", "collector", j.url, "tx", j.id, "err", err)
	case resp.Status == api.TxCollected:
		coll, perr := model.ParseIdentifier(resp.Collection)
		if perr != nil {
			s.m.polls.WithLabelValues("error").Inc()
			s.log.Warn("access: collector named a malformed collection", "collector", j.url, "tx", j.id, "collection", resp.Collection)
			return
		}
		s.m.polls.WithLabelValues("collected").Inc()
		s.tr.collected(j.id, coll, resp.Chain, s.cfg.Now())
	case resp.Status == api.TxPending:
		s.m.polls.WithLabelValues("pending").Inc()
	default:
		s.m.polls.WithLabelValues("unknown").Inc()
	}
}

package access

import (
	"context"

	"github.com/floe-bft/floe/consensus/model"
)

// fetchQueue bounds the guarantees waiting for their collection to be
// fetched: a block carries at most 100, so this is minutes of blocks. A
// guarantee that finds it full is skipped (its transactions are still
// learned by polling).
const fetchQueue = 4096

// fetchWorkers is how many collections are read at once.
const fetchWorkers = 2

// fetchJob is a finalized guarantee whose collection may hold
// transactions of this node.
type fetchJob struct {
	coll   model.Identifier
	chain  model.ChainID
	height uint64
}

// queueFetch asks for a finalized guarantee's collection, without waiting,
// when this node has transactions not yet known to be collected.
func (s *Service) queueFetch(j fetchJob) {
	if !s.tr.hasPending() {
		return
	}
	select {
	case s.fetches <- j:
	default:
		s.m.fetches.WithLabelValues("skipped").Inc()
	}
}

// fetch reads finalized guarantees' collections from their guarantors
// (GET /v1/collections/{id}, checked against the ID) and moves the
// transactions of this node they carry straight to finalized: the block
// says a collection is final, only its contents say which transactions
// that finalizes, and asking each pending transaction's collectors would
// learn it a poll interval late.
func (s *Service) fetch() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.fetches:
			s.fetchOne(j)
		}
	}
}

func (s *Service) fetchOne(j fetchJob) {
	members := s.cfg.Directory.ChainMembers(j.chain)
	if len(members) == 0 {
		s.m.fetches.WithLabelValues("no_member").Inc()
		return
	}
	start := int(j.coll[0]) % len(members) // spread the reads over the guarantors
	for k := range members {
		url := members[(start+k)%len(members)]
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
		col, err := s.apiClient(url).Collection(ctx, j.coll, s.cfg.CollectionLimits)
		cancel()
		if err != nil {
			s.log.Debug("access: collection fetch failed", "guarantor", url, "collection", j.coll, "err", err)
			continue
		}
		s.m.fetches.WithLabelValues("ok").Inc()
		s.tr.collectionFinalized(j.coll, j.chain.Hex(), col.TxIDs(), j.height, s.cfg.Now())
		return
	}
	s.m.fetches.WithLabelValues("failed").Inc()
}

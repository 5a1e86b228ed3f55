package consensus

import (
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// seenTxs remembers when transactions submitted to this node entered its
// mempool, to measure finalization latency. Bounded: the oldest entries go
// first.
type seenTxs struct {
	mu    sync.Mutex
	at    map[model.Identifier]time.Time
	order []model.Identifier
	max   int
}

func newSeenTxs(max int) *seenTxs {
	return &seenTxs{at: make(map[model.Identifier]time.Time), max: max}
}

func (s *seenTxs) add(id model.Identifier, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.at[id]; ok {
		return
	}
	if len(s.order) >= s.max {
		delete(s.at, s.order[0])
		s.order = s.order[1:]
	}
	s.at[id] = t
	s.order = append(s.order, id)
}

func (s *seenTxs) take(id model.Identifier) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[id]
	if ok {
		delete(s.at, id)
	}
	return t, ok
}

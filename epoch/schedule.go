package epoch

import (
	"fmt"
	"sort"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// Schedule is an immutable list of contiguous epochs, oldest first: which
// epoch (hence which committee) owns each known view. It implements
// committee.Schedule.
type Schedule struct {
	epochs []*Epoch
}

// NewSchedule checks that the epochs are contiguous and numbered in order.
func NewSchedule(epochs []*Epoch) (*Schedule, error) {
	if len(epochs) == 0 {
		return nil, fmt.Errorf("%w: empty schedule", ErrInvalid)
	}
	for i := 1; i < len(epochs); i++ {
		p, e := epochs[i-1], epochs[i]
		if e.Counter != p.Counter+1 || e.FirstView != p.FinalView+1 {
			return nil, fmt.Errorf("%w: epoch %d (views %d..%d) does not follow epoch %d (views %d..%d)",
				ErrInvalid, e.Counter, e.FirstView, e.FinalView, p.Counter, p.FirstView, p.FinalView)
		}
	}
	return &Schedule{epochs: append([]*Epoch(nil), epochs...)}, nil
}

// EpochAt returns the epoch that owns view v.
func (s *Schedule) EpochAt(v model.View) (*Epoch, error) {
	i := sort.Search(len(s.epochs), func(i int) bool { return s.epochs[i].FinalView >= v })
	if i == len(s.epochs) || !s.epochs[i].Contains(v) {
		return nil, fmt.Errorf("%w: view %d (known epochs cover views %d..%d)", ErrUnknownEpoch, v, s.epochs[0].FirstView, s.Last().FinalView)
	}
	return s.epochs[i], nil
}

// CommitteeAt returns the committee of view v.
func (s *Schedule) CommitteeAt(v model.View) (*committee.Committee, error) {
	e, err := s.EpochAt(v)
	if err != nil {
		return nil, err
	}
	return e.committee, nil
}

// Epoch returns the epoch with the given counter.
func (s *Schedule) Epoch(counter uint64) (*Epoch, error) {
	first := s.epochs[0].Counter
	if counter < first || counter-first >= uint64(len(s.epochs)) {
		return nil, fmt.Errorf("%w: epoch %d is not known (known: %d..%d)", ErrUnknownEpoch, counter, first, s.Last().Counter)
	}
	return s.epochs[counter-first], nil
}

// Epochs returns the epochs, oldest first. Callers must not modify it.
func (s *Schedule) Epochs() []*Epoch { return s.epochs }

// Last is the newest known epoch.
func (s *Schedule) Last() *Epoch { return s.epochs[len(s.epochs)-1] }

var _ committee.Schedule = (*Schedule)(nil)

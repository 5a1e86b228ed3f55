package execution

import (
	"slices"
	"sync"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

// MissingRecord is the evidence that a guaranteed collection was not
// served: every guarantor that signed its guarantee, and so promised to
// serve it, was asked in a whole round and none gave it. Execution waits
// for it (it never skips a collection), so a record that stays open is a
// stalled executor, and its Guarantors are the collectors that broke
// their promise.
type MissingRecord struct {
	Collection model.Identifier `json:"-"`
	ID         string           `json:"collection"`
	Height     uint64           `json:"height"` // the main-chain block that named it
	Chain      string           `json:"cluster_chain"`
	// Guarantors are the signers asked, by node ID, with the reason the
	// last answer of each was refused.
	Guarantors map[string]string `json:"guarantors"`
	Rounds     int               `json:"rounds"` // whole rounds asked so far
	Since      time.Time         `json:"since"`
	// Resolved is when the record closed (zero: still missing); Served
	// says whether a guarantor served it then, or it was no longer needed
	// (a prefetched repeat the ledger held back, or the node stopping).
	Resolved time.Time `json:"resolved,omitzero"`
	Served   bool      `json:"served"`
}

// maxResolvedRecords bounds the resolved records kept for the API.
const maxResolvedRecords = 256

// Missing is the evidence of collections not served: the open records
// (bounded by what the fetcher has in flight, itself bounded) and the
// most recent closed ones.
type Missing struct {
	mu       sync.Mutex
	open     map[model.Identifier]*MissingRecord
	resolved []MissingRecord // oldest first, at most maxResolvedRecords
	m        *metrics
}

func newMissing(m *metrics) *Missing {
	return &Missing{open: make(map[model.Identifier]*MissingRecord), m: m}
}

// report opens or updates the record of a collection after a whole
// round failed. It returns true when the record is new.
func (s *Missing) report(r MissingRecord) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.open[r.Collection]; ok {
		cur.Rounds, cur.Guarantors = r.Rounds, r.Guarantors
		return false
	}
	c := r
	s.open[r.Collection] = &c
	s.m.missing.Set(float64(len(s.open)))
	s.m.missingTotal.Inc()
	return true
}

// resolve closes a collection's record, if it has one (served at last, or
// no longer needed).
func (s *Missing) resolve(id model.Identifier, now time.Time, served bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.open[id]
	if !ok {
		return
	}
	delete(s.open, id)
	s.m.missing.Set(float64(len(s.open)))
	r.Resolved, r.Served = now, served
	if len(s.resolved) == maxResolvedRecords {
		s.resolved = append(s.resolved[:0], s.resolved[1:]...)
	}
	s.resolved = append(s.resolved, *r)
}

// Open returns the collections missing now, oldest first.
func (s *Missing) Open() []MissingRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MissingRecord, 0, len(s.open))
	for _, r := range s.open {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b MissingRecord) int { return a.Since.Compare(b.Since) })
	return out
}

// Resolved returns the most recent records closed, oldest first.
func (s *Missing) Resolved() []MissingRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MissingRecord(nil), s.resolved...)
}

package epoch

import (
	"errors"
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// Queue holds service events submitted to a node until a
// finalized block carries them. Small and bounded: governance is rare.
type Queue struct {
	mu     sync.Mutex
	events []*Event
	// inFlight: the view of the newest block in the tree carrying the event;
	// leaders skip such events unless that block is long abandoned.
	inFlight map[model.Identifier]model.View
}

// inFlightViews is after how many views an event whose block was not
// finalized is proposed again.
const inFlightViews = 20

const maxQueuedEvents = 16

// ErrQueueFull: too many service events wait for a block; retry later.
var ErrQueueFull = errors.New("governance queue full")

// Add queues e once: a second submission of it changes nothing and gets
// ErrAlreadyQueued, so that the caller does not broadcast it again.
func (q *Queue) Add(e *Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	id := e.ID()
	for _, x := range q.events {
		if x.ID() == id {
			return ErrAlreadyQueued
		}
	}
	if len(q.events) >= maxQueuedEvents {
		return ErrQueueFull
	}
	q.events = append(q.events, e)
	return nil
}

// Pending reports whether service events wait for a block.
func (q *Queue) Pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events) > 0
}

// Remove forgets an event a finalized block settled.
func (q *Queue) Remove(id model.Identifier) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, id)
	for i, x := range q.events {
		if x.ID() == id {
			q.events = append(q.events[:i], q.events[i+1:]...)
			return
		}
	}
}

// MarkInFlight records events carried by a block of the tree.
func (q *Queue) MarkInFlight(events []*Event, view model.View) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight == nil {
		q.inFlight = make(map[model.Identifier]model.View)
	}
	for _, e := range events {
		id := e.ID()
		if len(q.inFlight) < 4*maxQueuedEvents || q.inFlight[id] != 0 {
			q.inFlight[id] = max(q.inFlight[id], view)
		}
	}
}

// Ready returns up to max queued events that no recent block carries,
// oldest first, for a block proposed in view.
func (q *Queue) Ready(view model.View, max int) []*Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*Event
	for _, e := range q.events {
		if len(out) == max {
			break
		}
		if v, ok := q.inFlight[e.ID()]; ok && v+inFlightViews > view {
			continue
		}
		out = append(out, e)
	}
	return out
}

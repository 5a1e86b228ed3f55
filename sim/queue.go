package sim

import (
	"container/heap"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

type eventKind uint8

const (
	evDeliver eventKind = iota + 1
	evTimer
	evStart
	evCrash
	evRestart
	evNetChange
	evSyncRetry
	evLoad      // the client offers a batch of transactions
	evExecuted  // an instance finished executing height n
	evMainBlock // the simulated main chain finalized a block (cluster runs)
)

// wire is a message in flight between two instances.
type wire struct {
	from     int
	msg      consensus.Message // consensus traffic
	syncReq  *syncRequest
	syncResp []*model.Block
	// forged marks a message the adversary crafted (it crosses the wire as
	// bytes); lenient lets it skip the verifier's leader check; what names
	// the attack in traces.
	forged  bool
	lenient bool
	what    string
}

// syncRequest asks for a block and its ancestors above height have.
type syncRequest struct {
	id   model.Identifier
	have uint64
}

type event struct {
	at   time.Duration // since the start of the run
	seq  uint64        // tie-breaker: insertion order, for determinism
	kind eventKind
	inst int
	gen  uint64 // timer generation / restart epoch it belongs to
	wire *wire
	id   model.Identifier // sync retry target
	n    int              // sync retry count
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

type scheduler struct {
	q   eventQueue
	seq uint64
}

func (s *scheduler) push(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

func (s *scheduler) pop() *event {
	if len(s.q) == 0 {
		return nil
	}
	return heap.Pop(&s.q).(*event)
}

package replica

import (
	"context"
	"sync"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
)

// Job is one unit of work for a Pool: a message to Check, a batch of votes
// for one block (VoteBatcher's release) to check as one aggregate, or other
// checking work of the replica's (Work: validating synced blocks, say),
// which returns the event to deliver (nil: nothing) or the reason to drop.
type Job struct {
	From    model.NodeID
	Message consensus.Message
	Votes   []*model.Vote
	Work    func() (consensus.Event, error)
}

// PoolConfig configures a Pool.
type PoolConfig struct {
	// Workers is how many goroutines verify (default 2).
	Workers int
	// Queue bounds the jobs waiting (default 8192); beyond it Submit
	// refuses.
	Queue int
	// Verifier returns the verifier to check with now (epochs replace it).
	Verifier func() *verify.Verifier
	// Deliver hands a checked event to whoever steps the engine. It may
	// block (workers are not consensus); it must return once ctx ends.
	Deliver func(ctx context.Context, from model.NodeID, ev consensus.Event)
	// Rejected reports a job that failed its checks (one call per rejected
	// vote of a batch). Optional.
	Rejected func(from model.NodeID, err error)
}

// Pool runs the checks of inbound messages on worker goroutines, so that
// only verified events reach the engine, which stays single-threaded. It
// is how a node runs verification work; the simulator runs Check in line,
// so one seed still reproduces one run. The queue is bounded: a full
// queue refuses the job, and the caller counts the drop.
type Pool struct {
	cfg  PoolConfig
	jobs chan Job
}

// NewPool returns a pool; Run starts its workers.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	return &Pool{cfg: cfg, jobs: make(chan Job, cfg.Queue)}
}

// Submit queues j, or reports false when the queue is full (it never
// blocks: the receive path must not wait on verification).
func (p *Pool) Submit(j Job) bool {
	select {
	case p.jobs <- j:
		return true
	default:
		return false
	}
}

// Len is how many jobs wait.
func (p *Pool) Len() int { return len(p.jobs) }

// Run verifies until ctx ends, on the configured number of workers, and
// returns once they all have.
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < p.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-p.jobs:
					p.do(ctx, j)
				}
			}
		}()
	}
	wg.Wait()
}

func (p *Pool) do(ctx context.Context, j Job) {
	switch {
	case j.Votes != nil:
		ok, rejected := p.cfg.Verifier().Votes(j.Votes)
		for _, err := range rejected {
			p.reject(j.From, err)
		}
		for _, v := range ok {
			p.cfg.Deliver(ctx, j.From, consensus.VoteEvent{Vote: v})
		}
	case j.Work != nil:
		ev, err := j.Work()
		if err != nil {
			p.reject(j.From, err)
			return
		}
		if ev != nil {
			p.cfg.Deliver(ctx, j.From, ev)
		}
	default:
		ev, err := Check(p.cfg.Verifier(), j.Message)
		if err != nil {
			p.reject(j.From, err)
			return
		}
		p.cfg.Deliver(ctx, j.From, ev)
	}
}

func (p *Pool) reject(from model.NodeID, err error) {
	if p.cfg.Rejected != nil {
		p.cfg.Rejected(from, err)
	}
}

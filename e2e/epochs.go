package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// Epochs in the runner. The runner verifies every finalized block itself
// (certificates, leaders), so it must know which committee and leader seed
// own each view. It does not ask the nodes: it runs its own copy of the
// epoch state machine (package epoch) over the finalized chain, in height
// order, exactly as a node does (ledger/epochs.go), starting from the
// genesis. A block is verified against the schedule that results from all
// blocks below it; its service events are applied after.

// maxWaitingBlocks bounds the blocks held until the heights below them are
// verified (two goroutines record heights; each reads 64 at a time, so a
// handful wait at most).
const maxWaitingBlocks = 4096

type pendingBlock struct {
	b           *model.Block
	parent      model.Identifier
	parentStamp int64
}

// epochTracker verifies blocks in height order against the epoch schedule
// the chain below them defines.
type epochTracker struct {
	mu       sync.Mutex
	state    *epoch.State
	verifier *verify.Verifier
	rootQC   *model.QC
	next     uint64 // the next height to verify
	waiting  map[uint64]pendingBlock
	// started is the newest epoch whose views finalized blocks reached.
	started uint64
	// reputation is the chain's leader rule; recent holds the verified
	// blocks it reads (its span of views below the newest one).
	reputation reputation.Params
	recent     recentBlocks
}

// recentBlocks is a block lookup for reputation.
type recentBlocks map[model.Identifier]*model.Block

func (r recentBlocks) Block(id model.Identifier) *model.Block { return r[id] }

func newEpochTracker(st *epoch.State, rootQC *model.QC, rep reputation.Params, root *model.Block) *epochTracker {
	return &epochTracker{state: st, rootQC: rootQC, next: 1, waiting: make(map[uint64]pendingBlock),
		verifier: verify.New(root.ChainID, st.Schedule(), crypto.BLS(), rootQC), reputation: rep,
		recent: recentBlocks{root.ID(): root}}
}

// currentVerifier is the verifier of the newest schedule.
func (t *epochTracker) currentVerifier() *verify.Verifier {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.verifier
}

// committeeAt returns the committee of view v and whether the schedule
// knows v; for a view beyond it, the newest epoch's committee (the
// chain has not finalized far enough to say more).
func (t *epochTracker) committeeAt(v model.View) (*committee.Committee, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sch := t.state.Schedule()
	if c, err := sch.CommitteeAt(v); err == nil {
		return c, true
	}
	return sch.Last().Committee(), false
}

// verifiedCount is how many blocks were verified (heights 1..next-1).
func (t *epochTracker) verifiedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.next - 1)
}

// startedEpoch is the newest epoch some finalized block belongs to.
func (t *epochTracker) startedEpoch() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.started
}

// verify queues block b (its parent's ID and timestamp from the record) and
// verifies every block that is now next in height order, reporting what is
// wrong through violate. The error is for the runner's own limits.
func (t *epochTracker) verify(b *model.Block, parent model.Identifier, parentStamp int64, violate func(kind, format string, args ...any)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b.Height < t.next {
		return nil
	}
	if len(t.waiting) >= maxWaitingBlocks {
		return fmt.Errorf("%d blocks wait for height %d to be verified: the runner keeps no more", len(t.waiting), t.next)
	}
	t.waiting[b.Height] = pendingBlock{b, parent, parentStamp}
	for {
		p, ok := t.waiting[t.next]
		if !ok {
			return nil
		}
		delete(t.waiting, t.next)
		t.next++
		t.check(p, violate)
	}
}

// check verifies one block and applies its service events. Caller holds mu.
func (t *epochTracker) check(p pendingBlock, violate func(kind, format string, args ...any)) {
	b := p.b
	switch {
	case b.ParentID != p.parent:
		violate("chain", "block %d (%s) names parent %s, but height %d is %s", b.Height, b.ID().Hex(), b.ParentID.Hex(), b.Height-1, p.parent.Hex())
	case b.Timestamp < p.parentStamp:
		violate("chain", "block %d has timestamp %d, before its parent's %d", b.Height, b.Timestamp, p.parentStamp)
	default:
		if err := t.verifier.Block(b); err != nil {
			violate("chain", "block %d (%s): %v", b.Height, b.ID().Hex(), err)
		}
		e, err := t.state.Schedule().EpochAt(b.View)
		if err != nil {
			violate("chain", "block %d for view %d: %v", b.Height, b.View, err)
			break
		}
		t.started = max(t.started, e.Counter)
		leader, err := reputation.Leader(t.state.Schedule(), t.reputation, b.View, t.recent[b.ParentID], t.recent)
		if err != nil {
			violate("chain", "block %d for view %d: no leader: %v", b.Height, b.View, err)
		} else if leader != b.ProposerID {
			violate("chain", "block %d for view %d names proposer %s, not the leader of the view in epoch %d", b.Height, b.View, b.ProposerID.Hex(), e.Counter)
		}
	}
	t.recent[b.ID()] = b
	if span := model.View(t.reputation.Span()); b.View > span+1 {
		for id, old := range t.recent {
			if old.View+span+1 < b.View {
				delete(t.recent, id)
			}
		}
	}
	events, err := payload.ServiceEventsOf(b.Payload)
	if err != nil {
		violate("chain", "block %d has an invalid payload: %v", b.Height, err)
		return
	}
	out, err := t.state.Apply(b.View, events)
	if err != nil {
		violate("chain", "epoch state at height %d: %v", b.Height, err)
		return
	}
	if out.Changed() {
		t.verifier = verify.New(t.state.Params().ChainID, t.state.Schedule(), crypto.BLS(), t.rootQC)
	}
}

// governor plays the governance key during an epoch step.
type governor struct {
	r      *Runner
	key    ed25519.PrivateKey
	chain  model.Identifier
	ids    []epoch.Identity
	views  uint64
	safety uint64
}

// epochProgress is what the governor saw, relative to the fault's start.
type epochProgress struct {
	target    uint64
	spec      *epoch.Spec // the last setup submitted
	setupAt   time.Duration
	pendingAt time.Duration // the node's status first showed the setup pending
	commitAt  time.Duration
	doneAt    time.Duration // a validator reported the epoch committed
	setups    int           // distinct setups submitted (more than one: the epoch was extended meanwhile)
	resent    int           // events submitted again (not final after 3 s)
	errs      int
	lastErr   string
}

func (g *governor) newSeed(counter uint64) [32]byte {
	return crypto.Sum([]byte("floe e2e epoch seed"), []byte(g.r.project), []byte(strconv.FormatUint(g.r.m.Seed, 10)),
		[]byte(strconv.FormatUint(counter, 10)))
}

// status asks the reachable validators in turn.
func (g *governor) status(ctx context.Context) (api.StatusResponse, bool) {
	for _, nd := range g.r.reachableValidators() {
		if st, err := nd.client.status(ctx); err == nil {
			return st, true
		}
	}
	return api.StatusResponse{}, false
}

// submit posts an event to every reachable validator (any one that gets
// it into a block will do; duplicates are rejected harmlessly by the
// epoch state machine or the nodes' queues).
func (g *governor) submit(ctx context.Context, e *epoch.Event, p *epochProgress) int {
	ok := 0
	for _, nd := range g.r.reachableValidators() {
		if err := nd.client.submitEvent(ctx, e); err != nil {
			p.errs++
			p.lastErr = fmt.Sprintf("%s: %v", nd.Name, err)
			continue
		}
		ok++
	}
	return ok
}

// lastEpoch is the newest epoch a status knows.
func lastEpoch(st api.StatusResponse) api.EpochInfo {
	if st.NextEpoch != nil {
		return *st.NextEpoch
	}
	return st.Epoch
}

// drive submits the setup of the epoch after the one the network knows
// when the fault is in place, confirms it with a commit once a validator
// reports it pending, and resubmits when an event got lost or the epoch was
// extended meanwhile. It returns when a validator reports the new epoch
// committed, or when ctx ends.
func (g *governor) drive(ctx context.Context, applied <-chan struct{}, began time.Time) epochProgress {
	p := epochProgress{setupAt: -1, pendingAt: -1, commitAt: -1, doneAt: -1}
	select {
	case <-applied:
	case <-ctx.Done():
		return p
	}
	var setupSent, commitSent time.Time
	for ctx.Err() == nil {
		st, ok := g.status(ctx)
		if !ok {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		last := lastEpoch(st)
		if p.target == 0 {
			p.target = last.Counter + 1
		}
		if last.Counter >= p.target {
			p.doneAt = time.Since(began)
			return p
		}
		switch {
		case st.PendingSetup != nil && p.spec != nil && st.PendingSetup.Counter == p.spec.Counter &&
			st.PendingSetup.FirstView == p.spec.FirstView:
			if p.pendingAt < 0 {
				p.pendingAt = time.Since(began)
			}
			if time.Since(commitSent) > 3*time.Second {
				if g.submit(ctx, epoch.NewCommit(g.chain, p.spec, g.key), &p) > 0 {
					if p.commitAt < 0 {
						p.commitAt = time.Since(began)
					} else {
						p.resent++
					}
					commitSent = time.Now()
				}
			}
		case p.spec != nil && p.spec.FirstView == last.FinalView+1 && time.Since(setupSent) < 3*time.Second:
			// submitted, not final yet
		case uint64(st.View)+g.safety >= uint64(last.FinalView):
			// too late in this epoch: it will be extended, then try again
		default:
			spec := epoch.Spec{Counter: p.target, FirstView: last.FinalView + 1, FinalView: last.FinalView + model.View(g.views),
				Identities: g.ids, Seed: g.newSeed(p.target)}
			clusters, err := epoch.AssignClusters(g.ids, spec.Seed, epoch.DefaultClusters(g.ids))
			if err != nil {
				p.errs++
				p.lastErr = err.Error()
				break
			}
			spec.Clusters = clusters
			if g.submit(ctx, epoch.NewSetup(g.chain, spec, g.key), &p) > 0 {
				if p.spec != nil && p.spec.FirstView == spec.FirstView {
					p.resent++
				} else {
					p.setups++
				}
				p.spec, setupSent = &spec, time.Now()
				if p.setupAt < 0 {
					p.setupAt = time.Since(began)
				}
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return p
}

// epochTransition applies the step's fault and, while it is in place,
// makes the network commit the next epoch: same members, a new leader
// seed. After the heal (and the usual recovery measurement), every node
// and follower must report the epoch committed within max_recovery of the
// heal, else an "epoch" violation.
func (r *Runner) epochTransition(ctx context.Context, s Step) (fault, error) {
	ep, err := r.net.Genesis.EpochParams()
	if err != nil {
		return fault{}, err
	}
	ids, _, err := r.net.Genesis.Identities()
	if err != nil {
		return fault{}, err
	}
	g := &governor{r: r, key: r.net.Governance, chain: ep.Chain, ids: ids,
		views: r.net.Genesis.Params.EpochViews, safety: r.net.Genesis.Params.EpochSafetyViews}
	applied := make(chan struct{})
	r.mu.Lock()
	r.appliedCh = applied
	r.mu.Unlock()
	gctx, stop := context.WithCancel(ctx)
	began := time.Now()
	done := make(chan epochProgress, 1)
	go func() { done <- g.drive(gctx, applied, began) }()

	f, err := r.apply(ctx, s.faultStep())
	r.mu.Lock()
	r.appliedCh = nil
	r.mu.Unlock()
	if err != nil {
		stop()
		<-done
		return f, err
	}
	faultFor := f.healed.Sub(began)
	f.after = func(ctx context.Context) (string, error) {
		deadline := f.healed.Add(r.m.Checks.MaxRecovery.Duration)
		var p epochProgress
		select {
		case p = <-done:
		case <-time.After(time.Until(deadline)):
			stop()
			p = <-done
		case <-ctx.Done():
			stop()
			<-done
			return "", ctx.Err()
		}
		stop()
		note := describeProgress(p, faultFor)
		if p.doneAt < 0 {
			r.violate("epoch", "epoch %d was not committed within %v of the heal: %s", p.target, r.m.Checks.MaxRecovery.Duration, note)
			return note, nil
		}
		// Every node and follower must know it.
		var missing []string
		for time.Now().Before(deadline.Add(time.Second)) && ctx.Err() == nil {
			sts := r.statuses(ctx)
			missing = missing[:0]
			for _, nd := range r.chainNodes() {
				st, ok := sts[nd.Index]
				if !ok {
					missing = append(missing, nd.Name+" (no answer)")
				} else if c := lastEpoch(st).Counter; c < p.target {
					missing = append(missing, fmt.Sprintf("%s (epoch %d)", nd.Name, c))
				}
			}
			if len(missing) == 0 {
				break
			}
			sleep(ctx, recoveryPoll)
		}
		if len(missing) > 0 {
			r.violate("epoch", "epoch %d was committed, but not every node reports it within %v of the heal: %s",
				p.target, r.m.Checks.MaxRecovery.Duration, strings.Join(missing, ", "))
			return note, nil
		}
		r.logf("  epoch %d committed on all %d nodes: %s", p.target, len(r.chainNodes()), note)
		return note + fmt.Sprintf("; all %d nodes know it", len(r.chainNodes())), nil
	}
	return f, nil
}

// describeProgress summarizes an epoch step for the report: when each
// event went in, relative to the fault's start, and whether the fault was
// still in place.
func describeProgress(p epochProgress, faultFor time.Duration) string {
	at := func(d time.Duration) string {
		if d < 0 {
			return "never"
		}
		s := fmt.Sprintf("+%.1fs", d.Seconds())
		if d <= faultFor {
			s += " (fault on)"
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d", p.target)
	if p.spec != nil {
		fmt.Fprintf(&b, " (views %d..%d, new seed)", p.spec.FirstView, p.spec.FinalView)
	}
	fmt.Fprintf(&b, ": setup %s, pending %s, commit %s, committed %s", at(p.setupAt), at(p.pendingAt), at(p.commitAt), at(p.doneAt))
	if p.setups > 1 {
		fmt.Fprintf(&b, ", %d setups (the epoch was extended meanwhile)", p.setups)
	}
	if p.resent > 0 {
		fmt.Fprintf(&b, ", %d events resent (not final after 3 s)", p.resent)
	}
	if p.errs > 0 {
		fmt.Fprintf(&b, ", %d failed submissions (last: %s)", p.errs, p.lastErr)
	}
	return b.String()
}

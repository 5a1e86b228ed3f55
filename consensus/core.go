// Package consensus is floe's Jolteon core: a deterministic state machine with
// no goroutines, clocks, randomness or I/O.
//
// Events go in through Step (with the current time as an input) and one
// Output comes back that says what to persist, what to send, which blocks
// became final, what evidence was seen, which blocks to fetch and when to
// fire the next timer. The caller persists before it sends (see Output).
//
// The core is assembled from small parts: safety (voting and timeout rules),
// pacemaker (views and timeouts), forks (block tree and 2-chain finality) and
// aggregate (votes into QCs, timeouts into TCs).
package consensus

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/floe-bft/floe/consensus/aggregate"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/forks"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/consensus/safety"
)

// proposalMemory bounds how many views of first-seen proposals are kept for
// equivocation detection while finality stalls.
const proposalMemory = 1024

// proposersPerView bounds the proposals kept per view. With reputation on,
// replicas that extend different parents may each lead the same view; a
// handful covers that, and equivocation is recorded per proposer.
const proposersPerView = 4

// maxFirstSeen bounds the first proposals remembered for equivocation
// detection (a member can only propose up to one view ahead, so this only
// fills when finality stalls while many members propose).
const maxFirstSeen = 1 << 16

// leaderCacheSize bounds memoized leader lookups (view, parent).
const leaderCacheSize = 1024

// errUnknownParent: with reputation on, a view's leader cannot be computed
// without the block the proposal would extend.
var errUnknownParent = errors.New("leader depends on a parent block not known yet")

type leaderKey struct {
	view   model.View
	parent model.Identifier
}

type evidenceKey struct {
	kind     model.EvidenceKind
	offender model.NodeID
	view     model.View
}

// Core is one replica's protocol state. It is not safe for concurrent use:
// the caller owns it from a single goroutine.
type Core struct {
	cfg      Config
	schedule committee.Schedule
	safety   *safety.Rules
	pm       *pacemaker.Pacemaker
	forks    *forks.Forks
	votes    *aggregate.Votes
	timeouts *aggregate.Timeouts

	// firstSeen holds the first proposal signed by each member for each
	// view; a second, different one is evidence, whoever led the view.
	// conflicted marks pairs where that was already recorded, so a member
	// spraying proposals costs one evidence record and one extra block, not
	// thousands. proposals holds, per view, the proposals whose proposer
	// passed the leader check (the ones this replica may vote for).
	firstSeen  map[evidenceKey]*model.Proposal
	conflicted map[evidenceKey]bool
	// held holds the first held-back proposal (HeldProposalEvent) for each
	// member and view not in firstSeen: it is not delivered yet, but a
	// different one is evidence all the same.
	held      map[evidenceKey]*model.Proposal
	proposals map[model.View][]*model.Proposal
	// recent holds finalized blocks below the root that leader reputation
	// may still read (Reputation.Span() views); leaders memoizes lookups.
	recent  map[model.Identifier]*model.Block
	leaders map[leaderKey]model.NodeID
	// blame memoizes reputation's attribution of failed-view gaps.
	blame *reputation.Memo
	// pending proposals wait for their parent to be fetched.
	pending  map[model.Identifier]*model.Proposal
	evidence map[evidenceKey]bool

	deadline time.Time
	now      time.Time
	// proposeAt is when the leader may propose in the current view
	// (view entry + MinBlockInterval, or + IdleBlockInterval when there is
	// nothing to order); zero when not waiting. idle marks the latter, and
	// viewStart is when the current view was entered.
	proposeAt time.Time
	idle      bool
	// awaiting: the leader waits for missing votes (reputation's full-vote
	// views) until proposeAt.
	awaiting  bool
	viewStart time.Time
	// seenID is the newest block this replica proposed or received as a
	// proposal, and seenAt when: the minimum block interval of the view
	// its QC opens runs from then, so the round trip that certifies a
	// block overlaps the next block's interval instead of adding to it.
	seenID model.Identifier
	seenAt time.Time

	out Output
	// fatal is the first fatal error met where no caller could take it (a
	// signer or our own block failing while proposing or voting). Step and
	// Start return it, now and ever after: the replica must stop.
	fatal        error
	fetching     map[model.Identifier]bool
	lastSafety   safety.Data
	lastLiveness pacemaker.Data
}

// New restores a replica from persisted state. Call Start before Step.
func New(cfg Config, st State) (*Core, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if st.Root == nil {
		return nil, fmt.Errorf("consensus: state has no root block")
	}
	pm, err := pacemaker.New(cfg.Timeouts, st.Liveness)
	if err != nil {
		return nil, err
	}
	c := &Core{
		cfg:          cfg,
		schedule:     cfg.Schedule,
		safety:       safety.New(st.Root.ChainID, cfg.Self, cfg.Key, st.Safety, cfg.Faults.Safety),
		pm:           pm,
		forks:        forks.New(st.Root, cfg.Faults.Forks),
		votes:        aggregate.NewVotes(cfg.Schedule, cfg.Scheme),
		timeouts:     aggregate.NewTimeouts(cfg.Schedule, cfg.Scheme),
		firstSeen:    make(map[evidenceKey]*model.Proposal),
		conflicted:   make(map[evidenceKey]bool),
		held:         make(map[evidenceKey]*model.Proposal),
		proposals:    make(map[model.View][]*model.Proposal),
		recent:       make(map[model.Identifier]*model.Block),
		leaders:      make(map[leaderKey]model.NodeID),
		blame:        reputation.NewMemo(),
		pending:      make(map[model.Identifier]*model.Proposal),
		evidence:     make(map[evidenceKey]bool),
		lastSafety:   st.Safety,
		lastLiveness: st.Liveness,
	}
	c.votes.WeakQuorum = cfg.Faults.WeakQuorum
	c.timeouts.WeakQuorum = cfg.Faults.WeakQuorum
	// The aggregation windows start at the restored view, as if it had just
	// been entered: otherwise a replica restarted more than a window past
	// genesis rejects every vote and timeout for its own view, and a network
	// that stopped as a whole could never form a QC or TC again.
	if v := pm.CurrentView(); v > 0 {
		c.votes.Prune(v - 1)
		c.timeouts.Prune(v)
	}
	for _, b := range st.Recent {
		if b != nil && b.View < st.Root.View {
			c.recent[b.ID()] = b
		}
	}
	c.recent[st.Root.ID()] = st.Root // still read once a later block is final
	c.pruneRecent()
	blocks := append([]*model.Block(nil), st.Blocks...)
	sortBlocks(blocks)
	for _, b := range blocks {
		// Restored blocks were valid when stored; ones that no longer connect
		// (forks pruned by a later finalization) are simply left out.
		if _, err := c.forks.AddBlock(b); errors.Is(err, forks.ErrConflictingFinality) {
			return nil, err
		}
	}
	return c, nil
}

// Start arms the first timer and lets a leader propose. Its output may also
// finalize blocks whose 2-chain was persisted before a crash.
func (c *Core) Start(now time.Time) (Output, error) {
	if c.fatal != nil {
		return Output{}, c.fatal
	}
	c.begin(now)
	c.deadline = now.Add(c.pm.TimeoutDuration())
	err := c.processQC(c.pm.NewestQC())
	if err == nil {
		c.tryPropose()
	}
	return c.finish(), c.orFatal(err)
}

// Step feeds one event to the core. The output is valid even when an error
// is returned: apply it. A benign error (see IsFatal) means the input was
// dropped; a fatal one means the replica must stop.
func (c *Core) Step(now time.Time, ev Event) (Output, error) {
	if c.fatal != nil {
		return Output{}, c.fatal
	}
	c.begin(now)
	var err error
	switch e := ev.(type) {
	case ProposalEvent:
		err = c.onProposal(e.Proposal)
	case HeldProposalEvent:
		c.onHeldProposal(e.Proposal)
	case VoteEvent:
		err = c.onVote(e.Vote)
	case TimeoutEvent:
		err = c.onTimeout(e.Timeout)
	case TimerEvent:
		err = c.onTimer()
	case BlocksEvent:
		err = c.onBlocks(e.Blocks)
	case CertificateEvent:
		err = c.onCertificate(e.QC, e.TC)
	case ScheduleEvent:
		err = c.onSchedule(e.Schedule)
	case WorkEvent:
		c.onWork()
	default:
		err = fmt.Errorf("%w: unknown event %T", ErrInvalid, ev)
	}
	if _, timer := ev.(TimerEvent); !timer && !IsFatal(err) && !c.proposeAt.IsZero() && !c.now.Before(c.proposeAt) {
		// The proposal time passed while this event was pending: a driver
		// that re-arms its one timer from every output may never deliver
		// the timer event for it (finish does not arm a time already
		// passed), so any event after that time proposes.
		c.tryPropose()
	}
	return c.finish(), c.orFatal(err)
}

// fail records err if it is fatal (the first one wins).
func (c *Core) fail(err error) {
	if c.fatal == nil && IsFatal(err) {
		c.fatal = err
	}
}

// orFatal returns the recorded fatal error if there is one, else err.
func (c *Core) orFatal(err error) error {
	if IsFatal(err) {
		c.fail(err)
	}
	if c.fatal != nil {
		return c.fatal
	}
	return err
}

// CurrentView is the view the replica is in.
func (c *Core) CurrentView() model.View { return c.pm.CurrentView() }

// NewestQC is the highest QC the replica knows.
func (c *Core) NewestQC() *model.QC { return c.pm.NewestQC() }

// Finalized is the last finalized block.
func (c *Core) Finalized() *model.Block { return c.forks.Root() }

// Block returns a block of the unfinalized tree (or the root), or nil.
func (c *Core) Block(id model.Identifier) *model.Block { return c.forks.Block(id) }

// SafetyData returns the current safety data.
func (c *Core) SafetyData() safety.Data { return c.safety.Data() }

func (c *Core) begin(now time.Time) {
	c.now = now
	c.out = Output{}
	c.fetching = nil
}

func (c *Core) finish() Output {
	if sd := c.safety.Data(); sd != c.lastSafety {
		c.lastSafety = sd
		c.out.Safety = &sd
	}
	if ld := c.pm.Data(); ld != c.lastLiveness {
		c.lastLiveness = ld
		c.out.Liveness = &ld
	}
	c.out.NextTimer = c.deadline
	// A proposal time already passed means the leader is waiting for
	// something else (its parent block, say), whose arrival retries it: a
	// timer in the past would only fire again at once.
	if c.proposeAt.After(c.now) && c.proposeAt.Before(c.deadline) {
		c.out.NextTimer = c.proposeAt
	}
	out := c.out
	c.out = Output{}
	return out
}

// --- proposals ---------------------------------------------------------------

func (c *Core) onProposal(p *model.Proposal) error {
	b := p.Block
	if b.View <= c.forks.Root().View {
		return fmt.Errorf("%w: proposal for view %d, finalized view %d", ErrStale, b.View, c.forks.Root().View)
	}
	// The certificates are valid on their own (the caller verified them), so
	// they move the replica forward even if the block turns out unusable.
	if err := c.processQC(b.QC); err != nil {
		return err
	}
	if b.TC != nil {
		if err := c.processTC(b.TC); err != nil {
			return err
		}
	}
	// Two proposals signed by one member for one view are equivocation
	// whoever leads it (the verifier checked signer and signature), so this
	// check needs no parent.
	k := evidenceKey{model.DoubleProposal, b.ProposerID, b.View}
	switch prev := c.firstSeen[k]; {
	case prev != nil && prev.Block.ID() == b.ID():
		return nil // duplicate delivery
	case prev != nil:
		if c.conflicted[k] {
			return fmt.Errorf("%w: further equivocating proposal for view %d dropped", ErrInvalid, b.View)
		}
		c.doubleProposal(k, prev, p)
	default:
		if h := c.held[k]; h != nil && h.Block.ID() != b.ID() && !c.conflicted[k] {
			c.doubleProposal(k, h, p)
		}
		if len(c.firstSeen) < maxFirstSeen {
			c.firstSeen[k] = p
		}
	}
	if c.forks.Block(b.ParentID) == nil {
		// Its leader (with reputation on) and its payload are checked once
		// the parent is here.
		c.stashPending(p)
		c.fetch(b.ParentID)
		return nil
	}
	return c.acceptProposal(p)
}

// checkProposer checks that b's proposer leads its view when extending its
// parent.
func (c *Core) checkProposer(b *model.Block, parent *model.Block) error {
	leader, err := c.leaderFor(b.View, parent)
	if err != nil {
		return fmt.Errorf("proposal for view %d: %w", b.View, err)
	}
	if b.ProposerID != leader && !c.cfg.Faults.AcceptNonLeaderProposal {
		return fmt.Errorf("%w: proposal for view %d from %v, leader is %v", ErrInvalid, b.View, b.ProposerID, leader)
	}
	return nil
}

// acceptProposal takes a proposal whose parent is in the tree: leader
// check, equivocation check, then the block itself.
func (c *Core) acceptProposal(p *model.Proposal) error {
	b := p.Block
	if err := c.checkProposer(b, c.forks.Block(b.ParentID)); err != nil {
		return err
	}
	if len(c.proposals[b.View]) >= proposersPerView {
		return fmt.Errorf("%w: proposal for view %d: %d proposers already", ErrInvalid, b.View, proposersPerView)
	}
	c.proposals[b.View] = append(c.proposals[b.View], p)
	return c.addProposal(p)
}

// addProposal adds the proposed block to the tree and votes for it if the
// voting rule allows. A proposal whose parent is unknown waits in a bounded
// pool while the parent is fetched.
func (c *Core) addProposal(p *model.Proposal) error {
	b := p.Block
	err := c.forks.Check(b)
	if errors.Is(err, forks.ErrMissingParent) {
		c.stashPending(p)
		c.fetch(b.ParentID)
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.cfg.Payloads.Validate(b, c.forks.Block(b.ParentID)); err != nil {
		return fmt.Errorf("proposal for view %d: %w", b.View, err)
	}
	if err := c.addBlock(b); err != nil {
		return err
	}
	c.seenID, c.seenAt = b.ID(), c.now
	c.tryVote(b)
	return c.afterBlocksAdded()
}

// doubleProposal records two proposals by one member for one view, once.
func (c *Core) doubleProposal(k evidenceKey, first, second *model.Proposal) {
	c.conflicted[k] = true
	c.recordEvidence(model.Evidence{Kind: model.DoubleProposal, Offender: second.Block.ProposerID, View: second.Block.View,
		Proposals: [2]*model.Proposal{first, second}})
}

// onHeldProposal checks a proposal its driver holds back against those
// seen for its view: a different one, delivered or held, is evidence. It
// takes nothing else from the proposal, and marks nothing seen that would
// make its later delivery a duplicate.
func (c *Core) onHeldProposal(p *model.Proposal) {
	b := p.Block
	if b.View <= c.forks.Root().View {
		return
	}
	k := evidenceKey{model.DoubleProposal, b.ProposerID, b.View}
	prev := c.firstSeen[k]
	if prev == nil {
		prev = c.held[k]
	}
	switch {
	case prev == nil:
		if len(c.held) < maxFirstSeen {
			c.held[k] = p
		}
	case prev.Block.ID() != b.ID() && !c.conflicted[k]:
		c.doubleProposal(k, prev, p)
	}
}

func (c *Core) addBlock(b *model.Block) error {
	if c.forks.Block(b.ID()) != nil {
		return nil
	}
	final, err := c.forks.AddBlock(b)
	if err != nil {
		if errors.Is(err, ErrConflictingFinality) {
			return err
		}
		return fmt.Errorf("block for view %d: %w", b.View, err)
	}
	c.out.Blocks = append(c.out.Blocks, b)
	c.onFinalized(final)
	return nil
}

func (c *Core) stashPending(p *model.Proposal) {
	id := p.Block.ID()
	if _, ok := c.pending[id]; ok {
		return
	}
	if len(c.pending) >= c.cfg.MaxPendingProposals {
		// Evict the lowest view: the newest proposals matter for liveness.
		var lowest *model.Proposal
		for _, pp := range c.pending {
			if lowest == nil || lessProposal(pp, lowest) {
				lowest = pp
			}
		}
		if !lessProposal(lowest, p) {
			return
		}
		delete(c.pending, lowest.Block.ID())
	}
	c.pending[id] = p
}

// afterBlocksAdded retries pending proposals whose parent has arrived, and
// a proposal of our own that waited for its parent.
func (c *Core) afterBlocksAdded() error {
	for progress := true; progress; {
		progress = false
		// Deterministic order (lowest view first): map iteration order is
		// random, and the core must behave identically for identical inputs.
		ready := make([]*model.Proposal, 0, len(c.pending))
		for _, p := range c.pending {
			ready = append(ready, p)
		}
		sort.Slice(ready, func(i, j int) bool { return lessProposal(ready[i], ready[j]) })
		for _, p := range ready {
			b := p.Block
			id := b.ID()
			if _, still := c.pending[id]; !still {
				continue // a nested call already handled it
			}
			if b.View <= c.forks.Root().View {
				delete(c.pending, id)
				continue
			}
			if c.forks.Block(b.ParentID) == nil {
				continue
			}
			delete(c.pending, id)
			progress = true
			if err := c.acceptProposal(p); err != nil && IsFatal(err) {
				return err
			}
		}
	}
	c.tryPropose()
	return nil
}

func (c *Core) tryVote(b *model.Block) {
	if b.View != c.pm.CurrentView() && !c.cfg.Faults.Safety.VotePastView {
		return
	}
	if !c.isMember(b.View) {
		return // not in this view's committee: follow without signing
	}
	next, err := c.leaderFor(b.View+1, b)
	if err != nil {
		c.fail(err) // benign when the next view's committee is not known yet: no one to send to
		return
	}
	vote, err := c.safety.ProduceVote(b, c.pm.CurrentView())
	if err != nil {
		c.fail(err) // refused (already acted in this view, or not safe) is benign; a signer failure is not
		return
	}
	// Sent even when this replica leads the next view: the caller loops
	// messages addressed to itself back in as events, so every signature the
	// core makes is visible in an Output and goes through the same path.
	c.send(Message{To: next, Vote: vote})
}

// tryPropose proposes if this replica leads the current view and has not
// proposed in it, extending the block of its newest QC.
func (c *Core) tryPropose() {
	view := c.pm.CurrentView()
	qc := c.pm.NewestQC()
	parent := c.forks.Block(qc.BlockID)
	leader, err := c.leaderFor(view, parent)
	if errors.Is(err, errUnknownParent) || (err == nil && leader == c.cfg.Self && parent == nil) {
		// Whether we lead depends on (or our block needs) the parent.
		c.fetch(qc.BlockID)
		return
	}
	if err != nil {
		c.fail(err) // an unknown committee is benign: we may lead once it is known
		return
	}
	if leader != c.cfg.Self {
		return
	}
	sd := c.safety.Data()
	if sd.HighestProposedView >= view || sd.HighestAcknowledgedView >= view {
		return
	}
	if c.now.Before(c.proposeAt) && !c.fullBlockReady(parent) {
		return // the timer brings us back
	}
	if c.waitForVotes(view, qc) {
		return
	}
	c.proposeAt, c.idle, c.awaiting = time.Time{}, false, false
	var tc *model.TC
	if qc.View+1 != view {
		tc = c.pm.LastViewTC()
	} else if full, err := c.votes.Fullest(qc.View, qc.BlockID); err != nil {
		c.fail(err) // the certified QC is used as it is
	} else if full != nil {
		// Votes that arrived since the QC formed count too (reputation).
		qc = full
	}
	ts := c.now.UnixMilli()
	if ts < parent.Timestamp {
		ts = parent.Timestamp
	}
	payload := c.cfg.Payloads.Build(view, parent)
	b, err := model.NewBlock(model.Header{
		ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: c.cfg.Self, Timestamp: ts, PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		// Our own payload rules built a block the model rejects: a bug, and
		// a leader that silently never proposes again would hide it.
		c.fail(fmt.Errorf("build own proposal for view %d: %v", view, err))
		return
	}
	p, err := c.safety.SignProposal(b)
	if err != nil {
		c.fail(err) // refused is benign; a signer failure is not
		return
	}
	c.send(Message{Broadcast: true, Proposal: p})
	c.proposals[view] = append(c.proposals[view], p)
	if len(c.firstSeen) < maxFirstSeen {
		c.firstSeen[evidenceKey{model.DoubleProposal, c.cfg.Self, view}] = p
	}
	if err := c.addBlock(b); err != nil {
		// Conflicting finality stays fatal; any other rejection of the block
		// we just signed is a bug of our own.
		if !errors.Is(err, ErrConflictingFinality) {
			err = fmt.Errorf("add own proposal for view %d: %v", view, err)
		}
		c.fail(err)
		return
	}
	c.seenID, c.seenAt = b.ID(), c.now
	c.tryVote(b)
}

// --- votes -------------------------------------------------------------------

func (c *Core) onVote(v *model.Vote) error {
	// With reputation on, the next leader depends on the voted block: a
	// vote for a block not seen yet is kept (the aggregator is bounded) and
	// the QC it helps form is only used by the view's leader to propose.
	blk := c.forks.Block(v.BlockID)
	if leader, err := c.leaderFor(v.View+1, blk); !errors.Is(err, errUnknownParent) && (err != nil || leader != c.cfg.Self) {
		return fmt.Errorf("%w: vote for view %d", ErrNotLeader, v.View)
	}
	if v.View+1 < c.pm.CurrentView() {
		return fmt.Errorf("%w: vote for view %d in view %d", ErrStale, v.View, c.pm.CurrentView())
	}
	qc, ev, err := c.votes.Add(v)
	if err != nil {
		return err
	}
	if ev != nil {
		c.recordEvidence(*ev)
	}
	if qc != nil {
		return c.processQC(qc)
	}
	if c.awaiting && v.View+1 == c.pm.CurrentView() {
		c.proposeAt = c.now // a late vote: propose if it was the last one
		c.tryPropose()
	}
	return nil
}

// waitForVotes holds a leader's proposal in reputation's full-vote views
// until every member voted for the parent or the grace since entering the
// view passed (reputation.FullVoteEvery).
func (c *Core) waitForVotes(view model.View, qc *model.QC) bool {
	if !c.cfg.Reputation.Enabled() || view%reputation.FullVoteEvery != 0 || qc.View+1 != view {
		return false
	}
	com, err := c.schedule.CommitteeAt(qc.View)
	if err != nil || c.votes.Signers(qc.View, qc.BlockID) >= com.Size() {
		return false
	}
	until := c.viewStart.Add(reputation.FullVoteGrace)
	if !c.now.Before(until) {
		return false
	}
	c.proposeAt, c.awaiting = until, true
	return true
}

// --- timeouts ----------------------------------------------------------------

func (c *Core) onTimeout(t *model.TimeoutObject) error {
	if err := c.processQC(t.NewestQC); err != nil {
		return err
	}
	if t.LastViewTC != nil {
		if err := c.processTC(t.LastViewTC); err != nil {
			return err
		}
	}
	if t.View < c.pm.CurrentView() {
		// The sender is behind: tell it how we got ahead.
		if t.SignerID != c.cfg.Self {
			c.send(Message{To: t.SignerID, QC: c.pm.NewestQC(), TC: c.pm.LastViewTC()})
		}
		return fmt.Errorf("%w: timeout for view %d in view %d", ErrStale, t.View, c.pm.CurrentView())
	}
	return c.addTimeout(t)
}

func (c *Core) onCertificate(qc *model.QC, tc *model.TC) error {
	if qc == nil {
		return fmt.Errorf("%w: sync info without a QC", ErrInvalid)
	}
	if err := c.processQC(qc); err != nil {
		return err
	}
	if tc != nil {
		return c.processTC(tc)
	}
	return nil
}

func (c *Core) addTimeout(t *model.TimeoutObject) error {
	res, err := c.timeouts.Add(t)
	if err != nil {
		return err
	}
	if res.Evidence != nil {
		c.recordEvidence(*res.Evidence)
	}
	if res.TC != nil {
		return c.processTC(res.TC)
	}
	if res.OneThird && t.View == c.pm.CurrentView() {
		// More than a third gave up, so at least one honest replica did:
		// waiting for our own timer only delays the TC.
		return c.localTimeout()
	}
	return nil
}

func (c *Core) onTimer() error {
	if !c.proposeAt.IsZero() && !c.now.Before(c.proposeAt) {
		c.tryPropose()
	}
	if c.now.Before(c.deadline) {
		return nil
	}
	return c.localTimeout()
}

// localTimeout times out of the current view (or re-broadcasts the timeout
// already signed for it) and arms the re-broadcast timer.
func (c *Core) localTimeout() error {
	view := c.pm.CurrentView()
	c.deadline = c.now.Add(c.pm.RebroadcastInterval())
	if last := c.safety.Data().LastTimeout; last != nil && last.View == view {
		c.send(Message{Broadcast: true, Timeout: last})
		// After a restart the aggregator no longer holds the replica's own
		// timeout (it was signed before the crash): count it again, or
		// replicas restarted in a view where only they are left can never
		// form the TC (found by the simulator with a silent replica).
		return c.addTimeout(last)
	}
	if !c.isMember(view) {
		// Not in this view's committee (or the view's epoch is not known
		// yet): wait for the committee's certificates, or for the schedule.
		return nil
	}
	t, err := c.safety.ProduceTimeout(view, c.pm.NewestQC(), c.pm.LastViewTC())
	if err != nil {
		if errors.Is(err, safety.ErrRefused) {
			return nil
		}
		return err
	}
	c.send(Message{Broadcast: true, Timeout: t})
	return c.addTimeout(t)
}

// --- certificates ------------------------------------------------------------

func (c *Core) processQC(qc *model.QC) error {
	final, err := c.forks.AddQC(qc)
	if err != nil {
		return err
	}
	c.onFinalized(final)
	if qc.View > c.forks.Root().View && c.forks.Block(qc.BlockID) == nil && !c.isPending(qc.BlockID) {
		c.fetch(qc.BlockID)
	}
	if c.pm.ProcessQC(qc) {
		c.enterView()
	}
	return nil
}

func (c *Core) processTC(tc *model.TC) error {
	if err := c.processQC(tc.NewestQC); err != nil {
		return err
	}
	if c.pm.ProcessTC(tc) {
		c.enterView()
	}
	return nil
}

func (c *Core) enterView() {
	view := c.pm.CurrentView()
	c.deadline = c.now.Add(c.pm.TimeoutDuration())
	c.proposeAt, c.idle, c.awaiting, c.viewStart = time.Time{}, false, false, c.now
	if c.leadsCurrentView() {
		switch {
		case c.cfg.IdleBlockInterval > 0 && !c.hasWork():
			c.proposeAt, c.idle = c.now.Add(c.cfg.IdleBlockInterval), true
		case c.cfg.MinBlockInterval > 0:
			c.proposeAt = c.intervalEnd()
		}
	}
	c.votes.Prune(view - 1)
	c.timeouts.Prune(view)
	if view > proposalMemory {
		c.pruneProposals(view - proposalMemory)
	}
	c.tryPropose()
	c.voteEarlyProposals(view)
}

// voteEarlyProposals votes for a proposal for the view just entered that
// arrived before the certificate that let us enter it (it then failed the
// current-view check). The safety rules allow one vote per view.
func (c *Core) voteEarlyProposals(view model.View) {
	for _, p := range c.proposals[view] {
		if c.forks.Block(p.Block.ID()) != nil {
			c.tryVote(p.Block)
		}
	}
}

// leadsCurrentView reports whether this replica leads the current view
// extending its newest QC's block (false while that block is unknown and
// reputation needs it).
func (c *Core) leadsCurrentView() bool {
	view := c.pm.CurrentView()
	leader, err := c.leaderFor(view, c.forks.Block(c.pm.NewestQC().BlockID))
	return err == nil && leader == c.cfg.Self
}

// hasWork asks the application whether the block this leader would propose
// has anything to order (true when it cannot tell).
func (c *Core) hasWork() bool {
	wr, ok := c.cfg.Payloads.(WorkReporter)
	if !ok {
		return true
	}
	parent := c.forks.Block(c.pm.NewestQC().BlockID)
	return parent == nil || wr.HasWork(parent)
}

// fullBlockReady reports whether a leader waiting out the minimum block
// interval (not an idle wait, not a wait for votes) has a full block to
// propose, which need not wait.
func (c *Core) fullBlockReady(parent *model.Block) bool {
	f, ok := c.cfg.Payloads.(BlockFiller)
	return ok && !c.idle && !c.awaiting && parent != nil && f.Full(parent)
}

// onWork ends an idle wait: the leader proposes as soon as the ordinary
// block interval since the view's start allows. During the ordinary
// interval, work may have filled a block.
func (c *Core) onWork() {
	if !c.idle && c.now.Before(c.proposeAt) {
		c.tryPropose()
		return
	}
	if !c.idle || c.proposeAt.IsZero() {
		return
	}
	c.idle = false
	c.proposeAt = c.intervalEnd()
	c.tryPropose()
}

// intervalEnd is when the minimum block interval of the current view ends:
// MinBlockInterval after the parent's proposal reached this replica when the
// view was entered by that block's QC (the blocks are then at least the
// interval apart, and the certifying round trip runs inside it), or after
// the view's start otherwise (a TC, a parent synced or never seen as a
// proposal). Never before now.
func (c *Core) intervalEnd() time.Time {
	from := c.viewStart
	qc := c.pm.NewestQC()
	if qc.BlockID == c.seenID && qc.View+1 == c.pm.CurrentView() && c.seenAt.Before(from) {
		from = c.seenAt
	}
	end := from.Add(c.cfg.MinBlockInterval)
	if end.Before(c.now) {
		return c.now
	}
	return end
}

// --- sync --------------------------------------------------------------------

func (c *Core) onBlocks(blocks []*model.Block) error {
	sorted := append([]*model.Block(nil), blocks...)
	sortBlocks(sorted)
	var firstErr error
	for _, b := range sorted {
		if c.forks.Block(b.ID()) != nil || b.IsRoot() {
			continue
		}
		err := c.forks.Check(b)
		if err == nil {
			err = c.cfg.Payloads.Validate(b, c.forks.Block(b.ParentID))
		}
		if err == nil {
			err = c.addBlock(b)
		}
		if err != nil {
			if IsFatal(err) {
				return err
			}
			if errors.Is(err, forks.ErrMissingParent) {
				c.fetch(b.ParentID)
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		// A synced block certifies its parent; the QC may move the view.
		if err := c.processQC(b.QC); err != nil {
			return err
		}
	}
	if err := c.afterBlocksAdded(); err != nil {
		return err
	}
	return firstErr
}

// --- committees --------------------------------------------------------------

// onSchedule adopts a grown schedule. Views that had no committee may now
// have one, so this replica may lead or vote in its current view.
func (c *Core) onSchedule(s committee.Schedule) error {
	if s == nil {
		return fmt.Errorf("%w: empty schedule", ErrInvalid)
	}
	c.schedule = s
	clear(c.leaders) // an extended epoch may answer with another committee
	c.blame.Reset()
	c.votes.SetSchedule(s)
	c.timeouts.SetSchedule(s)
	view := c.pm.CurrentView()
	if c.leadsCurrentView() && c.cfg.MinBlockInterval > 0 && c.proposeAt.IsZero() {
		c.proposeAt = c.now.Add(c.cfg.MinBlockInterval)
	}
	c.tryPropose()
	c.voteEarlyProposals(view)
	return nil
}

// Leader returns the leader of view v for a block extending parent, or an
// error if v's epoch is unknown. With reputation off the parent is ignored
// (and may be nil); with it on, a nil parent is an error.
func (c *Core) Leader(v model.View, parent *model.Block) (model.NodeID, error) {
	return c.leaderFor(v, parent)
}

func (c *Core) leaderFor(v model.View, parent *model.Block) (model.NodeID, error) {
	if !c.cfg.Reputation.Enabled() {
		com, err := c.schedule.CommitteeAt(v)
		if err != nil {
			return model.ZeroID, err
		}
		return com.Leader(v), nil
	}
	if parent == nil {
		return model.ZeroID, errUnknownParent
	}
	k := leaderKey{v, parent.ID()}
	if id, ok := c.leaders[k]; ok {
		return id, nil
	}
	id, err := reputation.LeaderMemo(c.schedule, c.cfg.Reputation, v, parent, ancestry{c}, c.blame)
	if err != nil {
		return model.ZeroID, err
	}
	if len(c.leaders) >= leaderCacheSize {
		clear(c.leaders)
	}
	c.leaders[k] = id
	return id, nil
}

// ancestry lets reputation walk the tree and the recent finalized blocks.
type ancestry struct{ c *Core }

func (a ancestry) Block(id model.Identifier) *model.Block {
	if b := a.c.forks.Block(id); b != nil {
		return b
	}
	return a.c.recent[id]
}

// isMember reports whether this replica may sign in view v.
func (c *Core) isMember(v model.View) bool {
	com, err := c.schedule.CommitteeAt(v)
	if err != nil {
		return false
	}
	_, err = com.Index(c.cfg.Self)
	return err == nil
}

// --- bookkeeping -------------------------------------------------------------

func (c *Core) onFinalized(final []*model.Block) {
	if len(final) == 0 {
		return
	}
	c.out.Finalized = append(c.out.Finalized, final...)
	c.pruneProposals(c.forks.Root().View + 1)
	if c.cfg.Reputation.Enabled() {
		for _, b := range final {
			c.recent[b.ID()] = b
		}
		c.pruneRecent()
	}
}

// pruneRecent drops finalized blocks that no leader lookup reads any more.
func (c *Core) pruneRecent() {
	root := c.forks.Root()
	span := model.View(c.cfg.Reputation.Span())
	for id, b := range c.recent {
		if b.View+span < root.View {
			delete(c.recent, id)
		}
	}
}

func (c *Core) pruneProposals(below model.View) {
	for v := range c.proposals {
		if v < below {
			delete(c.proposals, v)
		}
	}
	for k := range c.conflicted {
		if k.view < below {
			delete(c.conflicted, k)
		}
	}
	for k := range c.firstSeen {
		if k.view < below {
			delete(c.firstSeen, k)
		}
	}
	for k := range c.held {
		if k.view < below {
			delete(c.held, k)
		}
	}
	for k := range c.evidence {
		if k.view < below {
			delete(c.evidence, k)
		}
	}
}

func (c *Core) recordEvidence(e model.Evidence) {
	k := evidenceKey{e.Kind, e.Offender, e.View}
	if c.evidence[k] || c.cfg.Faults.DropEvidence {
		return
	}
	if len(c.evidence) >= proposalMemory {
		return // bounded; the oldest records are pruned with finality
	}
	c.evidence[k] = true
	c.out.Evidence = append(c.out.Evidence, e)
}

func (c *Core) isPending(id model.Identifier) bool {
	_, ok := c.pending[id]
	return ok
}

func (c *Core) fetch(id model.Identifier) {
	if c.fetching == nil {
		c.fetching = make(map[model.Identifier]bool)
	}
	if c.fetching[id] {
		return
	}
	c.fetching[id] = true
	c.out.Fetch = append(c.out.Fetch, id)
}

func (c *Core) send(m Message) { c.out.Messages = append(c.out.Messages, m) }

// lessProposal orders proposals by view, then block ID.
func lessProposal(a, b *model.Proposal) bool {
	if a.Block.View != b.Block.View {
		return a.Block.View < b.Block.View
	}
	ai, bi := a.Block.ID(), b.Block.ID()
	return string(ai[:]) < string(bi[:])
}

// sortBlocks orders blocks by view, then ID, so restarts and sync add them
// in one deterministic order.
func sortBlocks(bs []*model.Block) {
	sort.Slice(bs, func(i, j int) bool {
		if bs[i].View != bs[j].View {
			return bs[i].View < bs[j].View
		}
		ai, bi := bs[i].ID(), bs[j].ID()
		return string(ai[:]) < string(bi[:])
	})
}

package sim

import (
	"fmt"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/safety"
)

// The rule monitors. They watch every input an honest replica is given and
// every output it produces, and fail the run on any breach of the rules
// written in DESIGN.md §3 — not only on bad outcomes. They are written from
// that text, not by calling the core's rule code: what a replica has seen is
// tracked here, certificates are weighed here, the voting rule is restated
// here. Only the committee's definitions (members, weights, leader of a
// view) are shared with the core, because they are data, not rules.
//
// A replica's knowledge is tracked twice, so that no check can raise a
// false alarm: sure holds what the replica certainly processed (certificates
// in messages it signed, or in single-message inputs it accepted), and is
// used by rules that forbid acting after seeing something; maybe holds
// everything it could have seen, and is used by rules that require a
// justification.

// watch is what the monitors know of one honest instance.
type watch struct {
	// sureView is the highest certificate view (QC or TC) the replica
	// certainly processed: its current view is above it.
	sureView model.View
	// sureQC is the highest QC view it certainly processed: its newest QC
	// is at least that.
	sureQC model.View
	// certified holds blocks the replica may know a QC for.
	certified map[model.Identifier]bool
	// proposals holds blocks it received as proposals or proposed.
	proposals map[model.Identifier]*model.Block
	// tallies aggregate the votes delivered to it, by view and block.
	tallies map[model.View]map[model.Identifier]map[model.NodeID]bool
	// persisted is the safety data it last persisted.
	persisted safety.Data
	// timedOut holds the views it signed a timeout in (checked once).
	timedOut map[model.View]bool

	// Equivocation it must report, per life (a restart forgets messages):
	// the first proposal per view, the first vote per (view, signer) and
	// the first timeout per (view, signer) that its core accepted.
	firstProposal map[voteKey]model.Identifier
	firstVote     map[voteKey]model.Identifier
	firstTimeout  map[voteKey]model.View
	owed          map[evidenceKey]string
	reported      map[evidenceKey]bool
	finalView     model.View
}

type voteKey struct {
	view   model.View
	signer model.NodeID
}

type evidenceKey struct {
	kind     model.EvidenceKind
	offender model.NodeID
	view     model.View
}

// monitor checks the written rules on every honest replica.
type monitor struct {
	s       *sim
	watches map[int]*watch
	// lock is, per honest identity, the highest QC view of any block it
	// voted for, across restarts: its timeouts may never carry a lower QC.
	lock map[model.NodeID]model.View
	// blocks and children index every block seen anywhere in the run.
	blocks   map[model.Identifier]*model.Block
	children map[model.Identifier][]model.Identifier
	// leaders memoizes leaderOf for answers that more blocks cannot change
	// (bounded: cleared when full).
	leaders map[leaderKey]leaderAnswer
}

type leaderKey struct {
	view         model.View
	parent       model.Identifier
	older, inGap bool
}

func newMonitor(s *sim) *monitor {
	return &monitor{s: s, watches: map[int]*watch{}, lock: map[model.NodeID]model.View{},
		blocks: map[model.Identifier]*model.Block{}, children: map[model.Identifier][]model.Identifier{},
		leaders: map[leaderKey]leaderAnswer{}}
}

func (m *monitor) breach(in *instance, rule, format string, args ...any) {
	m.s.violation(in, "rule %q broken: %s", rule, fmt.Sprintf(format, args...))
}

func (m *monitor) rule() { m.s.res.Rules++ }

func (m *monitor) learnBlock(b *model.Block) {
	if b == nil || m.blocks[b.ID()] != nil {
		return
	}
	m.blocks[b.ID()] = b
	if !b.IsRoot() {
		m.children[b.ParentID] = append(m.children[b.ParentID], b.ID())
	}
}

// started is called when an instance (re)starts from what it persisted.
// The lock must survive: the core must hold exactly the persisted data.
func (m *monitor) started(in *instance) {
	w := m.watches[in.idx]
	fresh := &watch{certified: map[model.Identifier]bool{}, proposals: map[model.Identifier]*model.Block{},
		tallies: map[model.View]map[model.Identifier]map[model.NodeID]bool{}, timedOut: map[model.View]bool{}}
	if w != nil {
		// Knowledge survives a restart only through the store; keep what is
		// cumulative (signed timeouts) and what only justifies (maybe-sets).
		fresh.certified, fresh.proposals, fresh.timedOut = w.certified, w.proposals, w.timedOut
		fresh.persisted = w.persisted
		m.rule()
		if got := in.core.SafetyData(); !sameSafety(got, w.persisted) {
			m.breach(in, "lock survives restarts", "restarted with safety data %s, persisted %s", fmtSafety(got), fmtSafety(w.persisted))
		}
	} else {
		fresh.persisted = in.store.safety
	}
	w = fresh
	w.resetLife()
	st := in.store
	w.certified[st.root.ID()] = true
	for _, b := range st.blocks {
		m.learnBlock(b)
		if !b.IsRoot() {
			w.certified[b.QC.BlockID] = true
		}
	}
	if qc := st.liveness.NewestQC; qc != nil {
		w.certified[qc.BlockID] = true
		w.sureQC, w.sureView = qc.View, qc.View
	}
	if tc := st.liveness.LastViewTC; tc != nil && tc.View > w.sureView {
		w.sureView = tc.View
	}
	w.finalView = st.root.View
	m.watches[in.idx] = w
}

func (w *watch) resetLife() {
	w.firstProposal = map[voteKey]model.Identifier{}
	w.firstVote = map[voteKey]model.Identifier{}
	w.firstTimeout = map[voteKey]model.View{}
	w.owed = map[evidenceKey]string{}
	w.reported = map[evidenceKey]bool{}
}

// input records what an honest instance is about to be given, and which
// equivocation it will then owe a report for.
func (m *monitor) input(in *instance, ev consensus.Event) {
	w := m.watches[in.idx]
	view := in.core.CurrentView()
	switch e := ev.(type) {
	case consensus.ProposalEvent:
		b := e.Proposal.Block
		m.learnBlock(b)
		w.proposals[b.ID()] = b
		w.maybeCert(b.QC, b.TC)
		// Two proposals signed by one member for one view are equivocation
		// whoever leads it (the verifier admits members only).
		if _, err := m.s.committeeAt(b.View).Index(b.ProposerID); err == nil && b.View > w.finalView {
			k := voteKey{b.View, b.ProposerID}
			if first, ok := w.firstProposal[k]; !ok {
				w.firstProposal[k] = b.ID()
			} else if first != b.ID() {
				w.owe(evidenceKey{model.DoubleProposal, b.ProposerID, b.View}, "two proposals by one member")
			}
		}
	case consensus.VoteEvent:
		v := e.Vote
		w.tally(m.s, v)
		// The core takes a vote when it leads the next view after the voted
		// block (or, with reputation on, cannot tell yet).
		next, known := m.leaderOf(v.View+1, m.blocks[v.BlockID])
		if known && next == m.s.ids[in.member].id && v.View+1 >= view && v.View+1 < view+windowViews {
			k := voteKey{v.View, v.SignerID}
			if first, ok := w.firstVote[k]; !ok {
				w.firstVote[k] = v.BlockID
			} else if first != v.BlockID {
				w.owe(evidenceKey{model.DoubleVote, v.SignerID, v.View}, "two votes by one signer")
			}
		}
	case consensus.TimeoutEvent:
		t := e.Timeout
		w.maybeCert(t.NewestQC, t.LastViewTC)
		if t.View >= view && t.View < view+windowViews {
			k := voteKey{t.View, t.SignerID}
			if first, ok := w.firstTimeout[k]; !ok {
				w.firstTimeout[k] = t.NewestQC.View
			} else if first != t.NewestQC.View {
				w.owe(evidenceKey{model.DoubleTimeout, t.SignerID, t.View}, "two timeouts by one signer")
			}
		}
	case consensus.CertificateEvent:
		w.maybeCert(e.QC, e.TC)
	case consensus.BlocksEvent:
		for _, b := range e.Blocks {
			m.learnBlock(b)
			w.maybeCert(b.QC, b.TC)
		}
	}
}

// windowViews is how far ahead of its view a replica must still aggregate
// votes and timeouts (the core's aggregation window).
const windowViews = 64

func (w *watch) owe(k evidenceKey, what string) {
	if !w.reported[k] {
		w.owed[k] = what
	}
}

func (w *watch) maybeCert(qc *model.QC, tc *model.TC) {
	if qc != nil {
		w.certified[qc.BlockID] = true
	}
	if tc != nil {
		w.certified[tc.NewestQC.BlockID] = true
	}
}

// tally counts a delivered vote; a supermajority of it means the replica
// may have formed a QC (it only does when it leads the next view).
func (w *watch) tally(s *sim, v *model.Vote) {
	byBlock := w.tallies[v.View]
	if byBlock == nil {
		byBlock = map[model.Identifier]map[model.NodeID]bool{}
		w.tallies[v.View] = byBlock
	}
	signers := byBlock[v.BlockID]
	if signers == nil {
		signers = map[model.NodeID]bool{}
		byBlock[v.BlockID] = signers
	}
	signers[v.SignerID] = true
	com := s.committeeAt(v.View)
	var weight uint64
	for id := range signers {
		weight += com.WeightOf(id)
	}
	if supermajority(weight, com.TotalWeight()) {
		w.certified[v.BlockID] = true
	}
}

// supermajority is DESIGN.md's rule, restated: strictly more than two
// thirds of the total weight.
func supermajority(weight, total uint64) bool { return 3*weight > 2*total }

// output checks everything an honest instance produced in one step.
func (m *monitor) output(in *instance, ev consensus.Event, out *consensus.Output, stepErr error) {
	w := m.watches[in.idx]
	self := m.s.ids[in.member].id
	for _, b := range out.Blocks {
		m.learnBlock(b)
		if !b.IsRoot() {
			w.certified[b.QC.BlockID] = true
		}
	}
	if out.Safety != nil {
		m.checkPersisted(in, w, *out.Safety)
	}
	for _, msg := range out.Messages {
		switch {
		case msg.Vote != nil:
			m.checkVote(in, w, self, msg.Vote)
		case msg.Timeout != nil:
			m.checkTimeout(in, w, self, msg.Timeout)
		case msg.Proposal != nil:
			m.checkProposal(in, w, self, msg.Proposal)
		case msg.QC != nil:
			m.checkQC(in, "sync info", msg.QC)
			m.checkTC(in, "sync info", msg.TC)
			w.sure(msg.QC, msg.TC)
		}
	}
	// Blocks finalized in one step form a chain (the invariants check it);
	// its last block is the one the rule must justify.
	if n := len(out.Finalized); n > 0 {
		m.checkFinalized(in, w, out.Finalized[n-1])
	}
	for _, e := range out.Evidence {
		m.rule()
		k := evidenceKey{e.Kind, e.Offender, e.View}
		w.reported[k] = true
		delete(w.owed, k)
		if !m.offenderIsByzantine(e.Offender) {
			m.breach(in, "evidence names only equivocators", "evidence %v names honest replica %v", e.Kind, e.Offender)
		}
	}
	for k, what := range w.owed {
		m.rule()
		m.breach(in, "every equivocation received is reported", "%s in view %d by %v delivered, no evidence reported", what, k.view, k.offender)
		delete(w.owed, k)
	}
	// Certificates in single-message inputs the core accepted are processed
	// before anything else the step does; from now on the replica is past
	// them. (Synced blocks are processed one by one, so not counted; an
	// input the core refused may have been refused before its certificates
	// were looked at.)
	if stepErr != nil {
		ev = nil
	}
	switch e := ev.(type) {
	case consensus.ProposalEvent:
		w.sure(e.Proposal.Block.QC, e.Proposal.Block.TC)
	case consensus.TimeoutEvent:
		w.sure(e.Timeout.NewestQC, e.Timeout.LastViewTC)
	case consensus.CertificateEvent:
		w.sure(e.QC, e.TC)
	}
	if n := len(out.Finalized); n > 0 {
		w.finalView = out.Finalized[n-1].View
	}
}

func (w *watch) sure(qc *model.QC, tc *model.TC) {
	if qc != nil {
		w.certified[qc.BlockID] = true
		if qc.View > w.sureQC {
			w.sureQC = qc.View
		}
		if qc.View > w.sureView {
			w.sureView = qc.View
		}
	}
	if tc != nil {
		w.sure(tc.NewestQC, nil)
		if tc.View > w.sureView {
			w.sureView = tc.View
		}
	}
}

func (m *monitor) offenderIsByzantine(id model.NodeID) bool {
	for _, idt := range m.s.ids {
		if idt.id == id {
			return idt.byzantine()
		}
	}
	return false
}

// checkPersisted: safety data never goes back, across restarts too.
func (m *monitor) checkPersisted(in *instance, w *watch, d safety.Data) {
	m.rule()
	p := w.persisted
	switch {
	case d.LockedView < p.LockedView:
		m.breach(in, "persisted safety data never decreases", "locked view %d persisted after %d", d.LockedView, p.LockedView)
	case d.HighestAcknowledgedView < p.HighestAcknowledgedView:
		m.breach(in, "persisted safety data never decreases", "highest acknowledged view %d persisted after %d", d.HighestAcknowledgedView, p.HighestAcknowledgedView)
	case d.HighestProposedView < p.HighestProposedView:
		m.breach(in, "persisted safety data never decreases", "highest proposed view %d persisted after %d", d.HighestProposedView, p.HighestProposedView)
	case p.LastTimeout != nil && (d.LastTimeout == nil || d.LastTimeout.View < p.LastTimeout.View):
		m.breach(in, "persisted safety data never decreases", "last timeout went back from view %d", p.LastTimeout.View)
	}
	w.persisted = d
}

// checkVote: vote only in the current view, only for the view leader's
// proposal, only under the voting rule; the lock follows the vote.
func (m *monitor) checkVote(in *instance, w *watch, self model.NodeID, v *model.Vote) {
	m.rule()
	if v.SignerID != self {
		m.breach(in, "votes are signed by the voter", "vote signed as %v", v.SignerID)
		return
	}
	if w.sureView >= v.View {
		m.breach(in, "vote only in the current view", "voted in view %d after processing a certificate for view %d", v.View, w.sureView)
	}
	b := w.proposals[v.BlockID]
	if b == nil {
		m.breach(in, "vote only for a proposal", "voted for %v in view %d, never received as a proposal", v.BlockID, v.View)
		return
	}
	if b.View != v.View {
		m.breach(in, "vote only for a proposal", "voted in view %d for a block of view %d", v.View, b.View)
	}
	if leader, known := m.leaderOf(b.View, m.blocks[b.ParentID]); known && b.ProposerID != leader {
		m.breach(in, "vote only for the view leader's proposal", "voted for a block of view %d proposed by %v, leader is %v", b.View, b.ProposerID, leader)
	}
	m.checkExtends(in, "voting rule", b)
	m.checkQC(in, "voted block's QC", b.QC)
	m.checkTC(in, "voted block's TC", b.TC)
	if b.QC.View > m.lock[self] {
		m.lock[self] = b.QC.View
	}
}

// checkExtends is the QC/TC half of the voting rule (and of proposing): a
// block of view v carries the QC for v-1, or the TC for v-1 and a QC at
// least as new as the TC's newest QC.
func (m *monitor) checkExtends(in *instance, rule string, b *model.Block) {
	m.rule()
	switch {
	case b.QC.View+1 == b.View:
	case b.TC == nil || b.TC.View+1 != b.View:
		m.breach(in, rule, "block of view %d extends QC %d without the TC for view %d", b.View, b.QC.View, b.View-1)
	case b.QC.View < b.TC.NewestQC.View:
		m.breach(in, rule, "block of view %d extends QC %d, older than its TC's newest QC %d", b.View, b.QC.View, b.TC.NewestQC.View)
	}
}

// checkTimeout: time out only in the current view, never with a newest QC
// below the lock or below a QC already processed, and with the TC for the
// previous view when the newest QC is not for it.
func (m *monitor) checkTimeout(in *instance, w *watch, self model.NodeID, t *model.TimeoutObject) {
	if w.timedOut[t.View] {
		return // a re-broadcast of the timeout checked when it was signed
	}
	w.timedOut[t.View] = true
	m.rule()
	switch {
	case t.SignerID != self:
		m.breach(in, "timeouts are signed by the sender", "timeout signed as %v", t.SignerID)
	case w.sureView >= t.View:
		m.breach(in, "time out only in the current view", "timed out in view %d after processing a certificate for view %d", t.View, w.sureView)
	case t.NewestQC.View < m.lock[self]:
		m.breach(in, "timeouts carry a QC at or above the lock", "timeout for view %d carries QC %d below the lock %d", t.View, t.NewestQC.View, m.lock[self])
	case t.NewestQC.View < w.sureQC:
		m.breach(in, "timeouts carry the newest QC", "timeout for view %d carries QC %d, replica processed QC %d", t.View, t.NewestQC.View, w.sureQC)
	case t.NewestQC.View+1 != t.View && (t.LastViewTC == nil || t.LastViewTC.View+1 != t.View):
		m.breach(in, "timeouts carry the TC for the previous view", "timeout for view %d with QC %d and no TC for view %d", t.View, t.NewestQC.View, t.View-1)
	}
	m.checkQC(in, "timeout's newest QC", t.NewestQC)
	m.checkTC(in, "timeout's TC", t.LastViewTC)
	w.sure(t.NewestQC, t.LastViewTC)
}

// checkProposal: propose only as the view's leader, in the current view,
// extending a QC the rule allows.
func (m *monitor) checkProposal(in *instance, w *watch, self model.NodeID, p *model.Proposal) {
	m.rule()
	b := p.Block
	m.learnBlock(b)
	w.proposals[b.ID()] = b
	if leader, known := m.leaderOf(b.View, m.blocks[b.ParentID]); b.ProposerID != self || known && leader != self {
		m.breach(in, "propose only as the leader", "proposed for view %d as %v, leader is %v", b.View, b.ProposerID, leader)
	}
	if w.sureView >= b.View {
		m.breach(in, "propose only in the current view", "proposed in view %d after processing a certificate for view %d", b.View, w.sureView)
	}
	m.checkExtends(in, "proposals extend a safe QC", b)
	m.checkQC(in, "proposal's QC", b.QC)
	m.checkTC(in, "proposal's TC", b.TC)
	w.sure(b.QC, b.TC)
}

// checkFinalized: 2-chain finality — a block is final only when the
// replica knows a QC for a child of it with the next view.
func (m *monitor) checkFinalized(in *instance, w *watch, b *model.Block) {
	m.rule()
	for _, c := range m.children[b.ID()] {
		if child := m.blocks[c]; child.View == b.View+1 && w.certified[c] {
			return
		}
	}
	m.breach(in, "finality needs a certified child with the next view",
		"finalized %v (view %d) without a known QC for a child of view %d", b.ID(), b.View, b.View+1)
}

// checkQC: a QC an honest replica uses carries a supermajority of its
// view's committee (or is the genesis QC).
func (m *monitor) checkQC(in *instance, what string, qc *model.QC) {
	if qc == nil {
		return
	}
	m.rule()
	if qc.IsRoot() {
		if !qc.Equal(m.s.rootQC) {
			m.breach(in, "certificates carry a supermajority", "%s: unsigned QC for view %d is not the genesis QC", what, qc.View)
		}
		return
	}
	com := m.s.committeeAt(qc.View)
	if w := signerWeight(com, qc.Signers); !supermajority(w, com.TotalWeight()) {
		m.breach(in, "certificates carry a supermajority", "%s: QC for view %d signed by weight %d of %d", what, qc.View, w, com.TotalWeight())
	}
}

// checkTC: a TC carries a supermajority, one newest-QC view per signer,
// all below its view, and its QC is the highest of them.
func (m *monitor) checkTC(in *instance, what string, tc *model.TC) {
	if tc == nil {
		return
	}
	m.rule()
	com := m.s.committeeAt(tc.View)
	if w := signerWeight(com, tc.Signers); !supermajority(w, com.TotalWeight()) {
		m.breach(in, "certificates carry a supermajority", "%s: TC for view %d signed by weight %d of %d", what, tc.View, w, com.TotalWeight())
	}
	var highest model.View
	for _, v := range tc.NewestQCViews {
		if v >= tc.View {
			m.breach(in, "TCs list QC views below their view", "%s: TC for view %d lists QC view %d", what, tc.View, v)
		}
		highest = max(highest, v)
	}
	if len(tc.NewestQCViews) != tc.Signers.Count() || tc.NewestQC.View != highest {
		m.breach(in, "a TC's QC is the newest of its signers'", "%s: TC for view %d carries QC %d, highest listed %d", what, tc.View, tc.NewestQC.View, highest)
	}
	m.checkQC(in, what+" newest QC", tc.NewestQC)
}

func signerWeight(com *committee.Committee, s model.SignerSet) uint64 {
	if s.Size() != com.Size() {
		return 0
	}
	var w uint64
	for i, mem := range com.Members() {
		if s.Has(i) {
			w += mem.Weight
		}
	}
	return w
}

func sameSafety(a, b safety.Data) bool {
	if a.LockedView != b.LockedView || a.HighestAcknowledgedView != b.HighestAcknowledgedView || a.HighestProposedView != b.HighestProposedView {
		return false
	}
	if (a.LastTimeout == nil) != (b.LastTimeout == nil) {
		return false
	}
	return a.LastTimeout == nil || a.LastTimeout.View == b.LastTimeout.View && a.LastTimeout.NewestQC.View == b.LastTimeout.NewestQC.View
}

func fmtSafety(d safety.Data) string {
	return fmt.Sprintf("{locked %d, acknowledged %d, proposed %d}", d.LockedView, d.HighestAcknowledgedView, d.HighestProposedView)
}

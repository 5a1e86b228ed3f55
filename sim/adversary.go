package sim

import (
	"fmt"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// The adversary: a byzantine identity that runs one replica (so it knows
// the protocol state) and breaks the protocol with it. It withholds its
// votes, equivocates as a voter and as a leader, replays old messages of
// anyone, proposes when it is not the leader, and forges certificates —
// under-weight, with an empty signer set, with a newest-QC view that is not
// the highest, signed over another view — and timeouts whose QC does not
// match what was signed. Every forged message crosses the wire as bytes, so
// decoders, verifiers and cores all get their turn at refusing it; what
// gets through must still not break a rule an honest replica follows.

// replayMemory bounds the messages an adversary keeps for replays.
const replayMemory = 256

// attackRate is the chance per step that the adversary adds an attack.
const attackRate = 0.25

type adversary struct {
	s  *sim
	in *instance
	// seen holds recent messages it received or sent, for replays.
	seen []consensus.Message
	next int
}

func newAdversary(s *sim, in *instance) *adversary { return &adversary{s: s, in: in} }

func (a *adversary) idt() *identity { return a.s.ids[a.in.member] }

func (a *adversary) remember(m consensus.Message) {
	if len(a.seen) < replayMemory {
		a.seen = append(a.seen, m)
		return
	}
	a.seen[a.next] = m
	a.next = (a.next + 1) % replayMemory
}

// observe records a message delivered to the adversary's replica.
func (a *adversary) observe(w *wire) {
	if w.syncReq == nil && w.syncResp == nil && !w.forged {
		a.remember(w.msg)
	}
}

// rewrite turns the replica's honest output into the adversary's: votes
// withheld or doubled with a conflicting one, proposals equivocated.
func (a *adversary) rewrite(msgs []consensus.Message) []consensus.Message {
	rng := a.s.rng
	var out []consensus.Message
	for _, m := range msgs {
		a.remember(m)
		switch {
		case m.Vote != nil && rng.Float64() < 0.2:
			a.s.trace.add(a.s.now, "n%d withholds its vote for view %d", a.in.idx, m.Vote.View)
			continue
		case m.Vote != nil && rng.Float64() < 0.3:
			out = append(out, m)
			if v := a.conflictingVote(m.Vote); v != nil {
				a.forge(m.To, false, "double vote", consensus.Message{To: m.To, Vote: v})
			}
			continue
		case m.Proposal != nil && rng.Float64() < 0.5:
			a.s.equivocate(a.in, m.Proposal)
			continue
		}
		out = append(out, m)
	}
	return out
}

// attack adds one crafted or replayed message now and then.
func (a *adversary) attack() {
	rng := a.s.rng
	if a.in.core == nil || rng.Float64() >= attackRate {
		return
	}
	switch rng.IntN(8) {
	case 0:
		a.nonLeaderProposal()
	case 1, 2:
		a.replay()
	case 3:
		a.underweightQC()
	case 4:
		a.emptyBitmapQC()
	case 5:
		a.wrongNewestQCView()
	case 6:
		a.voteForAnotherView()
	case 7:
		a.misleadingTimeout()
	}
}

// forge sends a crafted message: to one identity, or to every other
// identity when to is the zero ID.
func (a *adversary) forge(to model.NodeID, lenient bool, what string, m consensus.Message) {
	a.s.res.AdversaryInjected++
	a.s.trace.add(a.s.now, "n%d forges: %s", a.in.idx, what)
	for _, other := range a.s.ids {
		if other == a.idt() || (to != model.ZeroID && other.id != to) {
			continue
		}
		for _, dst := range other.instances {
			a.s.transmit(a.in.idx, dst, &wire{from: a.in.idx, msg: m, forged: true, lenient: lenient, what: what}, true)
		}
	}
}

func (a *adversary) sign(domain crypto.Domain, msg []byte) []byte {
	sig, err := a.idt().key.Sign(domain, msg)
	if err != nil {
		a.s.violation(a.in, "adversary could not sign: %v", err)
		return nil
	}
	return sig
}

// conflictingVote is a second vote in the same view for another block: a
// competing proposal it saw, or a block that does not exist.
func (a *adversary) conflictingVote(v *model.Vote) *model.Vote {
	other := crypto.Sum(append(v.BlockID[:], "conflict"...))
	for _, m := range a.seen {
		if p := m.Proposal; p != nil && p.Block.View == v.View && p.Block.ID() != v.BlockID {
			other = p.Block.ID()
			break
		}
	}
	vote, err := model.NewVote(v.View, other, v.SignerID, a.sign(crypto.DomainVote, model.VoteMessage(a.s.chain, v.View, other)))
	if err != nil {
		return nil
	}
	return vote
}

// nonLeaderProposal proposes in the current view although another replica
// leads it: a well-formed block extending the newest QC, validly signed.
// Half of these skip the verifier's leader check to reach the cores.
func (a *adversary) nonLeaderProposal() {
	core := a.in.core
	view := core.CurrentView()
	qc := core.NewestQC()
	parent := core.Block(qc.BlockID)
	if parent == nil {
		return
	}
	if leader, err := core.Leader(view, parent); err != nil || leader == a.idt().id {
		return
	}
	var tc *model.TC
	if qc.View+1 != view {
		if tc = a.in.store.liveness.LastViewTC; tc == nil || tc.View+1 != view {
			return
		}
	}
	payload := []byte(fmt.Sprintf("usurper %d", view))
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: a.idt().id, Timestamp: epoch.Add(a.s.now).UnixMilli(), PayloadHash: model.PayloadHash(payload)}, payload)
	if err != nil {
		return
	}
	p, err := model.NewProposal(b, a.sign(crypto.DomainProposal, model.ProposalMessage(a.s.chain, b.ID())))
	if err != nil {
		return
	}
	a.forge(model.ZeroID, a.s.rng.IntN(2) == 0, fmt.Sprintf("proposal for view %d by a non-leader", view), consensus.Message{Broadcast: true, Proposal: p})
}

// replay resends an old message — anyone's, signed validly — to one
// random identity.
func (a *adversary) replay() {
	if len(a.seen) == 0 {
		return
	}
	m := a.seen[a.s.rng.IntN(len(a.seen))]
	to := a.s.ids[a.s.rng.IntN(len(a.s.ids))].id
	m.To, m.Broadcast = to, false
	a.forge(to, false, "replay", m)
}

// underweightQC certifies the newest block it knows with its own vote only.
func (a *adversary) underweightQC() {
	b := a.newestBlock()
	if b == nil {
		return
	}
	com := a.s.committeeAt(b.View)
	idx, err := com.Index(a.idt().id)
	if err != nil {
		return
	}
	signers, err := model.NewSignerSet(com.Size())
	if err != nil {
		return
	}
	signers.Set(idx)
	qc, err := model.NewQC(b.View, b.ID(), signers, a.sign(crypto.DomainVote, model.VoteMessage(a.s.chain, b.View, b.ID())))
	if err != nil {
		return
	}
	a.sendCertificate(qc, nil, fmt.Sprintf("QC for view %d signed by one member", b.View))
}

// emptyBitmapQC claims a certificate with no signers but a signature.
func (a *adversary) emptyBitmapQC() {
	b := a.newestBlock()
	if b == nil {
		return
	}
	signers, err := model.NewSignerSet(a.s.committeeAt(b.View).Size())
	if err != nil {
		return
	}
	qc := &model.QC{View: b.View, BlockID: b.ID(), Signers: signers, Signature: a.sign(crypto.DomainVote, model.VoteMessage(a.s.chain, b.View, b.ID()))}
	a.sendCertificate(qc, nil, fmt.Sprintf("QC for view %d with an empty signer set", b.View))
}

// wrongNewestQCView takes a real TC and swaps its QC for an older one, so
// that the TC would justify extending an older block.
func (a *adversary) wrongNewestQCView() {
	for _, m := range a.seen {
		var tc *model.TC
		switch {
		case m.Proposal != nil && m.Proposal.Block.TC != nil:
			tc = m.Proposal.Block.TC
		case m.Timeout != nil && m.Timeout.LastViewTC != nil:
			tc = m.Timeout.LastViewTC
		}
		if tc == nil || tc.NewestQC.IsRoot() {
			continue
		}
		older := a.olderQC(tc.NewestQC.View)
		if older == nil {
			continue
		}
		forged := *tc
		forged.NewestQC = older
		if a.s.rng.IntN(2) == 0 {
			// Also lower the listed views to match: the signatures then no
			// longer match what the signers signed.
			forged.NewestQCViews = make([]model.View, len(tc.NewestQCViews))
			for i := range forged.NewestQCViews {
				forged.NewestQCViews[i] = min(tc.NewestQCViews[i], older.View)
			}
		}
		a.sendCertificate(older, &forged, fmt.Sprintf("TC for view %d claiming newest QC %d instead of %d", tc.View, older.View, tc.NewestQC.View))
		return
	}
}

// voteForAnotherView sends a vote whose signature covers the previous view.
func (a *adversary) voteForAnotherView() {
	b := a.newestBlock()
	if b == nil || b.View < 2 {
		return
	}
	v := &model.Vote{View: b.View, BlockID: b.ID(), SignerID: a.idt().id, Signature: a.sign(crypto.DomainVote, model.VoteMessage(a.s.chain, b.View-1, b.ID()))}
	to, err := a.in.core.Leader(b.View+1, b)
	if err != nil {
		return
	}
	a.forge(to, false, fmt.Sprintf("vote for view %d signed over view %d", b.View, b.View-1), consensus.Message{To: to, Vote: v})
}

// misleadingTimeout signs a timeout over one newest-QC view and carries a
// QC of another; or, validly signed, carries a stale QC (allowed: a
// byzantine replica may lie about what it saw, and the TC rule copes).
func (a *adversary) misleadingTimeout() {
	core := a.in.core
	view := core.CurrentView()
	qc := core.NewestQC()
	stale := a.olderQC(qc.View)
	if stale == nil || stale.View+1 == view {
		return
	}
	var tc *model.TC
	if tc = a.in.store.liveness.LastViewTC; tc == nil || tc.View+1 != view {
		return
	}
	signedView, what := stale.View, fmt.Sprintf("timeout for view %d with stale QC %d", view, stale.View)
	if a.s.rng.IntN(2) == 0 {
		signedView, what = qc.View, fmt.Sprintf("timeout for view %d signed over QC %d, carrying QC %d", view, qc.View, stale.View)
	}
	t := &model.TimeoutObject{View: view, NewestQC: stale, LastViewTC: tc, SignerID: a.idt().id,
		Signature: a.sign(crypto.DomainTimeout, model.TimeoutMessage(a.s.chain, view, signedView))}
	a.forge(model.ZeroID, false, what, consensus.Message{Broadcast: true, Timeout: t})
}

func (a *adversary) sendCertificate(qc *model.QC, tc *model.TC, what string) {
	a.forge(model.ZeroID, false, what, consensus.Message{Broadcast: true, QC: qc, TC: tc})
}

// newestBlock is the block of the replica's newest QC, or of a proposal it
// saw for a later view.
func (a *adversary) newestBlock() *model.Block {
	core := a.in.core
	best := core.Block(core.NewestQC().BlockID)
	for _, m := range a.seen {
		if p := m.Proposal; p != nil && (best == nil || p.Block.View > best.View) {
			best = p.Block
		}
	}
	if best == nil || best.IsRoot() {
		return nil
	}
	return best
}

// olderQC is a valid, signed QC below view v from what the adversary saw.
func (a *adversary) olderQC(v model.View) *model.QC {
	var best *model.QC
	for _, m := range a.seen {
		var qc *model.QC
		switch {
		case m.Proposal != nil:
			qc = m.Proposal.Block.QC
		case m.Timeout != nil:
			qc = m.Timeout.NewestQC
		}
		if qc != nil && !qc.IsRoot() && qc.View < v && (best == nil || qc.View < best.View) {
			best = qc
		}
	}
	return best
}

// wireRoundTrip encodes and decodes a forged message as a node's transport
// would, so shape checks in the decoders apply to it.
func wireRoundTrip(m consensus.Message) (consensus.Message, error) {
	var err error
	out := consensus.Message{To: m.To, Broadcast: m.Broadcast}
	switch {
	case m.Proposal != nil:
		out.Proposal, err = model.DecodeProposal(m.Proposal.Encode())
	case m.Vote != nil:
		out.Vote, err = model.DecodeVote(m.Vote.Encode())
	case m.Timeout != nil:
		out.Timeout, err = model.DecodeTimeout(m.Timeout.Encode())
	case m.QC != nil:
		out.QC, err = model.DecodeQC(m.QC.Encode())
		if err == nil && m.TC != nil {
			out.TC, err = model.DecodeTC(m.TC.Encode())
		}
	default:
		err = fmt.Errorf("empty message")
	}
	return out, err
}

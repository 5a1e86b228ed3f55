package sim

import (
	"fmt"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
)

// The simulated network: links with delay and jitter, loss, duplication,
// partitions that change over time, twins heard by one half of the network,
// and block sync between instances.

func (s *sim) send(from *instance, m consensus.Message) {
	idt := s.ids[from.member]
	if m.Proposal != nil && idt.role == roleTwin {
		s.equivocate(from, m.Proposal)
		return
	}
	if !m.Broadcast {
		if m.To == idt.id {
			// Loopback: the replica's own vote when it leads the next view.
			s.sched.push(&event{at: s.now, kind: evDeliver, inst: from.idx, gen: from.gen, wire: &wire{from: from.idx, msg: m}})
			return
		}
		for mi, other := range s.ids {
			if other.id == m.To {
				for _, to := range s.ids[mi].instances {
					s.transmit(from.idx, to, &wire{from: from.idx, msg: m}, true)
				}
			}
		}
		return
	}
	s.broadcast(from, m)
}

// broadcast sends m to every instance of every other identity.
func (s *sim) broadcast(from *instance, m consensus.Message) {
	idt := s.ids[from.member]
	// A broadcast that reaches only some peers (the sender's link flapped
	// mid-send) is what leaves a certificate known to a single replica, the
	// situation most finality bugs need.
	partial := s.faulty && s.cfg.Partitions && s.rng.Float64() < 0.15
	for _, other := range s.ids {
		if other == idt {
			continue
		}
		for _, to := range other.instances {
			if partial && s.rng.IntN(2) == 0 {
				continue
			}
			s.transmit(from.idx, to, &wire{from: from.idx, msg: m}, true)
		}
	}
}

// equivocate sends a twin leader's proposal to part of the network and a
// conflicting block for the same view, validly signed, to the rest.
func (s *sim) equivocate(from *instance, p *model.Proposal) {
	idt := s.ids[from.member]
	b := p.Block
	payload := append(append([]byte(nil), b.Payload...), "equivocation"...)
	h := b.Header
	h.PayloadHash = model.PayloadHash(payload)
	// Half the time, after a view change, the conflicting block also forks:
	// it extends an ancestor one to three blocks further back, certified by
	// the QC its child carries, and is justified by the same TC. That is the
	// attack on finality: honest replicas must refuse it whenever its QC is
	// older than the TC's newest QC.
	if b.TC != nil && s.rng.IntN(2) == 0 {
		child := from.store.blocks[b.ParentID]
		for depth := 1 + s.rng.IntN(3); depth > 0 && child != nil && !child.IsRoot(); depth-- {
			target := from.store.blocks[child.ParentID]
			if target == nil {
				break
			}
			h.ParentID, h.QC, h.Height = target.ID(), child.QC, target.Height+1
			child = target
		}
		s.trace.add(s.now, "n%d equivocates in view %d with a fork from h%d (QC %d, TC newest QC %d)",
			from.idx, b.View, h.Height-1, h.QC.View, b.TC.NewestQC.View)
	}
	alt, err := model.NewBlock(h, payload)
	if err == nil {
		sig, serr := idt.key.Sign(crypto.DomainProposal, model.ProposalMessage(s.chain, alt.ID()))
		var altP *model.Proposal
		if serr == nil {
			altP, err = model.NewProposal(alt, sig)
		}
		if serr == nil && err == nil && s.cfg.Scenario != nil {
			// In a scenario the partition decides who hears what: the twin
			// half sends one block to everyone it can reach, the fork (when
			// it forked) or its own.
			pick := p
			if alt.ParentID != b.ParentID {
				pick = altP
			}
			s.broadcast(from, consensus.Message{Broadcast: true, Proposal: pick})
			return
		}
		if serr == nil && err == nil {
			for _, other := range s.ids {
				if other == idt {
					continue
				}
				for _, to := range other.instances {
					pick := p
					if s.rng.IntN(2) == 0 {
						pick = altP
					}
					s.transmit(from.idx, to, &wire{from: from.idx, msg: consensus.Message{Broadcast: true, Proposal: pick}}, true)
				}
			}
			return
		}
	}
	s.violation(from, "could not build equivocating proposal: %v", err)
}

// requestBlock asks for a block the core is missing, through the replica's
// block sync (replica.Sync), as a node does.
func (s *sim) requestBlock(in *instance, id model.Identifier) {
	req, ok := in.sync.Fetch(epoch.Add(s.now), id, in.store.root.Height, s.syncPeers(in))
	s.sendSync(in, req, ok)
}

// retryBlock asks again, another peer, while the block is still missing.
func (s *sim) retryBlock(in *instance, id model.Identifier) {
	missing := in.core.Block(id) == nil && in.store.blocks[id] == nil
	req, ok := in.sync.Retry(epoch.Add(s.now), id, missing, in.store.root.Height, s.syncPeers(in))
	s.sendSync(in, req, ok)
}

// syncPeers are the instances a replica may ask: all but itself and its
// twin.
func (s *sim) syncPeers(in *instance) []int {
	var candidates []int
	for _, other := range s.insts {
		if s.ids[other.member].id != s.ids[in.member].id {
			candidates = append(candidates, other.idx)
		}
	}
	return candidates
}

// sendSync sends a fetch and schedules its retry. The simulator has no
// height announcements, so its replicas never ask for ranges: a restarted
// one catches up by fetching what the certificates it receives name.
func (s *sim) sendSync(in *instance, req replica.SyncRequest[int], ok bool) {
	if !ok || req.Block == (model.Identifier{}) {
		return
	}
	s.transmit(in.idx, req.To, &wire{from: in.idx, syncReq: &syncRequest{id: req.Block, have: req.Have}}, false)
	s.sched.push(&event{at: s.now + syncRetryAfter, kind: evSyncRetry, inst: in.idx, gen: in.gen, id: req.Block})
}

// transmit puts one message on the link from→to, subject to partitions,
// twin attachment, loss, duplication and delay.
func (s *sim) transmit(from, to int, w *wire, consensusTraffic bool) {
	if s.cfg.Scenario != nil {
		if s.faulty && !s.cfg.Scenario.connected(s.roundOf(from, w), from, to) {
			return
		}
	} else if s.blocked(from, to) {
		return
	}
	if s.faulty && s.rng.Float64() < s.cfg.Loss {
		return
	}
	copies := 1
	if s.faulty && s.rng.Float64() < s.cfg.Dup {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		base := s.linkDelay[from][to]
		jitter := time.Duration(s.rng.ExpFloat64() * float64(base) / 2)
		dest := s.insts[to]
		s.sched.push(&event{at: s.now + base + jitter, kind: evDeliver, inst: to, gen: dest.gen, wire: w})
	}
	_ = consensusTraffic
}

// roundOf is the protocol round a message belongs to, for scenarios that
// partition the network per round: a message's own view, sync info's view
// after its certificate, and for block sync the sender's current view.
func (s *sim) roundOf(from int, w *wire) model.View {
	m := w.msg
	switch {
	case m.Proposal != nil:
		return m.Proposal.Block.View
	case m.Vote != nil:
		return m.Vote.View
	case m.Timeout != nil:
		return m.Timeout.View
	case m.QC != nil:
		v := m.QC.View + 1
		if m.TC != nil && m.TC.View+1 > v {
			v = m.TC.View + 1
		}
		return v
	}
	if in := s.insts[from]; in.core != nil {
		return in.core.CurrentView()
	}
	return 0
}

// blocked reports whether from cannot reach to right now.
func (s *sim) blocked(from, to int) bool {
	a, b := s.insts[from], s.insts[to]
	// Twins: an honest instance hears exactly one half of each twin pair.
	if ia, ib := s.ids[a.member], s.ids[b.member]; (ia.role == roleTwin) != (ib.role == roleTwin) {
		if ia.role == roleTwin && s.attach[to][a.member] != a.slot {
			return true
		}
		if ib.role == roleTwin && s.attach[from][b.member] != b.slot {
			return true
		}
	}
	if !s.faulty {
		return false
	}
	if s.group[from] != s.group[to] {
		return true
	}
	return s.asym[from] && !s.asym[to]
}

func (s *sim) shuffleAttachments() {
	for i := range s.attach {
		for m, idt := range s.ids {
			if idt.role == roleTwin {
				s.attach[i][m] = s.rng.IntN(2)
			}
		}
	}
}

func (s *sim) nextNetChange() time.Duration {
	return s.now + 300*time.Millisecond + time.Duration(s.rng.Int64N(int64(1500*time.Millisecond)))
}

func (s *sim) nextCrash() time.Duration {
	return s.now + 200*time.Millisecond + time.Duration(s.rng.Int64N(int64(1200*time.Millisecond)))
}

// changeNetwork draws the next partition layout and twin attachment.
func (s *sim) changeNetwork() {
	if !s.faulty {
		return
	}
	s.redrawNetwork()
	s.sched.push(&event{at: s.nextNetChange(), kind: evNetChange})
}

func (s *sim) redrawNetwork() {
	s.shuffleAttachments()
	n := len(s.insts)
	for i := range s.group {
		s.group[i] = 0
		s.asym[i] = false
	}
	kind := "none"
	if s.cfg.Partitions {
		switch s.rng.IntN(4) {
		case 1: // a random minority is cut off
			kind = "minority cut"
			for k := 0; k < 1+s.rng.IntN((n+2)/3); k++ {
				s.group[s.rng.IntN(n)] = 1
			}
		case 2: // split into two or three random groups
			groups := 2 + s.rng.IntN(2)
			kind = fmt.Sprintf("split into %d", groups)
			for i := range s.group {
				s.group[i] = s.rng.IntN(groups)
			}
		case 3: // asymmetric: some instances can receive but not send
			kind = "asymmetric"
			for k := 0; k < 1+s.rng.IntN((n+1)/2); k++ {
				s.asym[s.rng.IntN(n)] = true
			}
		}
	}
	s.trace.add(s.now, "network: %s groups=%v sendblocked=%v", kind, s.group, s.asym)
}

func (s *sim) randomCrash() {
	if !s.faulty {
		return
	}
	in := s.insts[s.rng.IntN(len(s.insts))]
	s.crash(in)
	s.sched.push(&event{at: s.nextCrash(), kind: evCrash, inst: -1})
}

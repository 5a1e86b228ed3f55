// Package aggregate collects votes into QCs and timeouts into TCs. Both
// aggregators accept only messages whose signatures were already verified,
// detect equivocation, and keep a bounded window of views.
package aggregate

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// ErrOutsideWindow: a message for a view the aggregator no longer (or not
// yet) collects. Expected; the message is dropped.
var ErrOutsideWindow = errors.New("view outside aggregation window")

// ViewWindow bounds how many views ahead of the lowest retained view an
// aggregator collects, so a peer cannot make it hold unbounded state.
const ViewWindow = 64

type blockVotes struct {
	signers model.SignerSet
	weight  uint64
	sigs    [][]byte
}

type viewVotes struct {
	committee *committee.Committee // the committee of the view
	first     map[model.NodeID]*model.Vote
	blocks    map[model.Identifier]*blockVotes
	qcFormed  bool
	// formed is how many signers the QC returned by Add had.
	formed int
}

// Votes aggregates votes into QCs. Per view it holds at most one vote per
// committee member (the first; a second, different one is evidence).
type Votes struct {
	// WeakQuorum forms QCs one weight unit below a supermajority. Test-only:
	// it exists to prove the simulator catches a weakened quorum.
	WeakQuorum bool
	schedule   committee.Schedule
	scheme     crypto.Scheme
	lowest     model.View
	views      map[model.View]*viewVotes
}

// NewVotes returns an empty vote aggregator. Each view's votes count
// towards the committee the schedule gives for that view.
func NewVotes(sch committee.Schedule, s crypto.Scheme) *Votes {
	return &Votes{schedule: sch, scheme: s, views: make(map[model.View]*viewVotes)}
}

// SetSchedule replaces the schedule (a new epoch became known). Views
// already collecting keep their committee: a schedule change only ever adds
// views.
func (a *Votes) SetSchedule(sch committee.Schedule) { a.schedule = sch }

// Add records a verified vote. It returns a QC the first time the votes for
// one block reach a supermajority, and evidence if the signer already voted
// for a different block in the view.
func (a *Votes) Add(v *model.Vote) (*model.QC, *model.Evidence, error) {
	if v.View < a.lowest || v.View >= a.lowest+ViewWindow {
		return nil, nil, fmt.Errorf("%w: vote for view %d, window [%d, %d)", ErrOutsideWindow, v.View, a.lowest, a.lowest+ViewWindow)
	}
	vv := a.views[v.View]
	com := (*committee.Committee)(nil)
	if vv != nil {
		com = vv.committee
	} else {
		c, err := a.schedule.CommitteeAt(v.View)
		if err != nil {
			return nil, nil, fmt.Errorf("vote for view %d: %w", v.View, err)
		}
		com = c
	}
	idx, err := com.Index(v.SignerID)
	if err != nil {
		return nil, nil, fmt.Errorf("vote for view %d: %w", v.View, err)
	}
	if len(v.Signature) != a.scheme.SignatureSize() {
		return nil, nil, fmt.Errorf("%w: vote for view %d has a %d-byte signature", model.ErrInvalid, v.View, len(v.Signature))
	}
	if vv == nil {
		vv = &viewVotes{committee: com, first: make(map[model.NodeID]*model.Vote), blocks: make(map[model.Identifier]*blockVotes)}
		a.views[v.View] = vv
	}
	if prev, ok := vv.first[v.SignerID]; ok {
		if prev.BlockID == v.BlockID {
			return nil, nil, nil // duplicate delivery
		}
		return nil, &model.Evidence{Kind: model.DoubleVote, Offender: v.SignerID, View: v.View, Votes: [2]*model.Vote{prev, v}}, nil
	}
	vv.first[v.SignerID] = v
	bv := vv.blocks[v.BlockID]
	if bv == nil {
		signers, err := model.NewSignerSet(com.Size())
		if err != nil {
			return nil, nil, err
		}
		bv = &blockVotes{signers: signers}
		vv.blocks[v.BlockID] = bv
	}
	bv.signers.Set(idx)
	bv.weight += com.Member(idx).Weight
	bv.sigs = append(bv.sigs, v.Signature)
	if vv.qcFormed || bv.weight < threshold(com, a.WeakQuorum) {
		return nil, nil, nil
	}
	sig, err := a.scheme.AggregateSignatures(bv.sigs)
	if err != nil {
		// Only reachable if an unverified signature slipped in: the input,
		// not the replica, is broken.
		return nil, nil, fmt.Errorf("%w: aggregate votes for view %d: %v", model.ErrInvalid, v.View, err)
	}
	qc, err := model.NewQC(v.View, v.BlockID, bv.signers.Clone(), sig)
	if err != nil {
		return nil, nil, err
	}
	vv.qcFormed, vv.formed = true, bv.signers.Count()
	return qc, nil, nil
}

// Signers is how many members voted for the block in the view so far.
func (a *Votes) Signers(view model.View, block model.Identifier) int {
	if vv := a.views[view]; vv != nil {
		if bv := vv.blocks[block]; bv != nil {
			return bv.signers.Count()
		}
	}
	return 0
}

// Fullest returns a QC for the block over every vote received for it so
// far, or nil if none formed or no vote arrived since Add returned it.
// A leader proposes with it: votes that arrive after the supermajority but
// before the proposal then count for the voters' leader reputation, so the
// slowest honest voter is not always missing from QCs.
func (a *Votes) Fullest(view model.View, block model.Identifier) (*model.QC, error) {
	vv := a.views[view]
	if vv == nil || !vv.qcFormed {
		return nil, nil
	}
	bv := vv.blocks[block]
	if bv == nil || bv.weight < threshold(vv.committee, a.WeakQuorum) || bv.signers.Count() <= vv.formed {
		return nil, nil
	}
	sig, err := a.scheme.AggregateSignatures(bv.sigs)
	if err != nil {
		return nil, fmt.Errorf("%w: aggregate votes for view %d: %v", model.ErrInvalid, view, err)
	}
	return model.NewQC(view, block, bv.signers.Clone(), sig)
}

// Prune drops every view below lowest and moves the window.
func (a *Votes) Prune(lowest model.View) {
	if lowest <= a.lowest {
		return
	}
	for v := range a.views {
		if v < lowest {
			delete(a.views, v)
		}
	}
	a.lowest = lowest
}

// threshold is the weight a certificate needs: a supermajority, or one unit
// less when a test weakens the quorum on purpose.
func threshold(com *committee.Committee, weak bool) uint64 {
	if t := com.SupermajorityThreshold(); weak && t > 1 {
		return t - 1
	}
	return com.SupermajorityThreshold()
}

package aggregate

import (
	"fmt"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

type viewTimeouts struct {
	committee *committee.Committee // the committee of the view
	byID      map[model.NodeID]*model.TimeoutObject
	weight    uint64
	newestQC  *model.QC
	partial   bool
	tcFormed  bool
}

// Timeouts aggregates timeout objects into TCs.
type Timeouts struct {
	// WeakQuorum forms TCs one weight unit below a supermajority (test-only,
	// like Votes.WeakQuorum).
	WeakQuorum bool
	schedule   committee.Schedule
	scheme     crypto.Scheme
	lowest     model.View
	views      map[model.View]*viewTimeouts
}

// TimeoutResult says what one added timeout changed.
type TimeoutResult struct {
	// OneThird is true the first time the view's timeouts exceed 1/3 of the
	// weight: at least one honest replica gave up, so waiting is pointless.
	OneThird bool
	// TC is set the first time the timeouts reach a supermajority.
	TC *model.TC
	// Evidence is set when the signer already sent a different timeout.
	Evidence *model.Evidence
}

// NewTimeouts returns an empty timeout aggregator. Each view's timeouts
// count towards the committee the schedule gives for that view.
func NewTimeouts(sch committee.Schedule, s crypto.Scheme) *Timeouts {
	return &Timeouts{schedule: sch, scheme: s, views: make(map[model.View]*viewTimeouts)}
}

// SetSchedule replaces the schedule (a new epoch became known).
func (a *Timeouts) SetSchedule(sch committee.Schedule) { a.schedule = sch }

// Add records a verified timeout object.
func (a *Timeouts) Add(t *model.TimeoutObject) (TimeoutResult, error) {
	var res TimeoutResult
	if t.View < a.lowest || t.View >= a.lowest+ViewWindow {
		return res, fmt.Errorf("%w: timeout for view %d, window [%d, %d)", ErrOutsideWindow, t.View, a.lowest, a.lowest+ViewWindow)
	}
	vt := a.views[t.View]
	com := (*committee.Committee)(nil)
	if vt != nil {
		com = vt.committee
	} else {
		c, err := a.schedule.CommitteeAt(t.View)
		if err != nil {
			return res, fmt.Errorf("timeout for view %d: %w", t.View, err)
		}
		com = c
	}
	idx, err := com.Index(t.SignerID)
	if err != nil {
		return res, fmt.Errorf("timeout for view %d: %w", t.View, err)
	}
	if len(t.Signature) != a.scheme.SignatureSize() {
		return res, fmt.Errorf("%w: timeout for view %d has a %d-byte signature", model.ErrInvalid, t.View, len(t.Signature))
	}
	if vt == nil {
		vt = &viewTimeouts{committee: com, byID: make(map[model.NodeID]*model.TimeoutObject)}
		a.views[t.View] = vt
	}
	if prev, ok := vt.byID[t.SignerID]; ok {
		// The signed content is (view, newest QC view); anything else may
		// differ between honest re-broadcasts only if the QC differs.
		if prev.NewestQC.View != t.NewestQC.View {
			res.Evidence = &model.Evidence{Kind: model.DoubleTimeout, Offender: t.SignerID, View: t.View,
				Timeouts: [2]*model.TimeoutObject{prev, t}}
		}
		return res, nil
	}
	vt.byID[t.SignerID] = t
	vt.weight += com.Member(idx).Weight
	if vt.newestQC == nil || t.NewestQC.View > vt.newestQC.View {
		vt.newestQC = t.NewestQC
	}
	if !vt.partial && vt.weight >= com.OneThirdThreshold() {
		vt.partial = true
		res.OneThird = true
	}
	if vt.tcFormed || vt.weight < threshold(com, a.WeakQuorum) {
		return res, nil
	}
	tc, err := a.buildTC(t.View, vt)
	if err != nil {
		return res, err
	}
	vt.tcFormed = true
	res.TC = tc
	return res, nil
}

func (a *Timeouts) buildTC(view model.View, vt *viewTimeouts) (*model.TC, error) {
	signers, err := model.NewSignerSet(vt.committee.Size())
	if err != nil {
		return nil, err
	}
	views := make([]model.View, 0, len(vt.byID))
	sigs := make([][]byte, 0, len(vt.byID))
	for i, m := range vt.committee.Members() {
		t, ok := vt.byID[m.ID]
		if !ok {
			continue
		}
		signers.Set(i)
		views = append(views, t.NewestQC.View)
		sigs = append(sigs, t.Signature)
	}
	sig, err := a.scheme.AggregateSignatures(sigs)
	if err != nil {
		return nil, fmt.Errorf("%w: aggregate timeouts for view %d: %v", model.ErrInvalid, view, err)
	}
	return model.NewTC(view, vt.newestQC, views, signers, sig)
}

// Prune drops every view below lowest and moves the window.
func (a *Timeouts) Prune(lowest model.View) {
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

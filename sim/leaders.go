package sim

import (
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// leaderOf is the monitor's own reading of the leader rule
// (docs/leader-reputation.md), written apart from package reputation so
// that a bug there is not mirrored here: it scans every recorded activity
// for every draw instead of indexing them. Only committee data (members,
// weights, the seeded weighted draw) is shared with the core. ok is false
// when the monitor lacks the parent or an ancestor the rule reads.
func (m *monitor) leaderOf(v model.View, parent *model.Block) (id model.NodeID, ok bool) {
	if m.s.cfg.Reputation.Window == 0 {
		return m.s.committeeAt(v).Leader(v), true
	}
	return m.leaderRule(v, parent, true, true)
}

// leaderAnswer is a memoized leaderRule: the leader and, with inGap, the
// suspects the gap marked (each with the failed view it is blamed for).
type leaderAnswer struct {
	id       model.NodeID
	suspects []activity
}

// activity is a member (committee index) at a view: a proposal or vote,
// or a failed view it is suspected of (with the view's other suspect).
type activity struct {
	member  int
	view    model.View
	partner int
}

// leaderRule is the rule for a reputation-enabled chain; with older, the
// members suspected of failed views of older gaps (found by the rule
// without older) are left out of draws within a window after their
// failure; with inGap, so are the suspects of the views between parent and
// v: each view's leader and the leader that was to aggregate the votes for
// its block.
func (m *monitor) leaderRule(v model.View, parent *model.Block, older, inGap bool) (model.NodeID, bool) {
	a, ok := m.leaderAnswer(v, parent, older, inGap)
	return a.id, ok
}

func (m *monitor) leaderAnswer(v model.View, parent *model.Block, older, inGap bool) (leaderAnswer, bool) {
	if parent == nil {
		return leaderAnswer{}, false
	}
	// A known answer stays right: blocks are only ever added, and a walk
	// that ended at a missing block answered "unknown" (not memoized).
	key := leaderKey{v, parent.ID(), older, inGap}
	if a, ok := m.leaders[key]; ok {
		return a, true
	}
	a, ok := m.scanLeader(v, parent, older, inGap)
	if ok {
		if len(m.leaders) >= 1<<14 {
			clear(m.leaders)
		}
		m.leaders[key] = a
	}
	return a, ok
}

// scanLeader computes leaderRule by scanning the recorded ancestry.
func (m *monitor) scanLeader(v model.View, parent *model.Block, older, inGap bool) (leaderAnswer, bool) {
	com := m.s.committeeAt(v)
	p := m.s.cfg.Reputation
	span := model.View(16 + p.Lag + p.Window) // gap views + lag + window
	lowest := model.View(0)
	if v > span {
		lowest = v - span
	}
	type gapBlock struct {
		parent *model.Block
		view   model.View
	}
	var acts, fails []activity
	var gaps []gapBlock
	for b := parent; b.View >= lowest && m.s.committeeAt(b.View) == com; {
		if i, err := com.Index(b.ProposerID); err == nil {
			acts = append(acts, activity{i, b.View, i})
		}
		if b.IsRoot() {
			break
		}
		if b.QC.View >= lowest && m.s.committeeAt(b.QC.View) == com {
			for i := 0; i < com.Size(); i++ {
				if b.QC.Signers.Has(i) {
					acts = append(acts, activity{i, b.QC.View, i})
				}
			}
		}
		next := m.blocks[b.ParentID]
		if next == nil {
			if b.QC.View >= lowest {
				return leaderAnswer{}, false
			}
			break
		}
		if next.View+1 < b.View {
			gaps = append(gaps, gapBlock{next, b.View})
		}
		b = next
	}
	if older {
		for _, g := range gaps {
			// Blamed for an older gap: the suspects the rule without
			// older-gap blame marks for a block ending it.
			a, ok := m.leaderAnswer(g.view, g.parent, false, true)
			if !ok {
				return leaderAnswer{}, false
			}
			for _, s := range a.suspects {
				if m.s.committeeAt(s.view) == com {
					fails = append(fails, s)
				}
			}
		}
	}
	activeAt := func(u model.View) []bool {
		act := make([]bool, com.Size())
		for _, a := range acts {
			if a.view+model.View(p.Lag) < u && a.view+model.View(p.Lag+p.Window) >= u {
				act[a.member] = true
			}
		}
		return act
	}
	// upSince: member i proposed or signed at a view in (lo, hi).
	upSince := func(i int, lo, hi model.View) bool {
		for _, a := range acts {
			if a.member == i && a.view > lo && a.view < hi {
				return true
			}
		}
		return false
	}
	// blamed: failure f weighs on the draw for u (in its window, and not
	// cleared by its suspect alone having been up since).
	blamed := func(f activity, u model.View) bool {
		if f.view >= u || f.view+model.View(p.Window) < u {
			return false
		}
		if f.partner == f.member || u < model.View(p.Lag) {
			return true
		}
		hi := u - model.View(p.Lag)
		return !upSince(f.member, f.view, hi) || upSince(f.partner, f.view, hi)
	}
	marked := make([]bool, com.Size())
	draw := func(u model.View) model.NodeID {
		failed := append([]bool(nil), marked...)
		for _, f := range fails {
			if blamed(f, u) {
				failed[f.member] = true
			}
		}
		var left uint64
		for i, f := range failed {
			if !f {
				left += com.Member(i).Weight
			}
		}
		if 3*left < com.TotalWeight() {
			// Less than a third of the stake is left unmarked: the
			// older-gap marks stop excluding; they divide weights instead
			// (1 + failures in the window).
			per := make([]uint64, len(marked))
			for i := range per {
				per[i] = 1
			}
			for _, f := range fails {
				if blamed(f, u) {
					per[f.member]++
				}
			}
			return drawPenalty(com, u, activeAt(u), marked, p.ActiveFactor, per)
		}
		return drawWeighted(com, u, activeAt(u), failed, p.ActiveFactor)
	}
	var suspects []activity
	for u := parent.View + 1; u < v && inGap; u++ {
		if u+16 < v {
			continue // only the 16 views before v are marked
		}
		// Both draws see the marks of the earlier views only.
		leader, aggregator := draw(u), draw(u+1)
		i, _ := com.Index(leader)
		j, _ := com.Index(aggregator)
		marked[i], marked[j] = true, true
		all := true
		for _, x := range marked {
			all = all && x
		}
		if all { // everyone suspected: start over from this view's two
			for k := range marked {
				marked[k] = false
			}
			marked[i], marked[j] = true, true
		}
		suspects = append(suspects, activity{i, u, j}, activity{j, u, i})
	}
	return leaderAnswer{draw(v), suspects}, true
}

// drawWeighted weighs members for the draw of view u: failed ones 0,
// active ones (scaled) stake × factor, others scaled stake — or everyone
// plain stake when nobody (left) is active or nobody is inactive; with
// everyone failed, the failures are ignored.
func drawWeighted(com *committee.Committee, u model.View, active, failed []bool, factor uint64) model.NodeID {
	nActive, nInactive := 0, 0
	for i := range active {
		switch {
		case failed[i]:
		case active[i]:
			nActive++
		default:
			nInactive++
		}
	}
	if nActive+nInactive == 0 {
		return drawWeighted(com, u, active, make([]bool, len(active)), factor)
	}
	// Scaled stakes: total × factor below 2^62, every member at least 1.
	shift := uint(0)
	for com.TotalWeight()>>shift > (1<<62)/factor {
		shift++
	}
	w := make([]uint64, com.Size())
	for i := range w {
		if failed[i] {
			continue
		}
		w[i] = com.Member(i).Weight
		if nActive > 0 && nInactive > 0 {
			w[i] = max(w[i]>>shift, 1)
			if active[i] {
				w[i] *= factor
			}
		}
	}
	return com.LeaderWeighted(u, w)
}

// drawPenalty is drawWeighted with every weight first scaled by 256 (the
// stakes shifted so that total × factor × 256 stays below 2^62) and then
// divided by per[i], never below 1.
func drawPenalty(com *committee.Committee, u model.View, active, failed []bool, factor uint64, per []uint64) model.NodeID {
	nActive, nInactive := 0, 0
	for i := range active {
		if failed[i] {
			continue
		}
		if active[i] {
			nActive++
		} else {
			nInactive++
		}
	}
	if nActive+nInactive == 0 {
		return drawWeighted(com, u, active, make([]bool, len(active)), factor)
	}
	shift := uint(0)
	for com.TotalWeight()>>shift > (1<<62)/(factor*256) {
		shift++
	}
	w := make([]uint64, com.Size())
	for i := range w {
		if failed[i] {
			continue
		}
		x := max(com.Member(i).Weight>>shift, 1)
		if nActive > 0 && nInactive > 0 && active[i] {
			x *= factor
		}
		w[i] = max(x*256/per[i], 1)
	}
	return com.LeaderWeighted(u, w)
}

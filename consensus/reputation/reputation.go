// Package reputation picks the leader of a view from the stake-weighted
// seed and the recent activity recorded in the proposal's own ancestry, so
// that a crashed or cut-off member stops leading views that can only fail.
//
// The rule (docs/leader-reputation.md has the reasoning):
//
//   - Activity. Walking back from the parent P of a block for view v, every
//     ancestor records that its proposer was active at its view and that
//     each signer of the QC it carries was active at that QC's view. A
//     member is active for view u if it has an activity at a view in
//     [u−Lag−Window, u−Lag). The lag keeps whoever assembled the last QCs
//     from choosing the next leader through the signers it aggregated.
//   - Weights. Active members weigh stake × ActiveFactor, inactive ones
//     stake (stakes scaled down first if the product could overflow). When
//     no member is inactive, or the window holds no activity at all (the
//     chain's first views, a long outage), every member weighs its stake: a
//     healthy network keeps the plain stake-weighted schedule.
//   - Failed views. Views between P's and v have no block on this chain.
//     Each failed because its leader or the leader that was to aggregate
//     the votes for its block was down; the chain cannot tell which, so
//     both are suspects (drawn the same way, oldest first, at most GapViews
//     views) and weigh zero for the next draws. Gaps further down the
//     ancestry count too: a suspect of a failed view in [u−Window, u)
//     weighs zero for view u (no lag: a failure is proven by the TC the
//     next block carries, which no single proposer can forge), unless it
//     alone of the view's two suspects has been active since, which clears
//     it. Older gaps' suspects are computed by this same rule without the
//     older-gap marks, so the definition does not recurse down the whole
//     chain. If the marks leave less than a third of the stake, the
//     older-gap marks stop excluding and divide weights instead (by one
//     plus a member's failures in the window); if this gap's marks cover
//     everyone, they start over from the latest view's suspects.
//
// Everything comes from P's certified ancestry, so every replica, follower
// and monitor that holds it computes the same leader; replicas that extend
// different parents may disagree, which costs a view, never safety.
package reputation

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
)

// GapViews bounds how many failed views before v are drawn and marked: a
// longer gap (an outage) marks its most recent GapViews views only.
const GapViews = 16

// MaxActiveFactor bounds ActiveFactor; weights are scaled so that their
// sum stays below 2^62 whatever the stakes.
const MaxActiveFactor = 1 << 16

// FullVoteEvery and FullVoteGrace: in every FullVoteEvery-th view, a leader
// whose QC lacks some member's vote waits up to FullVoteGrace after
// entering the view for the missing votes before proposing, and folds them
// into the QC it proposes with. An honest member that is merely slower than
// the others (the leader aggregates the first supermajority, so the slowest
// voter is otherwise always missing) thus appears in a QC every few views
// and stays active; a crashed one never does. It costs at most the grace
// every FullVoteEvery views, and nothing while every member votes.
const (
	FullVoteEvery = 8
	FullVoteGrace = 25 * time.Millisecond
)

// MaxWindow bounds the history a lookup walks.
const MaxWindow = 1024

// Params configure reputation. The zero value turns it off: leaders are the
// plain stake-weighted draw, checkable without ancestry.
type Params struct {
	// Window is how many views of history count as recent (0: off).
	Window uint64
	// Lag is how many of the most recent views are left out.
	Lag uint64
	// ActiveFactor is how much more an active member weighs than an
	// inactive one (2..MaxActiveFactor).
	ActiveFactor uint64
}

// Default is what `floe genesis` writes: a crashed member stops counting
// as active 26 views after its last vote (and is passed over for 24 views
// after each view it fails), then leads about one view in 3,000 in a
// committee of four until it votes again. The window holds three
// full-vote views (FullVoteEvery), so a slow member stays active.
func Default() Params { return Params{Window: 24, Lag: 2, ActiveFactor: 1000} }

// Enabled reports whether leaders depend on ancestry.
func (p Params) Enabled() bool { return p.Window > 0 }

// Validate checks the parameters.
func (p Params) Validate() error {
	if !p.Enabled() {
		if p.Lag != 0 || p.ActiveFactor != 0 {
			return errors.New("reputation: lag and factor need a window")
		}
		return nil
	}
	if p.Window > MaxWindow || p.Lag > MaxWindow {
		return fmt.Errorf("reputation: window %d and lag %d must be at most %d", p.Window, p.Lag, MaxWindow)
	}
	if p.Lag < 2 {
		// With a lag below 2 the proposer of the parent block picks, through
		// the QC signers it aggregates, who leads next.
		return fmt.Errorf("reputation: lag %d must be at least 2", p.Lag)
	}
	if p.ActiveFactor < 2 || p.ActiveFactor > MaxActiveFactor {
		return fmt.Errorf("reputation: active factor %d must be in [2, %d]", p.ActiveFactor, MaxActiveFactor)
	}
	return nil
}

// Span is how many views below v a lookup reads: the blocks a replica must
// keep below its finalized block for leaders to stay computable.
func (p Params) Span() uint64 {
	if !p.Enabled() {
		return 0
	}
	// A lookup walks one span; attributing an older gap walks one more
	// below that gap's parent.
	return 2 * (GapViews + p.Lag + p.Window)
}

// span is how far below v one walk reads.
func (p Params) span() model.View { return model.View(GapViews + p.Lag + p.Window) }

// Blocks looks blocks up by ID (nil when unknown): the replica's tree plus
// the recent finalized blocks, a follower's store, a monitor's record.
type Blocks interface {
	Block(id model.Identifier) *model.Block
}

// Leader returns the leader of view v for a block that extends parent.
// Ancestors that blocks does not hold, or that belong to another epoch's
// committee, end the walk (their activity is not counted).
func Leader(sched committee.Schedule, p Params, v model.View, parent *model.Block, blocks Blocks) (model.NodeID, error) {
	return LeaderMemo(sched, p, v, parent, blocks, nil)
}

// LeaderMemo is Leader with memo remembering whom each failed-view gap
// blames, for a caller that looks up many leaders over one chain (every
// lookup whose window holds a gap would otherwise attribute it again). The
// memo assumes that the schedule does not change and that blocks does not
// lose the ancestry of a gap it has attributed; nil: no memo.
func LeaderMemo(sched committee.Schedule, p Params, v model.View, parent *model.Block, blocks Blocks, memo *Memo) (model.NodeID, error) {
	com, err := sched.CommitteeAt(v)
	if err != nil {
		return model.ZeroID, err
	}
	if !p.Enabled() || parent == nil || parent.View >= v {
		return com.Leader(v), nil
	}
	return lookup(sched, com, p, v, parent, blocks, memo), nil
}

// Memo remembers whom the rule blames for each failed-view gap, keyed by
// the gap's parent and the view of the block that ended it. Bounded; not
// safe for concurrent use.
type Memo struct {
	gaps map[gapKey][]blamed
}

type gapKey struct {
	parent model.Identifier
	view   model.View
}

// blamed is one member (canonical index) blamed for a failed view, with
// the other suspect of that view.
type blamed struct {
	view    model.View
	member  int
	partner int
}

// memoSize bounds a Memo: a lookup reads at most ~Span/2 gaps.
const memoSize = 4096

// NewMemo returns an empty memo.
func NewMemo() *Memo { return &Memo{gaps: map[gapKey][]blamed{}} }

// Reset forgets everything (the schedule changed).
func (m *Memo) Reset() { clear(m.gaps) }

// lookup draws the leader of v for a block extending parent. Leaders of
// failed views further down the ancestry (found by the same rule without
// that blame) weigh zero while recent, and so do the leaders of the views
// between parent and v.
func lookup(sched committee.Schedule, com *committee.Committee, p Params, v model.View, parent *model.Block, blocks Blocks, memo *Memo) model.NodeID {
	h, gaps := walk(sched, com, p, v, parent, blocks)
	for _, g := range gaps {
		var key gapKey
		if memo != nil {
			key = gapKey{g.parent.ID(), g.view}
			if bs, ok := memo.gaps[key]; ok {
				for _, b := range bs {
					h.failedAt[b.member] = append(h.failedAt[b.member], failure{b.view, b.partner})
				}
				continue
			}
		}
		before := make([]int, len(h.failedAt))
		for i, f := range h.failedAt {
			before[i] = len(f)
		}
		// Every draw for this gap reads g.parent's ancestry: walk it once,
		// from below the gap's first view. Reading further down than a
		// later view of the gap needs changes nothing, since a draw for u
		// only asks about activity in [u−Lag−Window, u−Lag).
		first := g.parent.View + 1
		gh, _ := walk(sched, com, p, first, g.parent, blocks)
		gh.suspects(g.parent.View, g.view, func(u model.View, leader, aggregator model.NodeID) {
			if c, err := sched.CommitteeAt(u); err == nil && c == com {
				h.blame(u, leader, aggregator)
				h.blame(u, aggregator, leader)
			}
		})
		if memo != nil {
			var bs []blamed
			for i, f := range h.failedAt {
				for _, u := range f[before[i]:] {
					bs = append(bs, blamed{u.view, i, u.partner})
				}
			}
			if len(memo.gaps) >= memoSize {
				clear(memo.gaps)
			}
			memo.gaps[key] = bs
		}
	}
	return h.leader(v, parent.View, true)
}

// leader draws the leader of v for a block extending a parent of view
// parentView, whose ancestry h holds; with gapMarks, the suspects of the
// views between them weigh zero.
func (h *history) leader(v, parentView model.View, gapMarks bool) model.NodeID {
	if !gapMarks {
		return h.draw(v, make([]bool, h.com.Size()))
	}
	return h.draw(v, h.suspects(parentView, v, nil))
}

// suspects marks, view by view from the oldest, the two members that can
// have failed each view of the gap (parentView, v): its leader, drawn
// with the earlier views' suspects marked (the rule itself), and the
// leader that was to aggregate the votes for its block (of the view after
// it, for that block, whose own gap the same suspects mark). A view fails
// when either is down, and the chain cannot tell which: a leader that
// proposed looks like one that did not. Marking only leaders (as this rule
// first did) excludes the live proposers of views whose aggregator is
// dead and concentrates the next draws on the dead: with two of seven
// members down, the simulator saw runs of six failed views. each (nil:
// none) sees every view's two suspects.
func (h *history) suspects(parentView, v model.View, each func(u model.View, leader, aggregator model.NodeID)) []bool {
	n := h.com.Size()
	marked := make([]bool, n)
	for u := gapStart(parentView, v); u < v; u++ {
		leader := h.draw(u, marked)
		aggregator := h.draw(u+1, marked)
		i, _ := h.com.Index(leader) // the draw returns a member
		j, _ := h.com.Index(aggregator)
		marked[i], marked[j] = true, true
		if !slices.Contains(marked, false) {
			// Everyone is a suspect: a long outage, or more down than
			// the rule can tell apart. Start over, passing over this
			// view's suspects only, so a member still never leads two
			// views of the gap in a row.
			clear(marked)
			marked[i], marked[j] = true, true
		}
		if each != nil {
			each(u, leader, aggregator)
		}
	}
	return marked
}

// blame records that member id led (or was to aggregate) the failed view
// u, and partner was the other suspect.
func (h *history) blame(u model.View, id, partner model.NodeID) {
	i, err := h.com.Index(id)
	if err != nil {
		return
	}
	j, err := h.com.Index(partner)
	if err != nil {
		j = i
	}
	h.failedAt[i] = append(h.failedAt[i], failure{u, j})
}

// failure is a failed view of an older gap a member is suspected of, with
// the other suspect of that view (the member itself if it both led and was
// to aggregate).
type failure struct {
	view    model.View
	partner int
}

// counts reports whether failure f of member i weighs on the draw for view
// u: it lies in [u−Window, u) and was not cleared. A view's two suspects
// (its leader and the leader to aggregate its votes) cannot be told apart
// when it fails; the chain tells them apart afterwards. If exactly one of
// them was active since (proposed a block or signed a QC at a view in
// (f, u−Lag)), that one was up and the other is the likely cause: the
// active one is cleared. Without this, every failure caused by a dead
// aggregator also excludes the live proposer for a whole window, and with
// two of seven members down the exclusions soon leave less than a third of
// the stake, which turns exclusion into a mere penalty and lets the dead
// lead again (runs of five failed views in the simulator). If both were
// active since (a member that withholds the QCs it aggregates, then votes
// on), both stay blamed, as before.
func (h *history) counts(i int, f failure, u model.View) bool {
	if f.view >= u || f.view+model.View(h.p.Window) < u {
		return false
	}
	if f.partner == i || u < model.View(h.p.Lag) {
		return true
	}
	hi := u - model.View(h.p.Lag)
	return !h.activeBetween(i, f.view, hi) || h.activeBetween(f.partner, f.view, hi)
}

// activeBetween reports whether member i has an activity at a view in
// (lo, hi).
func (h *history) activeBetween(i int, lo, hi model.View) bool {
	s := h.seen[i] // descending
	k := sort.Search(len(s), func(k int) bool { return s[k] < hi })
	return k < len(s) && s[k] > lo
}

// gapStart is the first view of a gap (parentView, v) whose leader is
// drawn: at most GapViews views before v.
func gapStart(parentView, v model.View) model.View {
	start := parentView + 1
	if v > GapViews && start < v-GapViews {
		start = v - GapViews
	}
	return start
}

// gap is a block of the walk whose parent is more than one view below it.
type gap struct {
	parent *model.Block
	view   model.View
}

// history is the activity of each member (canonical index) as views, in
// descending order as the walk found them.
type history struct {
	com  *committee.Committee
	p    Params
	seen [][]model.View
	any  bool
	// failedAt lists, per member, the failed views of older gaps it is
	// suspected of.
	failedAt [][]failure
}

// walk records the activity in parent's ancestry down to v − span and
// returns it with the gaps it passed (blocks whose parent it holds).
func walk(sched committee.Schedule, com *committee.Committee, p Params, v model.View, parent *model.Block, blocks Blocks) (*history, []gap) {
	n := com.Size()
	h := &history{com: com, p: p, seen: make([][]model.View, n), failedAt: make([][]failure, n)}
	var lowest model.View
	if span := p.span(); v > span {
		lowest = v - span
	}
	var gaps []gap
	same := func(view model.View) bool {
		c, err := sched.CommitteeAt(view)
		return err == nil && c == com
	}
	for b := parent; b != nil && b.View >= lowest && same(b.View); {
		h.record(b.ProposerID, b.View)
		if qc := b.QC; qc != nil && qc.View >= lowest && same(qc.View) && qc.Signers.Size() == n {
			for _, i := range qc.Signers.Indices() {
				h.add(i, qc.View)
			}
		}
		if b.IsRoot() {
			break
		}
		next := blocks.Block(b.ParentID)
		if next != nil && next.View+1 < b.View {
			gaps = append(gaps, gap{parent: next, view: b.View})
		}
		b = next
	}
	// The walk appends in descending view order (a block's QC view lies
	// between its own view and its parent's); sort anyway so the search
	// below never depends on it.
	for _, s := range h.seen {
		if !sort.SliceIsSorted(s, func(a, b int) bool { return s[a] > s[b] }) {
			sort.Slice(s, func(a, b int) bool { return s[a] > s[b] })
		}
	}
	return h, gaps
}

// failedRecently reports whether member i led a failed view of an older
// gap in [u−Window, u).
func (h *history) failedRecently(i int, u model.View) bool {
	for _, f := range h.failedAt[i] {
		if h.counts(i, f, u) {
			return true
		}
	}
	return false
}

func (h *history) record(id model.NodeID, view model.View) {
	if i, err := h.com.Index(id); err == nil {
		h.add(i, view)
	}
}

func (h *history) add(i int, view model.View) {
	h.seen[i] = append(h.seen[i], view)
	h.any = true
}

// active reports whether member i was active in u's window.
func (h *history) active(i int, u model.View) bool {
	if u < model.View(h.p.Lag) {
		return false
	}
	hi := u - model.View(h.p.Lag) // exclusive
	var lo model.View
	if hi > model.View(h.p.Window) {
		lo = hi - model.View(h.p.Window)
	}
	s := h.seen[i]
	// First index whose view is below hi (s is descending).
	k := sort.Search(len(s), func(k int) bool { return s[k] < hi })
	return k < len(s) && s[k] >= lo
}

// draw picks the leader of view u with members marked (in this gap, or
// recently in an older one) left out.
func (h *history) draw(u model.View, marked []bool) model.NodeID {
	n := h.com.Size()
	failed := make([]bool, n)
	var left uint64
	for i := range failed {
		failed[i] = marked[i] || h.failedRecently(i, u)
		if !failed[i] {
			left += h.com.Member(i).Weight
		}
	}
	if 3*left < h.com.TotalWeight() {
		// The marks leave less than a third of the stake, which may all
		// be byzantine: exclusion could hand every view to the one member
		// the marks missed. That happens: a member that withholds the QCs
		// it aggregates makes the honest leaders before it fail too, and
		// the blame for its own views, computed without the older-gap
		// blame, can name someone else. So only the failures of this gap,
		// the surer ones, exclude; the older ones weigh: a member's weight
		// is divided by its failures in the window plus one.
		return h.drawPenalized(u, marked)
	}
	return h.drawWithout(u, failed)
}

// penaltyScale is the resolution of the failure penalty (drawPenalized).
const penaltyScale = 256

// drawPenalized draws with the members marked in this gap left out and
// every other member's weight divided by one plus its older-gap failures
// in u's window.
func (h *history) drawPenalized(u model.View, marked []bool) model.NodeID {
	n := h.com.Size()
	div := make([]uint64, n)
	for i := range div {
		div[i] = 1
		for _, f := range h.failedAt[i] {
			if h.counts(i, f, u) {
				div[i]++
			}
		}
	}
	return h.weighted(u, marked, div)
}

// drawWithout draws with the failed members left out (all of them failed:
// nobody is).
func (h *history) drawWithout(u model.View, failed []bool) model.NodeID {
	return h.weighted(u, failed, nil)
}

// weighted draws with the failed members left out and each other member's
// weight divided by div (nil: by nothing; the activity factor keeps every
// weight at least div, so none rounds down to zero).
func (h *history) weighted(u model.View, failed []bool, div []uint64) model.NodeID {
	n := h.com.Size()
	act := make([]bool, n)
	anyActive, anyInactive := false, false
	for i := 0; i < n; i++ {
		act[i] = h.any && h.active(i, u)
		if failed[i] {
			continue
		}
		if act[i] {
			anyActive = true
		} else {
			anyInactive = true
		}
	}
	// No activity in the window, or no one inactive: plain stake.
	plain := !anyActive || !anyInactive
	factor := h.p.ActiveFactor
	if div != nil {
		// Stakes are scaled up before the division so that it bites on
		// small stakes too (units of 1/penaltyScale).
		factor *= penaltyScale
	}
	shift := scaleShift(h.com.TotalWeight(), factor)
	weights := make([]uint64, n)
	var total uint64
	for i := 0; i < n; i++ {
		if failed[i] {
			continue
		}
		w := h.com.Member(i).Weight
		if !plain || div != nil {
			w = max(w>>shift, 1)
		}
		if !plain && act[i] {
			w *= h.p.ActiveFactor
		}
		if div != nil {
			w = max(w*penaltyScale/div[i], 1)
		}
		weights[i] = w
		total += w
	}
	if total == 0 {
		return h.drawWithout(u, make([]bool, n)) // everyone failed: ignore the marks
	}
	return h.com.LeaderWeighted(u, weights)
}

// scaleShift is how far stakes are shifted right so that the committee's
// total times factor stays below 2^62 (every member keeps at least 1).
func scaleShift(total, factor uint64) uint {
	var shift uint
	for factor > 0 && total>>shift > (1<<62)/factor {
		shift++
	}
	return shift
}

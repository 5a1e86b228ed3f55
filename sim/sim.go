package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
)

// epoch is the wall-clock time simulated time 0 maps to (block timestamps).
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	syncBatchMax   = 64                     // blocks per sync response
	syncRetryAfter = 150 * time.Millisecond // re-ask another peer after this
	syncRetries    = 8
	maxEvents      = 20_000_000 // hard stop, so every run terminates
	traceRing      = 400        // trace lines kept for a violation report
)

type identity struct {
	id        model.NodeID
	key       crypto.PrivateKey
	weight    uint64
	byzantine bool
	instances []int
}

type instance struct {
	idx      int
	member   int // identity index
	slot     int // 0 for a normal replica; 0 or 1 for the two halves of a twin
	core     *consensus.Core
	store    *memStore
	up       bool
	started  bool
	gen      uint64 // bumps on crash: events of an earlier life are void
	timerGen uint64
	payloads *simPayloads
	// lastFinal is the last finalized block this instance reported.
	lastFinal *model.Block
	// finalizedAfterGST is set once it finalizes a block above the GST view.
	finalizedAfterGST bool
}

type sim struct {
	cfg       Config
	rng       *rand.Rand
	sched     scheduler
	now       time.Duration
	ids       []*identity
	insts     []*instance
	committee *committee.Committee // weights and thresholds (the same in every epoch)
	schedule  committee.Schedule
	verifier  *verify.Verifier
	scheme    crypto.Scheme
	genesis   consensus.State

	linkDelay [][]time.Duration
	// Partition state (fault phase only): group[i] per instance, and the set
	// of instances that cannot send out of their group's... see blocked().
	group  []int
	asym   []bool
	attach [][]int // attach[inst][identity] = which twin slot inst hears

	faulty   bool // fault phase active
	gstAt    time.Duration
	gstView  model.View
	faultCap time.Duration
	endCap   time.Duration
	// lastSyncAt is the last time an honest supermajority was within one view.
	lastSyncAt time.Duration
	// lastMaxView is the highest honest view when the network was last
	// considered for a per-view re-draw.
	lastMaxView model.View

	inv   *invariants
	trace *tracer
	res   Result
}

// Run executes one simulated run and reports what it saw.
func Run(cfg Config) Result {
	if err := cfg.validate(); err != nil {
		return Result{Seed: cfg.Seed, Err: err.Error()}
	}
	s, err := newSim(cfg)
	if err != nil {
		return Result{Seed: cfg.Seed, Err: err.Error()}
	}
	s.run()
	return s.res
}

func newSim(cfg Config) (*sim, error) {
	s := &sim{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		trace: newTracer(cfg.Trace),
	}
	s.res.Seed = cfg.Seed
	s.scheme = crypto.Fast()
	if cfg.BLS {
		s.scheme = crypto.BLS()
	}
	members := make([]committee.Member, cfg.Nodes)
	for i := 0; i < cfg.Nodes; i++ {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, s.rng.Uint64())
		binary.BigEndian.PutUint64(seed[8:], uint64(i))
		key, err := s.scheme.KeyFromSeed(seed)
		if err != nil {
			return nil, err
		}
		w := uint64(1)
		if cfg.Weighted {
			w = 1 + s.rng.Uint64N(10)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		idt := &identity{id: id, key: key, weight: w, byzantine: i < cfg.Twins}
		if idt.byzantine {
			idt.weight = 1 // twins stay within the fault bound even when weighted
		}
		s.ids = append(s.ids, idt)
		pop, err := key.ProvePossession()
		if err != nil {
			return nil, err
		}
		members[i] = committee.Member{ID: id, Weight: idt.weight, StakingKey: key.PublicKey(), Possession: pop}
	}
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], cfg.Seed)
	c, err := committee.New(members, seed)
	if err != nil {
		return nil, err
	}
	if tw := uint64(cfg.Twins); 3*tw >= c.TotalWeight() && cfg.Twins > 0 {
		return nil, fmt.Errorf("sim: twin weight %d is not below a third of %d", tw, c.TotalWeight())
	}
	s.committee = c
	var schedule committee.Schedule = c
	if cfg.EpochViews > 0 {
		es := &epochSchedule{views: model.View(cfg.EpochViews)}
		for k := 0; k < simEpochCommittees; k++ {
			var es32 [32]byte
			binary.BigEndian.PutUint64(es32[:], cfg.Seed)
			binary.BigEndian.PutUint64(es32[8:], uint64(k))
			ec, err := committee.New(members, crypto.Sum(es32[:]))
			if err != nil {
				return nil, err
			}
			es.committees = append(es.committees, ec)
		}
		schedule = es
	}
	s.schedule = schedule
	root, err := model.NewRootBlock(0, 0, epoch.UnixMilli(), []byte("floe-sim-genesis"))
	if err != nil {
		return nil, err
	}
	rootQC, err := model.NewRootQC(0, root.ID(), c.Size())
	if err != nil {
		return nil, err
	}
	s.verifier = verify.New(schedule, s.scheme, rootQC)
	s.genesis = consensus.GenesisState(root, rootQC)

	for mi, idt := range s.ids {
		slots := 1
		if idt.byzantine {
			slots = 2
		}
		for slot := 0; slot < slots; slot++ {
			in := &instance{idx: len(s.insts), member: mi, slot: slot}
			in.store = newMemStore(s.genesis)
			in.lastFinal = root
			in.payloads = &simPayloads{tag: uint16(in.idx)}
			idt.instances = append(idt.instances, in.idx)
			s.insts = append(s.insts, in)
		}
	}
	n := len(s.insts)
	s.linkDelay = make([][]time.Duration, n)
	for i := range s.linkDelay {
		s.linkDelay[i] = make([]time.Duration, n)
		for j := range s.linkDelay[i] {
			s.linkDelay[i][j] = time.Duration(1 + s.rng.Int64N(int64(cfg.LinkDelayMax)))
		}
	}
	s.group = make([]int, n)
	s.asym = make([]bool, n)
	s.attach = make([][]int, n)
	for i := range s.attach {
		s.attach[i] = make([]int, len(s.ids))
	}
	s.shuffleAttachments()
	s.inv = newInvariants(s)
	return s, nil
}

func (s *sim) run() {
	s.faulty = true
	// The fault phase lasts until an honest replica is halfway to the view
	// target, or until a cap that gives faults time to bite.
	s.faultCap = time.Duration(s.cfg.Views/2) * 4 * s.cfg.Timeouts.Min
	if s.faultCap < 3*time.Second {
		s.faultCap = 3 * time.Second
	}
	for _, in := range s.insts {
		at := time.Duration(0)
		if s.cfg.Stagger {
			at = time.Duration(s.rng.Int64N(int64(2 * time.Second)))
		}
		s.sched.push(&event{at: at, kind: evStart, inst: in.idx})
	}
	if s.cfg.Partitions || s.cfg.Twins > 0 {
		s.sched.push(&event{at: s.nextNetChange(), kind: evNetChange})
	}
	if s.cfg.Crashes {
		s.sched.push(&event{at: s.nextCrash(), kind: evCrash, inst: -1})
	}
	for steps := 0; ; steps++ {
		if steps >= maxEvents {
			s.liveness("run exceeded %d events", maxEvents)
			break
		}
		e := s.sched.pop()
		if e == nil {
			s.liveness("event queue drained at %v", s.now)
			break
		}
		s.now = e.at
		s.handle(e)
		if len(s.res.SafetyViolations) > 0 {
			break
		}
		if s.faulty && (s.cfg.Partitions || s.cfg.Twins > 0) {
			// Besides timed changes, re-draw the network as views advance, so
			// partitions line up with protocol rounds the way twins scenarios
			// do: a leader that just formed a QC gets cut off, and so on.
			if v := s.maxHonestView(); v != s.lastMaxView {
				s.lastMaxView = v
				if s.rng.Float64() < 0.3 {
					s.redrawNetwork()
				}
			}
		}
		if s.faulty && (s.maxHonestView() >= model.View(s.cfg.Views/2) || s.now >= s.faultCap) {
			s.stabilize()
		}
		if !s.faulty {
			if done := s.checkProgress(); done {
				break
			}
		}
	}
	s.finishResult()
}

// stabilize ends the fault phase: GST. Partitions heal, loss and
// duplication stop, every crashed or not-yet-started replica comes up. The
// twins stay byzantine.
func (s *sim) stabilize() {
	s.faulty = false
	s.gstAt = s.now
	s.gstView = s.maxHonestView()
	s.endCap = s.now + time.Duration(s.cfg.LivenessViews)*s.cfg.Timeouts.Max
	for i := range s.group {
		s.group[i] = 0
		s.asym[i] = false
	}
	s.trace.add(s.now, "GST: network stable from view %d", s.gstView)
	for _, in := range s.insts {
		if !in.up {
			s.startInstance(in)
		}
	}
}

// checkProgress enforces liveness after GST and reports whether the run is
// complete.
func (s *sim) checkProgress() bool {
	allFinal := true
	for _, in := range s.insts {
		if s.ids[in.member].byzantine {
			continue
		}
		if in.lastFinal.View > s.gstView {
			in.finalizedAfterGST = true
		}
		if !in.finalizedAfterGST {
			allFinal = false
		}
	}
	maxView := s.maxHonestView()
	if !allFinal && maxView > s.gstView+model.View(s.cfg.LivenessViews) {
		s.liveness("honest replicas did not all finalize within %d views after GST (GST view %d, now view %d)",
			s.cfg.LivenessViews, s.gstView, maxView)
		return true
	}
	if !allFinal && s.now > s.endCap {
		s.liveness("honest replicas did not all finalize within %v after GST", s.endCap-s.gstAt)
		return true
	}
	// View synchronization: once everyone finalized again, honest replicas
	// holding a supermajority of weight must keep meeting within one view.
	// Messages in flight spread views briefly (a leader runs a view ahead
	// of a slow link), so the check allows gaps up to one maximum timeout.
	if allFinal {
		if views, ok := s.viewSync(); ok {
			s.lastSyncAt = s.now
		} else if s.now-s.lastSyncAt > s.cfg.Timeouts.Max {
			s.liveness("no honest supermajority within one view for %v: %v", s.now-s.lastSyncAt, views)
			return true
		}
	} else {
		s.lastSyncAt = s.now
	}
	return allFinal && maxView >= model.View(s.cfg.Views)
}

// viewSync reports whether honest replicas holding a supermajority of weight
// are within one view of each other, and the weight per view.
func (s *sim) viewSync() (map[model.View]uint64, bool) {
	views := map[model.View]uint64{}
	for _, idt := range s.ids {
		if idt.byzantine {
			continue
		}
		in := s.insts[idt.instances[0]]
		views[in.core.CurrentView()] += idt.weight
	}
	for v, w := range views {
		if w+views[v+1] >= s.committee.SupermajorityThreshold() {
			return views, true
		}
	}
	return views, false
}

func (s *sim) maxHonestView() model.View {
	var m model.View
	for _, in := range s.insts {
		if in.core != nil && !s.ids[in.member].byzantine && in.core.CurrentView() > m {
			m = in.core.CurrentView()
		}
	}
	return m
}

func (s *sim) liveness(format string, args ...any) {
	if s.res.LivenessFailure == "" {
		s.res.LivenessFailure = fmt.Sprintf(format, args...)
		s.res.Trace = s.trace.lines()
	}
}

func (s *sim) finishResult() {
	s.res.MaxView = uint64(s.maxHonestView())
	var minFinal uint64 = 1<<63 - 1
	for _, in := range s.insts {
		if s.ids[in.member].byzantine {
			continue
		}
		if in.lastFinal.Height < minFinal {
			minFinal = in.lastFinal.Height
		}
	}
	s.res.MinFinalizedHeight = minFinal
	s.res.SimulatedTime = s.now
}

// --- event handling ----------------------------------------------------------

func (s *sim) handle(e *event) {
	switch e.kind {
	case evStart:
		if !s.insts[e.inst].started {
			s.startInstance(s.insts[e.inst])
		}
	case evRestart:
		in := s.insts[e.inst]
		if !in.up && e.gen == in.gen {
			s.startInstance(in)
		}
	case evCrash:
		s.randomCrash()
	case evNetChange:
		s.changeNetwork()
	case evTimer:
		in := s.insts[e.inst]
		if in.up && e.gen == in.gen && e.n == int(in.timerGen) {
			s.step(in, consensus.TimerEvent{}, "timer")
		}
	case evDeliver:
		in := s.insts[e.inst]
		if in.up && e.gen == in.gen {
			s.deliver(in, e.wire)
		}
	case evSyncRetry:
		in := s.insts[e.inst]
		if in.up && e.gen == in.gen && in.core.Block(e.id) == nil && in.store.blocks[e.id] == nil && e.n < syncRetries {
			s.requestBlock(in, e.id, e.n+1)
		}
	}
}

func (s *sim) startInstance(in *instance) {
	idt := s.ids[in.member]
	cfg := consensus.Config{
		Self: idt.id, Key: idt.key, Scheme: s.scheme, Schedule: s.schedule,
		Timeouts: s.cfg.Timeouts, Payloads: in.payloads,
	}
	if !idt.byzantine {
		cfg.Faults = s.cfg.Faults
	}
	st := in.store.state()
	if s.cfg.ForgetSafetyData && !idt.byzantine {
		st.Safety = s.genesis.Safety
	}
	core, err := consensus.New(cfg, st)
	if err != nil {
		s.violation(in, "restart from persisted state failed: %v", err)
		return
	}
	in.core, in.up, in.started = core, true, true
	in.gen++
	s.trace.add(s.now, "n%d starts in view %d (finalized h%d)", in.idx, core.CurrentView(), in.store.root.Height)
	out, err := core.Start(epoch.Add(s.now))
	s.apply(in, out, err)
}

func (s *sim) crash(in *instance) {
	if !in.up {
		return
	}
	in.up = false
	in.core = nil
	in.gen++
	down := 50*time.Millisecond + time.Duration(s.rng.Int64N(int64(1500*time.Millisecond)))
	s.trace.add(s.now, "n%d crashes, down for %v", in.idx, down)
	s.sched.push(&event{at: s.now + down, kind: evRestart, inst: in.idx, gen: in.gen})
}

func (s *sim) step(in *instance, ev consensus.Event, what string) {
	s.trace.add(s.now, "n%d (v%d) ← %s", in.idx, in.core.CurrentView(), what)
	out, err := in.core.Step(epoch.Add(s.now), ev)
	s.apply(in, out, err)
}

// apply is the adapter half of the simulator: persist, then send.
func (s *sim) apply(in *instance, out consensus.Output, err error) {
	honest := !s.ids[in.member].byzantine
	if err != nil && consensus.IsFatal(err) {
		if honest {
			s.violation(in, "fatal error: %v", err)
		}
		s.crash(in)
		return
	}
	in.store.persist(&out)
	for _, b := range out.Finalized {
		s.inv.finalized(in, b)
		in.lastFinal = b
	}
	if len(out.Finalized) > 0 {
		s.trace.add(s.now, "n%d finalized up to h%d v%d %v", in.idx, in.lastFinal.Height, in.lastFinal.View, in.lastFinal.ID())
	}
	for _, ev := range out.Evidence {
		s.res.Evidence++
		s.trace.add(s.now, "n%d evidence: %v", in.idx, ev)
	}
	// A crash between persisting and sending: everything persisted survives,
	// messages not yet sent are lost. Safety must hold anyway.
	msgs := out.Messages
	crashMidway := s.faulty && s.cfg.Crashes && len(msgs) > 0 && s.rng.Float64() < 0.01
	if crashMidway {
		msgs = msgs[:s.rng.IntN(len(msgs))]
	}
	for _, m := range out.Messages {
		if honest {
			s.inv.signed(in, m) // every signature counts, sent or not
		}
	}
	for _, m := range msgs {
		s.send(in, m)
	}
	if crashMidway {
		s.crash(in)
		return
	}
	for _, id := range out.Fetch {
		s.requestBlock(in, id, 0)
	}
	if !out.NextTimer.IsZero() {
		in.timerGen++
		at := out.NextTimer.Sub(epoch)
		if at < s.now {
			at = s.now
		}
		s.sched.push(&event{at: at, kind: evTimer, inst: in.idx, gen: in.gen, n: int(in.timerGen)})
	}
}

func (s *sim) deliver(in *instance, w *wire) {
	switch {
	case w.syncReq != nil:
		blocks := in.store.ancestry(w.syncReq.id, w.syncReq.haveView, syncBatchMax)
		if len(blocks) > 0 {
			s.transmit(in.idx, w.from, &wire{from: in.idx, syncResp: blocks}, false)
		}
	case w.syncResp != nil:
		for _, b := range w.syncResp {
			if err := s.verifier.Block(b); err != nil {
				s.trace.add(s.now, "n%d rejects synced block: %v", in.idx, err)
				return
			}
		}
		s.step(in, consensus.BlocksEvent{Blocks: w.syncResp}, fmt.Sprintf("%d synced blocks from n%d", len(w.syncResp), w.from))
	default:
		m := w.msg
		var (
			ev   consensus.Event
			err  error
			what string
		)
		switch {
		case m.Proposal != nil:
			err = s.verifier.Proposal(m.Proposal)
			ev, what = consensus.ProposalEvent{Proposal: m.Proposal}, fmt.Sprintf("proposal v%d %v from n%d", m.Proposal.Block.View, m.Proposal.Block.ID(), w.from)
		case m.Vote != nil:
			err = s.verifier.Vote(m.Vote)
			ev, what = consensus.VoteEvent{Vote: m.Vote}, fmt.Sprintf("vote v%d %v from n%d", m.Vote.View, m.Vote.BlockID, w.from)
		case m.Timeout != nil:
			err = s.verifier.Timeout(m.Timeout)
			ev, what = consensus.TimeoutEvent{Timeout: m.Timeout}, fmt.Sprintf("timeout v%d (qc %d) from n%d", m.Timeout.View, m.Timeout.NewestQC.View, w.from)
		case m.QC != nil:
			err = s.verifier.QC(m.QC)
			if err == nil && m.TC != nil {
				err = s.verifier.TC(m.TC)
			}
			ev, what = consensus.CertificateEvent{QC: m.QC, TC: m.TC}, fmt.Sprintf("sync info qc %d from n%d", m.QC.View, w.from)
		default:
			s.violation(in, "empty message from n%d", w.from)
			return
		}
		if err != nil {
			// Every sender in the simulator signs honestly, so a message that
			// fails verification is a bug in the signing or the checking.
			s.violation(in, "valid-looking %s failed verification: %v", what, err)
			return
		}
		s.step(in, ev, what)
	}
}

// --- network -----------------------------------------------------------------

func (s *sim) send(from *instance, m consensus.Message) {
	idt := s.ids[from.member]
	if m.Proposal != nil && idt.byzantine {
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
		sig, serr := idt.key.Sign(crypto.DomainProposal, model.ProposalMessage(alt.ID()))
		var altP *model.Proposal
		if serr == nil {
			altP, err = model.NewProposal(alt, sig)
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

func (s *sim) requestBlock(in *instance, id model.Identifier, tries int) {
	var candidates []int
	for _, other := range s.insts {
		if s.ids[other.member].id != s.ids[in.member].id {
			candidates = append(candidates, other.idx)
		}
	}
	if len(candidates) == 0 {
		return
	}
	to := candidates[s.rng.IntN(len(candidates))]
	s.transmit(in.idx, to, &wire{from: in.idx, syncReq: &syncRequest{id: id, haveView: in.store.root.View}}, false)
	s.sched.push(&event{at: s.now + syncRetryAfter, kind: evSyncRetry, inst: in.idx, gen: in.gen, id: id, n: tries})
}

// transmit puts one message on the link from→to, subject to partitions,
// twin attachment, loss, duplication and delay.
func (s *sim) transmit(from, to int, w *wire, consensusTraffic bool) {
	if s.blocked(from, to) {
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

// blocked reports whether from cannot reach to right now.
func (s *sim) blocked(from, to int) bool {
	a, b := s.insts[from], s.insts[to]
	// Twins: an honest instance hears exactly one half of each twin pair.
	if ia, ib := s.ids[a.member], s.ids[b.member]; ia.byzantine != ib.byzantine {
		if ia.byzantine && s.attach[to][a.member] != a.slot {
			return true
		}
		if ib.byzantine && s.attach[from][b.member] != b.slot {
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
			if idt.byzantine {
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

func (s *sim) violation(in *instance, format string, args ...any) {
	msg := fmt.Sprintf("t=%v n%d: %s", s.now, in.idx, fmt.Sprintf(format, args...))
	s.trace.add(s.now, "VIOLATION %s", msg)
	s.res.SafetyViolations = append(s.res.SafetyViolations, msg)
	if s.res.Trace == nil {
		s.res.Trace = s.trace.lines()
	}
}

// simEpochCommittees is how many distinct committees an epoch schedule
// cycles through.
const simEpochCommittees = 4

// epochSchedule gives views in epochs of a fixed length, cycling through
// committees that share members and weights but not leader seeds.
type epochSchedule struct {
	views      model.View
	committees []*committee.Committee
}

func (e *epochSchedule) CommitteeAt(v model.View) (*committee.Committee, error) {
	return e.committees[int(v/e.views)%len(e.committees)], nil
}

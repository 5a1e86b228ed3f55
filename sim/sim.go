package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
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

// role is what an identity does in a run.
type role uint8

const (
	roleHonest role = iota
	// roleTwin: byzantine, run as two honest instances sharing one key.
	roleTwin
	// roleAdversary: byzantine, one instance whose traffic an adversary
	// rewrites and adds to (adversary.go).
	roleAdversary
	// roleSilent: honest until GST, then down for good.
	roleSilent
	// roleCrashed: honest, down from the start and never up.
	roleCrashed
	// roleBadLeader: byzantine, in a cluster run: proposes invalid
	// collections and accepts any (collections.go).
	roleBadLeader
)

type identity struct {
	id        model.NodeID
	key       crypto.PrivateKey
	role      role
	instances []int
}

// byzantine reports whether the identity may break the protocol; every
// other identity's replicas are checked by the invariants and monitors.
func (i *identity) byzantine() bool {
	return i.role == roleTwin || i.role == roleAdversary || i.role == roleBadLeader
}

type instance struct {
	idx      int
	member   int             // identity index
	slot     int             // 0 for a normal replica; 0 or 1 for the two halves of a twin
	core     *consensus.Core // eng's core, for reads; nil while down
	eng      *replica.Engine // the only thing that steps core
	sync     *replica.Sync[int]
	store    *memStore
	up       bool
	started  bool
	gen      uint64 // bumps on crash: events of an earlier life are void
	timerGen uint64
	payloads *simPayloads
	pool     txPool // offered transactions (under load)
	// validated are blocks whose payload passed Validate in this life and
	// are not finalized yet (load.go's chain walk).
	validated map[model.Identifier]*model.Block
	repeatTxs bool // Config.RepeatTxs, for honest instances
	// lastFinal is the last finalized block this instance reported.
	lastFinal *model.Block
	// finalizedAfterGST is set once it finalizes a block above the GST view.
	finalizedAfterGST bool
	adv               *adversary // set for roleAdversary
	// col is the cluster-chain state of this life (cluster runs), mainLag
	// how far behind the main chain it sees.
	col     *colReplica
	mainLag time.Duration
}

type sim struct {
	cfg              Config
	load             *loadState // nil without Config.Load, or in a cluster run
	main             *simMain   // cluster runs
	col              *colLoad   // cluster runs
	chain            model.ChainID
	rng              *rand.Rand
	sched            scheduler
	now              time.Duration
	ids              []*identity
	insts            []*instance
	genesisCommittee *committee.Committee
	schedule         committee.Schedule
	verifier         *verify.Verifier
	// honestVerifier checks what honest replicas receive (with the test's
	// VerifyFaults); lenientVerifier skips the leader check so that half of
	// the non-leader proposals reach the cores, whose own check must hold.
	honestVerifier, lenientVerifier *verify.Verifier
	scheme                          crypto.Scheme
	genesis                         consensus.State
	rootQC                          *model.QC

	linkDelay [][]time.Duration
	// Partition state (fault phase only): group[i] per instance; asym[i]
	// instances can receive but not send out of ... see blocked().
	group  []int
	asym   []bool
	attach [][]int // attach[inst][identity] = which twin slot inst hears

	faulty   bool // fault phase active
	gstAt    time.Duration
	gstView  model.View
	gstFinal uint64 // highest honest finalized height at GST
	faultCap time.Duration
	endCap   time.Duration
	// lastSyncAt is the last time an honest supermajority was within one view.
	lastSyncAt time.Duration
	// lastMaxView is the highest honest view when the network was last
	// considered for a per-view re-draw.
	lastMaxView model.View
	// lastViewChangeAt is when the highest honest view last changed
	// (scenarios end a round that cannot).
	lastViewChangeAt time.Duration
	// Event budget: events in the current simulated second, and events in
	// a row at the current instant.
	second, secondEvents int
	stillEvents          int

	// certifiedViews holds every view a QC certified, as honest replicas
	// saw them (failed-view accounting).
	certifiedViews map[model.View]bool

	inv   *invariants
	mon   *monitor
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
	if cfg.Scenario == nil && cfg.ScenarioRounds > 0 {
		cfg.Scenario = GenerateScenario(cfg.Nodes, cfg.Twins, cfg.ScenarioRounds, cfg.Seed)
	}
	if cfg.Scenario != nil {
		// A scenario is the whole fault model: no random faults on top.
		// Adversaries may join the twins (their attacks draw from the seed).
		cfg.Loss, cfg.Dup, cfg.Partitions, cfg.Crashes, cfg.Stagger = 0, 0, false, false, false
		cfg.Silent = 0
		if err := cfg.Scenario.validate(cfg.Nodes, cfg.Twins); err != nil {
			return nil, err
		}
	}
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
	for i := 0; i < cfg.Nodes; i++ {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, s.rng.Uint64())
		binary.BigEndian.PutUint64(seed[8:], uint64(i))
		key, err := s.scheme.KeyFromSeed(seed)
		if err != nil {
			return nil, err
		}
		idt := &identity{id: crypto.Sum(key.PublicKey().Bytes()), key: key}
		switch {
		case i < cfg.Twins:
			idt.role = roleTwin
		case i < cfg.Twins+cfg.Byzantine:
			idt.role = roleAdversary
		case i < cfg.Twins+cfg.Byzantine+cfg.Silent:
			idt.role = roleSilent
		case i < cfg.Twins+cfg.Byzantine+cfg.Silent+cfg.Crashed:
			idt.role = roleCrashed
		case i < cfg.Twins+cfg.Byzantine+cfg.Silent+cfg.Crashed+cfg.BadLeaders:
			idt.role = roleBadLeader
		}
		s.ids = append(s.ids, idt)
	}
	if cfg.Cluster {
		s.main = newSimMain(s)
	}
	if err := s.buildSchedule(); err != nil {
		return nil, err
	}
	chain, rootPayload := model.MainChain("floe-sim"), []byte("floe-sim-genesis")
	if cfg.Cluster {
		// A cluster chain of the simulated main chain's epoch 1, whose
		// root carries no collection, as the collection role's.
		chain, rootPayload = model.ClusterChain(chain, 1, clusterIndex), nil
	}
	root, err := model.NewRootBlock(chain, 0, 0, epoch.UnixMilli(), rootPayload)
	if err != nil {
		return nil, err
	}
	rootQC, err := model.NewRootQC(0, root.ID(), s.genesisCommittee.Size())
	if err != nil {
		return nil, err
	}
	s.rootQC, s.chain = rootQC, root.ChainID
	s.verifier = verify.New(root.ChainID, s.schedule, s.scheme, rootQC)
	if cfg.Reputation.Enabled() {
		s.verifier = s.verifier.LeadersFromAncestry()
	}
	s.honestVerifier = s.verifier.WithFaults(cfg.VerifyFaults)
	lenient := cfg.VerifyFaults
	lenient.SkipLeaderCheck = true
	s.lenientVerifier = s.verifier.WithFaults(lenient)
	s.genesis = consensus.GenesisState(root, rootQC)

	for mi, idt := range s.ids {
		slots := 1
		if idt.role == roleTwin {
			slots = 2
		}
		for slot := 0; slot < slots; slot++ {
			in := &instance{idx: len(s.insts), member: mi, slot: slot}
			in.store = newMemStore(s.genesis)
			in.lastFinal = root
			in.payloads = &simPayloads{tag: uint16(in.idx), in: in}
			if cfg.Cluster {
				in.mainLag = time.Duration(s.rng.Int64N(int64(mainLagMax)))
			} else if cfg.Load > 0 {
				in.payloads.maxTxs = cfg.MaxBlockTxs
				in.repeatTxs = cfg.RepeatTxs
			}
			idt.instances = append(idt.instances, in.idx)
			s.insts = append(s.insts, in)
			if idt.role == roleAdversary {
				in.adv = newAdversary(s, in)
			}
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
	// Slow replicas: the last cfg.Slow honest identities, every link to or
	// from them ten times the largest delay.
	slow := 0
	for mi := len(s.ids) - 1; mi >= 0 && slow < cfg.Slow; mi-- {
		if s.ids[mi].role != roleHonest {
			continue
		}
		slow++
		for _, i := range s.ids[mi].instances {
			for j := range s.insts {
				s.linkDelay[i][j] = 10 * cfg.LinkDelayMax
				s.linkDelay[j][i] = 10 * cfg.LinkDelayMax
			}
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
	s.certifiedViews = make(map[model.View]bool)
	if !cfg.NoMonitors {
		s.mon = newMonitor(s)
	}
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
	if sc := s.cfg.Scenario; sc != nil {
		// A scenario's fault phase is its rounds; it ends when an honest
		// replica leaves the last one.
		s.faultCap = time.Duration(len(sc.Rounds)+2) * 4 * s.cfg.Timeouts.Max
	}
	for _, in := range s.insts {
		at := time.Duration(0)
		if s.cfg.Stagger {
			at = time.Duration(s.rng.Int64N(int64(2 * time.Second)))
		}
		s.sched.push(&event{at: at, kind: evStart, inst: in.idx})
	}
	if s.cfg.Scenario == nil && (s.cfg.Partitions || s.cfg.Twins > 0) {
		s.sched.push(&event{at: s.nextNetChange(), kind: evNetChange})
	}
	if s.cfg.Crashes {
		s.sched.push(&event{at: s.nextCrash(), kind: evCrash, inst: -1})
	}
	switch {
	case s.cfg.Cluster:
		s.startCluster()
	case s.cfg.Load > 0:
		s.load = newLoadState()
		s.sched.push(&event{at: 0, kind: evLoad})
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
		if s.overBudget(e.at) {
			break
		}
		s.now = e.at
		s.handle(e)
		if len(s.res.SafetyViolations) > 0 {
			break
		}
		if s.faulty && s.cfg.Scenario != nil {
			s.scenarioRestarts()
		}
		if s.faulty && s.cfg.Scenario == nil && (s.cfg.Partitions || s.cfg.Twins > 0) {
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
		if s.faulty && s.faultPhaseOver() {
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

// scenarioRestarts crashes the instances a scenario round restarts, once,
// when an honest replica first enters the round's view.
func (s *sim) scenarioRestarts() {
	v := s.maxHonestView()
	if v == s.lastMaxView {
		return
	}
	s.lastMaxView, s.lastViewChangeAt = v, s.now
	if v == 0 || int(v) > len(s.cfg.Scenario.Rounds) {
		return
	}
	for _, i := range s.cfg.Scenario.Rounds[v-1].Restart {
		s.crashFor(s.insts[i], 20*time.Millisecond)
	}
}

// overBudget fails a run that livelocks: too many events in one simulated
// second, or too many at one instant (simulated time standing still).
func (s *sim) overBudget(at time.Duration) bool {
	if at == s.now {
		s.stillEvents++
	} else {
		s.stillEvents = 0
	}
	if sec := int(at / time.Second); sec != s.second {
		s.second, s.secondEvents = sec, 0
	}
	s.secondEvents++
	switch {
	case s.stillEvents > s.cfg.StallEvents:
		s.liveness("livelock: %d events in a row at simulated time %v (time stands still)", s.stillEvents, at)
	case s.secondEvents > s.cfg.EventBudgetPerSecond:
		s.liveness("livelock: more than %d events in simulated second %d", s.cfg.EventBudgetPerSecond, s.second)
	default:
		return false
	}
	return true
}

func (s *sim) faultPhaseOver() bool {
	if s.now >= s.faultCap {
		return true
	}
	if sc := s.cfg.Scenario; sc != nil {
		// A round whose partition leaves no quorum anywhere never ends;
		// like Twins, the scenario then ends there (and the network heals).
		return s.maxHonestView() > model.View(len(sc.Rounds)) || s.now-s.lastViewChangeAt > 3*s.cfg.Timeouts.Max
	}
	return s.maxHonestView() >= model.View(s.cfg.Views/2)
}

// stabilize ends the fault phase: GST. Partitions heal, loss and
// duplication stop, every crashed or not-yet-started replica comes up —
// except the silent ones, which go down for good. Byzantine identities
// stay byzantine.
func (s *sim) stabilize() {
	s.faulty = false
	s.gstAt = s.now
	s.gstView = s.maxHonestView()
	s.gstFinal = s.maxHonestFinal()
	s.lastSyncAt = s.now
	s.endCap = s.now + time.Duration(s.livenessViews())*s.cfg.Timeouts.Max
	for i := range s.group {
		s.group[i] = 0
		s.asym[i] = false
	}
	s.trace.add(s.now, "GST: network stable from view %d", s.gstView)
	for _, in := range s.insts {
		switch {
		case s.ids[in.member].role == roleSilent:
			s.crash(in)
			s.trace.add(s.now, "n%d is silent from now on", in.idx)
		case !in.up:
			s.startInstance(in)
		}
	}
}

// active reports whether an instance must make progress after GST.
func (s *sim) active(in *instance) bool {
	return s.ids[in.member].role == roleHonest
}

// checkProgress enforces liveness after GST and reports whether the run is
// complete.
func (s *sim) checkProgress() bool {
	allFinal := true
	for _, in := range s.insts {
		if !s.active(in) {
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
	if !allFinal && maxView > s.gstView+model.View(s.livenessViews()) {
		s.liveness("honest replicas did not all finalize within %d views after GST (GST view %d, now view %d)",
			s.livenessViews(), s.gstView, maxView)
		return true
	}
	if !allFinal && s.now > s.endCap {
		s.liveness("honest replicas did not all finalize within %v after GST", s.endCap-s.gstAt)
		return true
	}
	// View synchronization: once everyone finalized again, honest replicas
	// holding a supermajority of weight must keep meeting within one view.
	// A byzantine leader can withhold its proposal, and the QC inside it,
	// from one honest replica; that replica learns the QC only when its
	// own timer fires (at most one maximum timeout) and a peer answers its
	// timeout with sync info (a round trip). The check allows exactly that
	// (seed 2315 of the 4-node twins soak was a 2.02 s gap: a 2 s timer and
	// a 20 ms round trip).
	if allFinal {
		if views, ok := s.viewSync(); ok {
			s.lastSyncAt = s.now
		} else if s.now-s.lastSyncAt > s.viewSyncBound() {
			s.liveness("no honest supermajority within one view for %v: %v", s.now-s.lastSyncAt, views)
			return true
		}
	} else {
		s.lastSyncAt = s.now
	}
	if allFinal && maxView >= model.View(s.cfg.Views) {
		s.checkRate()
		if s.res.LivenessFailure == "" {
			if s.col != nil {
				s.checkCollections()
			} else {
				s.checkTxs()
			}
		}
		return true
	}
	return false
}

// livenessViews is the window after GST in which every active honest
// replica must finalize. Finality needs three honest leaders in a row
// (propose, certify, certify the child), and silent members keep leading
// their share of views, so the window grows with them: with one silent
// member of four, no such run in 30 views has probability 2.7·10⁻⁴ (one
// seed in a thousand failed so), in 60 views 4.8·10⁻⁸.
func (s *sim) livenessViews() int { return s.cfg.LivenessViews * (1 + s.cfg.Silent + s.cfg.Crashed) }

// viewSyncBound is how long honest replicas may stay out of step.
func (s *sim) viewSyncBound() time.Duration {
	return s.cfg.Timeouts.Max + 10*s.cfg.LinkDelayMax
}

// checkRate fails a run whose finalization after GST was slower than the
// configured rate.
func (s *sim) checkRate() {
	views := uint64(s.maxHonestView() - s.gstView)
	blocks := s.minActiveFinal() - min(s.gstFinal, s.minActiveFinal())
	s.res.ViewsAfterGST, s.res.BlocksAfterGST = views, blocks
	// A view failed when no QC for it exists: its leader's block was never
	// certified (dead, slow or byzantine leader, or a view cut short).
	var run uint64
	for v := s.gstView + 1; v < s.maxHonestView(); v++ {
		if s.certifiedViews[v] {
			run = 0
			continue
		}
		s.res.FailedViewsAfterGST++
		run++
		s.res.LongestFailedRun = max(s.res.LongestFailedRun, run)
	}
	if s.cfg.MaxFailedViews > 0 {
		// Views whose leader was drawn from a window still holding activity
		// from before GST are left out: reputation cannot know yet.
		from := s.gstView + model.View(s.cfg.Reputation.Span()) + 1
		var n, failed uint64
		for v := from; v < s.maxHonestView(); v++ {
			n++
			if !s.certifiedViews[v] {
				failed++
			}
		}
		if n >= 100 && float64(failed) > s.cfg.MaxFailedViews*float64(n) {
			s.liveness("%d of %d views failed once the reputation window filled: above %.3f", failed, n, s.cfg.MaxFailedViews)
		}
	}
	if views > 0 && float64(blocks) < s.cfg.MinBlocksPerView*float64(views) {
		s.liveness("finalized %d blocks in %d views after GST: below %.2f blocks per view", blocks, views, s.cfg.MinBlocksPerView)
	}
}

// viewSync reports whether active honest replicas holding a supermajority
// of weight are within one view of each other, and the weight per view.
func (s *sim) viewSync() (map[model.View]uint64, bool) {
	com := s.committeeAt(s.maxHonestView())
	views := map[model.View]uint64{}
	for _, idt := range s.ids {
		if idt.role != roleHonest {
			continue
		}
		in := s.insts[idt.instances[0]]
		views[in.core.CurrentView()] += com.WeightOf(idt.id)
	}
	for v, w := range views {
		if w+views[v+1] >= com.SupermajorityThreshold() {
			return views, true
		}
	}
	return views, false
}

func (s *sim) maxHonestView() model.View {
	var m model.View
	for _, in := range s.insts {
		if s.ids[in.member].byzantine() {
			continue
		}
		// A replica that is down is in the view it persisted.
		v := in.store.liveness.CurrentView
		if in.core != nil {
			v = in.core.CurrentView()
		}
		m = max(m, v)
	}
	return m
}

func (s *sim) maxHonestFinal() uint64 {
	var m uint64
	for _, in := range s.insts {
		if !s.ids[in.member].byzantine() && in.lastFinal.Height > m {
			m = in.lastFinal.Height
		}
	}
	return m
}

func (s *sim) minActiveFinal() uint64 {
	var m uint64 = 1<<63 - 1
	for _, in := range s.insts {
		if s.active(in) && in.lastFinal.Height < m {
			m = in.lastFinal.Height
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
	s.res.MinFinalizedHeight = s.minActiveFinal()
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
	case evLoad:
		if s.col != nil {
			s.offerCollections()
		} else {
			s.offer()
		}
	case evMainBlock:
		s.mainBlock()
	case evExecuted:
		in := s.insts[e.inst]
		if in.up && e.gen == in.gen {
			s.executed(in, uint64(e.n))
		}
	case evSyncRetry:
		in := s.insts[e.inst]
		if in.up && e.gen == in.gen {
			s.retryBlock(in, e.id)
		}
	}
}

func (s *sim) startInstance(in *instance) {
	idt := s.ids[in.member]
	if idt.role == roleSilent && !s.faulty || idt.role == roleCrashed {
		return // silent from GST on, or crashed from the start
	}
	cfg := consensus.Config{
		Self: idt.id, Key: idt.key, Scheme: s.scheme, Schedule: s.schedule,
		Timeouts: s.cfg.Timeouts, Payloads: in.payloads, Reputation: s.cfg.Reputation,
	}
	if !idt.byzantine() {
		cfg.Faults = s.cfg.Faults
	}
	st := in.store.state(s.cfg.Reputation.Span())
	if s.cfg.ForgetSafetyData && !idt.byzantine() {
		st.Safety = s.genesis.Safety
	}
	core, err := consensus.New(cfg, st)
	if err != nil {
		s.violation(in, "restart from persisted state failed: %v", err)
		return
	}
	glue := &simReplica{s: s, in: in}
	rcfg := replica.Config{Core: core, Store: glue, Transport: glue, Observer: glue}
	if s.cfg.Cluster {
		if in.col, err = s.newColReplica(in, st); err != nil {
			s.violation(in, "cluster chain state not restored: %v", err)
			return
		}
		rcfg.Ready, rcfg.ReadyBlocks = glue, true
	} else if s.cfg.Load > 0 {
		// A restarted replica replays the finalized chain before it runs
		// (as a node re-executes from its store), and a crash emptied its
		// pool.
		in.store.executed = max(in.store.executed, in.store.root.Height)
		in.pool = txPool{}
		in.validated = make(map[model.Identifier]*model.Block)
		rcfg.Ready = glue
	}
	eng, err := replica.New(rcfg)
	if err != nil {
		s.violation(in, "replica engine: %v", err)
		return
	}
	in.core, in.eng, in.up, in.started = core, eng, true, true
	// Block sync state lives in memory: a restart starts it afresh.
	in.sync = replica.NewSync[int](replica.SyncConfig{Batch: syncBatchMax, Retries: syncRetries}, s.rng.IntN)
	in.gen++
	s.trace.add(s.now, "n%d starts in view %d (finalized h%d)", in.idx, core.CurrentView(), in.store.root.Height)
	if s.mon != nil && !idt.byzantine() {
		s.mon.started(in)
	}
	s.ran(in, eng.Start(epoch.Add(s.now)))
}

func (s *sim) crash(in *instance) {
	s.crashFor(in, 50*time.Millisecond+time.Duration(s.rng.Int64N(int64(1500*time.Millisecond))))
}

// crashFor crashes an instance and restarts it after down.
func (s *sim) crashFor(in *instance, down time.Duration) {
	if !in.up {
		return
	}
	in.up = false
	in.core, in.eng = nil, nil
	in.gen++
	s.trace.add(s.now, "n%d crashes, down for %v", in.idx, down)
	s.sched.push(&event{at: s.now + down, kind: evRestart, inst: in.idx, gen: in.gen})
}

func (s *sim) step(in *instance, ev consensus.Event, what string) {
	s.trace.add(s.now, "n%d (v%d) ← %s", in.idx, in.core.CurrentView(), what)
	watched := s.mon != nil && !s.ids[in.member].byzantine()
	if watched {
		s.mon.input(in, ev)
	}
	s.ran(in, in.eng.Step(epoch.Add(s.now), ev))
}

// ran handles what the engine returned: a crash part-way through sending
// (the instance is already down), or a fatal error, which an honest replica
// must never meet.
func (s *sim) ran(in *instance, err error) {
	if err == nil || errors.Is(err, replica.ErrStopped) {
		return
	}
	if !s.ids[in.member].byzantine() {
		s.violation(in, "fatal error: %v", err)
	}
	s.crash(in)
}

func (s *sim) deliver(in *instance, w *wire) {
	if in.adv != nil {
		in.adv.observe(w)
	}
	switch {
	case w.syncReq != nil:
		get := func(id model.Identifier) *model.Block { return in.store.blocks[id] }
		above := func(b *model.Block) bool { return b.Height > w.syncReq.have }
		blocks := replica.Ancestry(get, w.syncReq.id, above, syncBatchMax)
		if len(blocks) > 0 {
			s.transmit(in.idx, w.from, &wire{from: in.idx, syncResp: blocks}, false)
		}
	case w.syncResp != nil:
		blocks, err := replica.CheckBatch(w.syncResp, syncBatchMax, s.verifierFor(in, w).Block)
		if err != nil {
			s.trace.add(s.now, "n%d rejects synced blocks above the %d that check out: %v", in.idx, len(blocks), err)
		}
		if len(blocks) == 0 {
			return
		}
		req, ok := in.sync.Received(epoch.Add(s.now), w.from, blocks, in.store.root.Height)
		s.sendSync(in, req, ok)
		s.step(in, consensus.BlocksEvent{Blocks: blocks}, fmt.Sprintf("%d synced blocks from n%d", len(blocks), w.from))
	default:
		m := w.msg
		if w.forged {
			// Crafted by the adversary: it crosses the wire as bytes, so the
			// decoders' shape checks apply, as in a node.
			var err error
			if m, err = wireRoundTrip(m); err != nil {
				s.res.AdversaryRejected++
				s.trace.add(s.now, "n%d drops malformed %s from n%d: %v", in.idx, w.what, w.from, err)
				return
			}
		}
		ev, err := replica.Check(s.verifierFor(in, w), m)
		var what string
		switch {
		case m.Proposal != nil:
			what = fmt.Sprintf("proposal v%d %v from n%d", m.Proposal.Block.View, m.Proposal.Block.ID(), w.from)
		case m.Vote != nil:
			what = fmt.Sprintf("vote v%d %v from n%d", m.Vote.View, m.Vote.BlockID, w.from)
		case m.Timeout != nil:
			what = fmt.Sprintf("timeout v%d (qc %d) from n%d", m.Timeout.View, m.Timeout.NewestQC.View, w.from)
		case m.QC != nil:
			what = fmt.Sprintf("sync info qc %d from n%d", m.QC.View, w.from)
		default:
			s.violation(in, "empty message from n%d", w.from)
			return
		}
		if err != nil {
			if w.forged || s.ids[s.insts[w.from].member].role == roleAdversary {
				s.res.AdversaryRejected++
				s.trace.add(s.now, "n%d rejects %s %s: %v", in.idx, w.what, what, err)
				return
			}
			// Honest replicas and twins sign honestly, so a message of theirs
			// that fails verification is a bug in the signing or the checking.
			s.violation(in, "valid-looking %s failed verification: %v", what, err)
			return
		}
		if w.forged {
			s.res.AdversaryDelivered++
			what = w.what + " " + what
		}
		s.step(in, ev, what)
	}
}

// verifierFor picks the verification in front of a replica: honest
// replicas get the test's (possibly weakened) verifier, and half of the
// adversary's non-leader proposals skip the leader check so that the
// core's own check is exercised too.
func (s *sim) verifierFor(in *instance, w *wire) *verify.Verifier {
	if s.ids[in.member].byzantine() {
		return s.verifier
	}
	if w.lenient {
		return s.lenientVerifier
	}
	return s.honestVerifier
}

func (s *sim) violation(in *instance, format string, args ...any) {
	msg := fmt.Sprintf("t=%v n%d: %s", s.now, in.idx, fmt.Sprintf(format, args...))
	s.trace.add(s.now, "VIOLATION %s", msg)
	s.res.SafetyViolations = append(s.res.SafetyViolations, msg)
	if s.res.Trace == nil {
		s.res.Trace = s.trace.lines()
	}
}

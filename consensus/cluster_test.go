package consensus_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/replica"
)

// cluster is a tiny hand-driven network of real cores for scenario tests:
// every message takes exactly latency to arrive, time moves only when
// advance() is called, and any replica can be cut off, crashed or started.
// Unlike sim/, nothing here is random: each test spells out its scenario.
type cluster struct {
	t         *testing.T
	now       time.Time
	ids       []model.NodeID
	keys      []crypto.PrivateKey
	committee *committee.Committee
	verifier  *verify.Verifier
	genesis   consensus.State
	timeouts  pacemaker.Config
	interval  time.Duration // MinBlockInterval
	idle      time.Duration // IdleBlockInterval (payloads report work from the work flag)
	work      bool
	// fills: payloads report a full block when full is set (BlockFiller).
	fills, full bool
	// reputation is every replica's leader-reputation rule (set before
	// start; the verifier then leaves the proposer check to the cores).
	reputation reputation.Params
	// timerRace makes a replica's timer lose to a message due within this
	// much after it, as in a node whose loop selects among ready channels
	// and re-arms its one timer from every output: the message is stepped
	// first and its output replaces the timer.
	timerRace time.Duration
	// jitter adds up to this much to each message's latency (a fixed
	// pseudo-random sequence, so runs repeat).
	jitter time.Duration
	sent   uint64

	// stopOnFatal: a replica whose core returns a fatal error stops (its
	// error is kept in fatal) instead of failing the test.
	stopOnFatal bool
	fatal       map[int]error

	cores   []*consensus.Core // for reads; nil while down
	engines []*replica.Engine // what steps cores[i]
	stored  []consensus.State // what each replica persisted
	timers  []time.Time
	queue   []envelope
	cut     []bool // cut[i]: replica i neither sends nor receives
	// deaf[i]: replica i receives nothing but sync info (it still sends).
	deaf     []bool
	signed   []map[model.View][]consensus.Message
	final    [][]*model.Block
	evidence []model.Evidence
}

type envelope struct {
	at       time.Time
	from, to int
	msg      consensus.Message
}

// delay is the next message's one-way delay: latency plus jitter.
func (c *cluster) delay() time.Duration {
	if c.jitter <= 0 {
		return latency
	}
	c.sent++
	x := c.sent * 0x9E3779B97F4A7C15 // Fibonacci hashing: a cheap fixed sequence
	return latency + time.Duration(x>>33)%c.jitter
}

// testChain is the chain every test network here runs.
var testChain = model.MainChain("test")

// latency is the one-way delay of every message.
const latency = 5 * time.Millisecond

type testPayloads struct{}

func (testPayloads) Build(view model.View, _ *model.Block) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(view))
}
func (testPayloads) Validate(_, _ *model.Block) error { return nil }

// workPayloads tell the core whether there is anything to order.
type workPayloads struct {
	testPayloads
	work *bool
}

func (w workPayloads) HasWork(*model.Block) bool { return *w.work }

// fillPayloads report whether a block would be full.
type fillPayloads struct {
	testPayloads
	full *bool
}

func (f fillPayloads) Full(*model.Block) bool { return *f.full }

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, now: time.Unix(1_700_000_000, 0),
		timeouts: pacemaker.Config{Min: time.Second, Max: 10 * time.Second, HappyPathFailedViews: 6, Increase: 1.2}}
	scheme := crypto.Fast()
	var members []committee.Member
	for i := 0; i < n; i++ {
		seed := make([]byte, 32)
		seed[0] = byte(i + 1)
		key, err := scheme.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		members = append(members, committee.Member{ID: id, Weight: 1, StakingKey: key.PublicKey(), Possession: mustPossession(key)})
		c.keys = append(c.keys, key)
		c.ids = append(c.ids, id)
	}
	com, err := committee.New(members, [32]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	c.committee = com
	root, _ := model.NewRootBlock(testChain, 0, 0, c.now.UnixMilli(), []byte("genesis"))
	rootQC, _ := model.NewRootQC(0, root.ID(), n)
	c.verifier = verify.New(root.ChainID, com, scheme, rootQC)
	c.genesis = consensus.GenesisState(root, rootQC)
	c.cores = make([]*consensus.Core, n)
	c.engines = make([]*replica.Engine, n)
	c.stored = make([]consensus.State, n)
	c.timers = make([]time.Time, n)
	c.cut = make([]bool, n)
	c.deaf = make([]bool, n)
	c.final = make([][]*model.Block, n)
	c.signed = make([]map[model.View][]consensus.Message, n)
	for i := range c.stored {
		c.stored[i] = c.genesis
		c.signed[i] = map[model.View][]consensus.Message{}
	}
	return c
}

func (c *cluster) index(id model.NodeID) int {
	for i, x := range c.ids {
		if x == id {
			return i
		}
	}
	c.t.Fatalf("unknown node %v", id)
	return -1
}

// leaderOf returns the replica index leading view v.
func (c *cluster) leaderOf(v model.View) int { return c.index(c.committee.Leader(v)) }

func (c *cluster) start(i int) {
	c.t.Helper()
	var payloads consensus.Payloads = testPayloads{}
	if c.idle > 0 {
		payloads = workPayloads{work: &c.work}
	}
	if c.fills {
		payloads = fillPayloads{full: &c.full}
	}
	core, err := consensus.New(consensus.Config{
		Self: c.ids[i], Key: c.keys[i], Scheme: crypto.Fast(), Schedule: c.committee,
		Timeouts: c.timeouts, Payloads: payloads, MinBlockInterval: c.interval, IdleBlockInterval: c.idle,
		Reputation: c.reputation,
	}, c.stored[i])
	if err != nil {
		c.t.Fatalf("start %d: %v", i, err)
	}
	glue := clusterReplica{c: c, i: i}
	eng, err := replica.New(replica.Config{Core: core, Store: glue, Transport: glue, Observer: glue})
	if err != nil {
		c.t.Fatal(err)
	}
	c.cores[i], c.engines[i] = core, eng
	c.ran(i, eng.Start(c.now))
}

// step feeds ev to replica i through its engine.
func (c *cluster) step(i int, ev consensus.Event) {
	c.t.Helper()
	c.ran(i, c.engines[i].Step(c.now, ev))
}

func (c *cluster) startAll() {
	for i := range c.cores {
		c.start(i)
	}
}

// crash drops the replica; only what it persisted survives.
func (c *cluster) crash(i int) { c.cores[i], c.engines[i] = nil, nil }

// ran handles what replica i's engine returned: a fatal error fails the
// test, or with stopOnFatal stops the replica; otherwise its timer follows
// the engine's.
func (c *cluster) ran(i int, err error) {
	c.t.Helper()
	if consensus.IsFatal(err) {
		if !c.stopOnFatal {
			c.t.Fatalf("replica %d: fatal: %v", i, err)
		}
		if c.fatal == nil {
			c.fatal = make(map[int]error)
		}
		c.fatal[i] = err
		c.cores[i], c.engines[i] = nil, nil // a node stops loudly; nothing of this output leaves it
		return
	}
	if c.engines[i] != nil {
		c.timers[i] = c.engines[i].NextTimer()
	}
}

// clusterReplica is replica i's store, transport and observer for the
// replica engine: what it persisted survives a crash in c.stored[i].
type clusterReplica struct {
	replica.NopObserver
	c *cluster
	i int
}

func (r clusterReplica) Persist(out *consensus.Output) (consensus.Event, error) {
	st := &r.c.stored[r.i]
	if out.Safety != nil {
		st.Safety = *out.Safety
	}
	if out.Liveness != nil {
		st.Liveness = *out.Liveness
	}
	st.Blocks = append(st.Blocks, out.Blocks...)
	if n := len(out.Finalized); n > 0 {
		st.Root = out.Finalized[n-1]
		r.c.final[r.i] = append(r.c.final[r.i], out.Finalized...)
	}
	return nil, nil
}

func (r clusterReplica) Send(msgs []consensus.Message) error {
	c, i := r.c, r.i
	for _, m := range msgs {
		v := msgView(m)
		if m.Vote != nil || m.Timeout != nil || m.Proposal != nil {
			c.signed[i][v] = append(c.signed[i][v], m)
		}
		if c.cut[i] {
			continue
		}
		if m.Broadcast {
			for j := range c.cores {
				if j != i {
					c.queue = append(c.queue, envelope{c.now.Add(c.delay()), i, j, m})
				}
			}
		} else {
			c.queue = append(c.queue, envelope{c.now.Add(c.delay()), i, c.index(m.To), m})
		}
	}
	return nil
}

// Applied records evidence and serves the blocks asked for at once, from
// whoever has them (instant sync).
func (r clusterReplica) Applied(_ consensus.Event, out *consensus.Output) {
	r.c.evidence = append(r.c.evidence, out.Evidence...)
	for _, id := range out.Fetch {
		r.c.serve(r.i, id)
	}
}

func (c *cluster) serve(to int, id model.Identifier) {
	for j, st := range c.stored {
		if j == to || c.cut[j] || c.cut[to] {
			continue
		}
		var chain []*model.Block
		want := id
		for k := len(st.Blocks) - 1; k >= 0; k-- {
			if b := st.Blocks[k]; b.ID() == want {
				chain = append(chain, b)
				want = b.ParentID
				k = len(st.Blocks)
			}
		}
		if len(chain) > 0 && c.engines[to] != nil {
			c.step(to, consensus.BlocksEvent{Blocks: chain})
			return
		}
	}
}

func msgView(m consensus.Message) model.View {
	switch {
	case m.Vote != nil:
		return m.Vote.View
	case m.Timeout != nil:
		return m.Timeout.View
	case m.Proposal != nil:
		return m.Proposal.Block.View
	}
	return 0
}

// advance moves the clock by d, delivering messages and firing timers in
// time order (messages first on ties).
func (c *cluster) advance(d time.Duration) {
	c.t.Helper()
	end := c.now.Add(d)
	for steps := 0; ; steps++ {
		if steps > 1_000_000 {
			c.t.Fatal("event storm")
		}
		next := -1
		for i, at := range c.timers {
			if c.cores[i] != nil && !at.IsZero() && !at.After(end) && (next < 0 || at.Before(c.timers[next])) {
				next = i
			}
		}
		msg := -1
		for k, e := range c.queue {
			if !e.at.After(end) && (msg < 0 || e.at.Before(c.queue[msg].at)) {
				msg = k
			}
		}
		timerFirst := next >= 0 && (msg < 0 || c.timers[next].Before(c.queue[msg].at))
		if timerFirst && c.timerRace > 0 {
			for k, e := range c.queue {
				if e.to == next && !e.at.After(c.timers[next].Add(c.timerRace)) && !e.at.After(end) {
					msg, next = k, -1 // this message wins the race
					break
				}
			}
		}
		switch {
		case msg >= 0 && (next < 0 || !c.timers[next].Before(c.queue[msg].at)):
			e := c.queue[msg]
			c.queue = append(c.queue[:msg], c.queue[msg+1:]...)
			if e.at.After(c.now) {
				c.now = e.at
			}
			c.receive(e)
		case next >= 0:
			if c.timers[next].After(c.now) {
				c.now = c.timers[next]
			}
			c.step(next, consensus.TimerEvent{})
		default:
			c.now = end
			return
		}
	}
}

// receive verifies a message like a node would and steps the recipient.
func (c *cluster) receive(e envelope) {
	c.t.Helper()
	core := c.cores[e.to]
	if core == nil || c.cut[e.to] || c.cut[e.from] || (c.deaf[e.to] && e.msg.QC == nil) {
		return
	}
	var ev consensus.Event
	var err error
	verifier := c.verifier
	if c.reputation.Enabled() {
		verifier = verifier.LeadersFromAncestry()
	}
	switch m := e.msg; {
	case m.Proposal != nil:
		err, ev = verifier.Proposal(m.Proposal), consensus.ProposalEvent{Proposal: m.Proposal}
	case m.Vote != nil:
		err, ev = c.verifier.Vote(m.Vote), consensus.VoteEvent{Vote: m.Vote}
	case m.Timeout != nil:
		err, ev = c.verifier.Timeout(m.Timeout), consensus.TimeoutEvent{Timeout: m.Timeout}
	case m.QC != nil:
		err, ev = c.verifier.QC(m.QC), consensus.CertificateEvent{QC: m.QC, TC: m.TC}
	}
	if err != nil {
		c.t.Fatalf("message from %d failed verification: %v", e.from, err)
	}
	c.step(e.to, ev)
}

func (c *cluster) view(i int) model.View { return c.cores[i].CurrentView() }

func (c *cluster) finalHeight(i int) uint64 { return c.cores[i].Finalized().Height }

// checkNoConflicts asserts that finalized chains agree and nobody signed
// two conflicting messages in a view.
func (c *cluster) checkNoConflicts() {
	c.t.Helper()
	byHeight := map[uint64]model.Identifier{}
	for i, chain := range c.final {
		for _, b := range chain {
			if id, ok := byHeight[b.Height]; ok && id != b.ID() {
				c.t.Fatalf("replica %d finalized %v at height %d, another finalized %v", i, b.ID(), b.Height, id)
			}
			byHeight[b.Height] = b.ID()
		}
	}
	for i, views := range c.signed {
		for v, msgs := range views {
			var vote *model.Vote
			var timedOut bool
			for _, m := range msgs {
				if m.Vote != nil {
					if vote != nil && vote.BlockID != m.Vote.BlockID {
						c.t.Fatalf("replica %d voted twice in view %d", i, v)
					}
					if timedOut {
						c.t.Fatalf("replica %d voted in view %d after timing out", i, v)
					}
					vote = m.Vote
				}
				if m.Timeout != nil {
					timedOut = true
				}
			}
		}
	}
}

// mustPossession returns the key's proof of possession, which committees require.
func mustPossession(key crypto.PrivateKey) []byte {
	pop, err := key.ProvePossession()
	if err != nil {
		panic(err)
	}
	return pop
}

package consensus_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/crypto"
)

// FuzzCoreIntake feeds the core arbitrary decoded messages, without signature
// verification. The input is a sequence of chunks
//
//	kind (1 byte) ‖ length (2 bytes, big-endian) ‖ body
//
// where kind selects how body is decoded and delivered: a proposal, a vote, a
// timeout, a block (BlocksEvent), a QC or TC (CertificateEvent), or a timer
// tick. Bodies that do not decode are skipped.
//
// The core must never panic, and an error it returns must be benign (see
// consensus.IsFatal) unless it is ErrConflictingFinality, which unverified
// certificates can legitimately provoke. Whatever it is fed, the messages it
// signs must obey the safety rules: at most one vote and one timeout per view,
// votes in increasing views and never in a view it already timed out in, one
// proposal per view; its views and safety data never go back; and what it
// finalizes is one chain.

const (
	fzProposal byte = iota
	fzVote
	fzTimeout
	fzBlock
	fzQC
	fzTC
	fzTimer
	fzKinds
)

var fzEpoch = time.Unix(1_700_000_000, 0)

type fzNet struct {
	scheme crypto.Scheme
	keys   map[model.NodeID]crypto.PrivateKey
	com    *committee.Committee
	self   model.NodeID
	root   *model.Block
	rootQC *model.QC
}

// fzSetup builds a 4-member committee whose schedule makes member 0 (the
// fuzzed replica) lead view 2 but not view 1, so a proposal for view 1 from
// someone else and the votes for it make the replica form a QC and propose.
func fzSetup(t testing.TB) *fzNet {
	t.Helper()
	n := &fzNet{scheme: crypto.Fast(), keys: make(map[model.NodeID]crypto.PrivateKey)}
	members := make([]committee.Member, 4)
	for i := range members {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+1)
		key, err := n.scheme.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		n.keys[id] = key
		members[i] = committee.Member{ID: id, Weight: 1, StakingKey: key.PublicKey()}
	}
	for s := 0; ; s++ {
		if s == 256 {
			t.Fatal("no committee seed with the wanted schedule")
		}
		com, err := committee.New(members, [32]byte{byte(s)})
		if err != nil {
			t.Fatal(err)
		}
		self := com.Member(0).ID
		if com.Leader(1) != self && com.Leader(2) == self && com.Leader(3) != self {
			n.com, n.self = com, self
			break
		}
	}
	var err error
	if n.root, err = model.NewRootBlock(0, 0, fzEpoch.UnixMilli(), []byte("genesis")); err != nil {
		t.Fatal(err)
	}
	if n.rootQC, err = model.NewRootQC(0, n.root.ID(), 4); err != nil {
		t.Fatal(err)
	}
	return n
}

type fzPayloads struct{}

func (fzPayloads) Build(view model.View, _ *model.Block) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(view))
}

func (fzPayloads) Validate(b *model.Block) error {
	if len(b.Payload) > 64 {
		return fmt.Errorf("%w: payload of %d bytes", model.ErrInvalid, len(b.Payload))
	}
	return nil
}

func (n *fzNet) newCore(t testing.TB) *consensus.Core {
	t.Helper()
	core, err := consensus.New(consensus.Config{
		Self:      n.self,
		Key:       n.keys[n.self],
		Scheme:    n.scheme,
		Committee: n.com,
		Timeouts:  pacemaker.Config{Min: time.Second, Max: 10 * time.Second, HappyPathFailedViews: 2, Increase: 1.5},
		Payloads:  fzPayloads{},
	}, consensus.GenesisState(n.root, n.rootQC))
	if err != nil {
		t.Fatal(err)
	}
	return core
}

// --- seed construction (valid, signed messages) -----------------------------

func (n *fzNet) sign(id model.NodeID, d crypto.Domain, msg []byte) []byte {
	sig, err := n.keys[id].Sign(d, msg)
	if err != nil {
		panic(err)
	}
	return sig
}

func (n *fzNet) signers(idx []int) model.SignerSet {
	s, err := model.NewSignerSet(n.com.Size())
	if err != nil {
		panic(err)
	}
	for _, i := range idx {
		s.Set(i)
	}
	return s
}

func (n *fzNet) qc(view model.View, id model.Identifier, idx ...int) *model.QC {
	var sigs [][]byte
	for _, i := range idx {
		sigs = append(sigs, n.sign(n.com.Member(i).ID, crypto.DomainVote, model.VoteMessage(view, id)))
	}
	agg, err := n.scheme.AggregateSignatures(sigs)
	if err != nil {
		panic(err)
	}
	qc, err := model.NewQC(view, id, n.signers(idx), agg)
	if err != nil {
		panic(err)
	}
	return qc
}

// tc: every member in idx times out in view with newestQC.
func (n *fzNet) tc(view model.View, newestQC *model.QC, idx ...int) *model.TC {
	sort.Ints(idx)
	var (
		sigs  [][]byte
		views []model.View
	)
	for _, i := range idx {
		sigs = append(sigs, n.sign(n.com.Member(i).ID, crypto.DomainTimeout, model.TimeoutMessage(view, newestQC.View)))
		views = append(views, newestQC.View)
	}
	agg, err := n.scheme.AggregateSignatures(sigs)
	if err != nil {
		panic(err)
	}
	tc, err := model.NewTC(view, newestQC, views, n.signers(idx), agg)
	if err != nil {
		panic(err)
	}
	return tc
}

func (n *fzNet) block(view model.View, parent *model.Block, qc *model.QC, tc *model.TC) *model.Block {
	payload := fzPayloads{}.Build(view, parent)
	b, err := model.NewBlock(model.Header{
		View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: n.com.Leader(view), Timestamp: parent.Timestamp + 10, PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		panic(err)
	}
	return b
}

func (n *fzNet) proposal(b *model.Block) *model.Proposal {
	p, err := model.NewProposal(b, n.sign(b.ProposerID, crypto.DomainProposal, model.ProposalMessage(b.ID())))
	if err != nil {
		panic(err)
	}
	return p
}

func (n *fzNet) vote(b *model.Block, i int) *model.Vote {
	id := n.com.Member(i).ID
	v, err := model.NewVote(b.View, b.ID(), id, n.sign(id, crypto.DomainVote, model.VoteMessage(b.View, b.ID())))
	if err != nil {
		panic(err)
	}
	return v
}

func (n *fzNet) timeout(view model.View, qc *model.QC, tc *model.TC, i int) *model.TimeoutObject {
	id := n.com.Member(i).ID
	t, err := model.NewTimeoutObject(view, qc, tc, id, n.sign(id, crypto.DomainTimeout, model.TimeoutMessage(view, qc.View)))
	if err != nil {
		panic(err)
	}
	return t
}

func fzChunk(kind byte, body []byte) []byte {
	out := []byte{kind, byte(len(body) >> 8), byte(len(body))}
	return append(out, body...)
}

func fzJoin(chunks ...[]byte) []byte {
	var out []byte
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

// seeds returns inputs that drive the replica through real protocol runs.
func (n *fzNet) seeds() [][]byte {
	// Happy path: b1 (view 1) … b5, each certified by the next.
	blocks := []*model.Block{n.root}
	qcs := []*model.QC{n.rootQC}
	for v := model.View(1); v <= 5; v++ {
		b := n.block(v, blocks[len(blocks)-1], qcs[len(qcs)-1], nil)
		blocks = append(blocks, b)
		qcs = append(qcs, n.qc(v, b.ID(), 0, 1, 2))
	}
	b1 := blocks[1]

	// 1. A proposal for view 1, then every vote for it: the replica votes,
	// collects the QC as leader of view 2, and proposes.
	var s1 [][]byte
	s1 = append(s1, fzChunk(fzProposal, n.proposal(b1).Encode()))
	for i := range 4 {
		s1 = append(s1, fzChunk(fzVote, n.vote(b1, i).Encode()))
	}

	// 2. The whole happy chain as proposals: blocks 1..3 get finalized.
	var s2 [][]byte
	for _, b := range blocks[1:] {
		s2 = append(s2, fzChunk(fzProposal, n.proposal(b).Encode()))
	}

	// 3. Timeouts for view 1 from everyone, a timer tick, and a proposal for
	// view 2 carrying the TC.
	tc1 := n.tc(1, n.rootQC, 1, 2, 3)
	var s3 [][]byte
	for i := 1; i < 4; i++ {
		s3 = append(s3, fzChunk(fzTimeout, n.timeout(1, n.rootQC, nil, i).Encode()))
	}
	s3 = append(s3, fzChunk(fzTimer, nil))
	b3tc := n.block(3, n.root, n.rootQC, n.tc(2, n.rootQC, 0, 1, 2))
	s3 = append(s3, fzChunk(fzTC, tc1.Encode()), fzChunk(fzProposal, n.proposal(b3tc).Encode()))
	s3 = append(s3, fzChunk(fzTimeout, n.timeout(2, n.rootQC, tc1, 3).Encode()))

	// 4. Sync: blocks out of order, then certificates.
	s4 := [][]byte{
		fzChunk(fzBlock, blocks[3].Encode()), fzChunk(fzBlock, blocks[2].Encode()),
		fzChunk(fzBlock, blocks[1].Encode()), fzChunk(fzQC, qcs[3].Encode()),
		fzChunk(fzProposal, n.proposal(blocks[4]).Encode()),
	}

	// 5. Equivocation: two different proposals for view 1, two votes by one
	// member, and timer ticks.
	p1b := n.proposal(n.block(1, n.root, n.rootQC, nil))
	alt, err := model.NewBlock(model.Header{
		View: 1, Height: 1, ParentID: n.root.ID(), QC: n.rootQC, ProposerID: n.com.Leader(1),
		Timestamp: n.root.Timestamp + 99, PayloadHash: model.PayloadHash(nil),
	}, nil)
	if err != nil {
		panic(err)
	}
	s5 := [][]byte{
		fzChunk(fzProposal, p1b.Encode()), fzChunk(fzProposal, n.proposal(alt).Encode()),
		fzChunk(fzVote, n.vote(b1, 1).Encode()), fzChunk(fzVote, n.vote(alt, 1).Encode()),
		fzChunk(fzTimer, []byte{30}), fzChunk(fzTimer, nil),
	}
	return [][]byte{fzJoin(s1...), fzJoin(s2...), fzJoin(s3...), fzJoin(s4...), fzJoin(s5...)}
}

// --- the harness ---------------------------------------------------------------

type fzChecker struct {
	t          *testing.T
	net        *fzNet
	votes      map[model.View]*model.Vote
	timeouts   map[model.View]*model.TimeoutObject
	proposals  map[model.View]model.Identifier
	lastVote   model.View
	maxTimeout model.View
	timedOut   bool
	view       model.View
	final      *model.Block
	locked     model.View
	acked      model.View
	proposed   model.View
}

func (c *fzChecker) output(out consensus.Output, core *consensus.Core) []consensus.Event {
	t := c.t
	var loop []consensus.Event
	for _, m := range out.Messages {
		switch {
		case m.Vote != nil:
			v := m.Vote
			if v.SignerID != c.net.self {
				t.Fatalf("replica sent a vote signed as %v", v.SignerID)
			}
			if prev := c.votes[v.View]; prev != nil {
				if !prev.Equal(v) {
					t.Fatalf("replica signed two different votes for view %d", v.View)
				}
			} else {
				if v.View <= c.lastVote {
					t.Fatalf("replica voted in view %d after voting in view %d", v.View, c.lastVote)
				}
				if c.timedOut && v.View <= c.maxTimeout {
					t.Fatalf("replica voted in view %d after timing out in view %d", v.View, c.maxTimeout)
				}
				c.votes[v.View] = v
				c.lastVote = v.View
			}
			if m.To != c.net.com.Leader(v.View+1) {
				t.Fatalf("vote for view %d sent to %v, not the next leader", v.View, m.To)
			}
			if err := c.net.keys[c.net.self].PublicKey().Verify(crypto.DomainVote, model.VoteMessage(v.View, v.BlockID), v.Signature); err != nil {
				t.Fatalf("replica's own vote does not verify: %v", err)
			}
			if m.To == c.net.self {
				loop = append(loop, consensus.VoteEvent{Vote: v})
			}
		case m.Timeout != nil:
			to := m.Timeout
			if to.SignerID != c.net.self {
				t.Fatalf("replica sent a timeout signed as %v", to.SignerID)
			}
			if prev := c.timeouts[to.View]; prev != nil {
				if !prev.Equal(to) {
					t.Fatalf("replica signed two different timeouts for view %d", to.View)
				}
			} else {
				c.timeouts[to.View] = to
				if to.View > c.maxTimeout {
					c.maxTimeout = to.View
				}
				c.timedOut = true
			}
		case m.Proposal != nil:
			b := m.Proposal.Block
			if b.ProposerID != c.net.self || c.net.com.Leader(b.View) != c.net.self {
				t.Fatalf("replica proposed for view %d, which it does not lead", b.View)
			}
			if prev, ok := c.proposals[b.View]; ok && prev != b.ID() {
				t.Fatalf("replica proposed two blocks for view %d", b.View)
			}
			c.proposals[b.View] = b.ID()
		}
	}
	for _, b := range out.Finalized {
		if b.ParentID != c.final.ID() || b.Height != c.final.Height+1 || b.View <= c.final.View {
			t.Fatalf("finalized block (view %d, height %d) does not extend the last finalized (view %d, height %d)",
				b.View, b.Height, c.final.View, c.final.Height)
		}
		c.final = b
	}
	if len(out.Finalized) > 0 && core.Finalized().ID() != c.final.ID() {
		t.Fatal("the core's finalized block is not the last one it output")
	}
	if v := core.CurrentView(); v < c.view {
		t.Fatalf("view went back from %d to %d", c.view, v)
	} else {
		c.view = v
	}
	sd := core.SafetyData()
	if sd.LockedView < c.locked || sd.HighestAcknowledgedView < c.acked || sd.HighestProposedView < c.proposed {
		t.Fatalf("safety data went back: %+v after locked %d acked %d proposed %d", sd, c.locked, c.acked, c.proposed)
	}
	c.locked, c.acked, c.proposed = sd.LockedView, sd.HighestAcknowledgedView, sd.HighestProposedView
	if out.Safety != nil && *out.Safety != sd {
		t.Fatal("output safety data differs from the core's")
	}
	if out.NextTimer.IsZero() {
		t.Fatal("output without a next timer")
	}
	return loop
}

// checkErr reports whether the replica must stop.
func (c *fzChecker) checkErr(err error, what string) bool {
	if err == nil || !consensus.IsFatal(err) {
		return false
	}
	if errors.Is(err, consensus.ErrConflictingFinality) {
		return true
	}
	c.t.Fatalf("%s: fatal error: %v", what, err)
	return true
}

func fzDecodeEvent(kind byte, body []byte) consensus.Event {
	switch kind {
	case fzProposal:
		if p, err := model.DecodeProposal(body); err == nil {
			return consensus.ProposalEvent{Proposal: p}
		}
	case fzVote:
		if v, err := model.DecodeVote(body); err == nil {
			return consensus.VoteEvent{Vote: v}
		}
	case fzTimeout:
		if t, err := model.DecodeTimeout(body); err == nil {
			return consensus.TimeoutEvent{Timeout: t}
		}
	case fzBlock:
		if b, err := model.DecodeBlock(body); err == nil {
			return consensus.BlocksEvent{Blocks: []*model.Block{b}}
		}
	case fzQC:
		if q, err := model.DecodeQC(body); err == nil {
			return consensus.CertificateEvent{QC: q}
		}
	case fzTC:
		if tc, err := model.DecodeTC(body); err == nil {
			return consensus.CertificateEvent{QC: tc.NewestQC, TC: tc}
		}
	}
	return nil
}

func FuzzCoreIntake(f *testing.F) {
	net := fzSetup(f)
	for _, s := range net.seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		core := net.newCore(t)
		c := &fzChecker{t: t, net: net, votes: map[model.View]*model.Vote{}, timeouts: map[model.View]*model.TimeoutObject{},
			proposals: map[model.View]model.Identifier{}, final: net.root}
		now := fzEpoch
		out, err := core.Start(now)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		c.output(out, core)
		next := out.NextTimer
		for steps := 0; len(data) >= 3 && steps < 256; steps++ {
			kind := data[0] % fzKinds
			size := int(binary.BigEndian.Uint16(data[1:3]))
			data = data[3:]
			if size > len(data) {
				size = len(data)
			}
			body := data[:size]
			data = data[size:]

			var ev consensus.Event
			now = now.Add(10 * time.Millisecond)
			if kind == fzTimer {
				if len(body) > 0 {
					now = now.Add(time.Duration(body[0]) * 100 * time.Millisecond)
				} else if next.After(now) {
					now = next
				}
				ev = consensus.TimerEvent{}
			} else if ev = fzDecodeEvent(kind, body); ev == nil {
				continue
			}
			queue := []consensus.Event{ev}
			for len(queue) > 0 {
				ev, queue = queue[0], queue[1:]
				out, err := core.Step(now, ev)
				next = out.NextTimer
				queue = append(queue, c.output(out, core)...)
				if c.checkErr(err, fmt.Sprintf("step %d (%T)", steps, ev)) {
					return
				}
			}
		}
	})
}

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
// tick. Bodies that do not decode are skipped. Three more kinds generate
// correctly signed proposals, votes and timeouts from a few body bytes over
// the blocks and QCs seen so far, so that the fuzzer reaches deep protocol
// states that random bytes with valid signatures would never hit. Since the
// harness holds every member's key, these can be arbitrarily byzantine.
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
	fzGenProposal
	fzGenVote
	fzGenTimeout
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
		members[i] = committee.Member{ID: id, Weight: 1, StakingKey: key.PublicKey(), Possession: mustPossession(key)}
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
	if n.root, err = model.NewRootBlock(testChain, 0, 0, fzEpoch.UnixMilli(), []byte("genesis")); err != nil {
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

func (fzPayloads) Validate(b, _ *model.Block) error {
	if len(b.Payload) > 64 {
		return fmt.Errorf("%w: payload of %d bytes", model.ErrInvalid, len(b.Payload))
	}
	return nil
}

func (n *fzNet) newCore(t testing.TB) *consensus.Core {
	t.Helper()
	core, err := consensus.New(consensus.Config{
		Self:     n.self,
		Key:      n.keys[n.self],
		Scheme:   n.scheme,
		Schedule: n.com,
		Timeouts: pacemaker.Config{Min: time.Second, Max: 10 * time.Second, HappyPathFailedViews: 2, Increase: 1.5},
		Payloads: fzPayloads{},
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
		sigs = append(sigs, n.sign(n.com.Member(i).ID, crypto.DomainVote, model.VoteMessage(testChain, view, id)))
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
		sigs = append(sigs, n.sign(n.com.Member(i).ID, crypto.DomainTimeout, model.TimeoutMessage(testChain, view, newestQC.View)))
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
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID,
		View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: n.com.Leader(view), Timestamp: parent.Timestamp + 10, PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		panic(err)
	}
	return b
}

func (n *fzNet) proposal(b *model.Block) *model.Proposal {
	p, err := model.NewProposal(b, n.sign(b.ProposerID, crypto.DomainProposal, model.ProposalMessage(testChain, b.ID())))
	if err != nil {
		panic(err)
	}
	return p
}

func (n *fzNet) vote(b *model.Block, i int) *model.Vote {
	id := n.com.Member(i).ID
	v, err := model.NewVote(b.View, b.ID(), id, n.sign(id, crypto.DomainVote, model.VoteMessage(testChain, b.View, b.ID())))
	if err != nil {
		panic(err)
	}
	return v
}

func (n *fzNet) timeout(view model.View, qc *model.QC, tc *model.TC, i int) *model.TimeoutObject {
	id := n.com.Member(i).ID
	t, err := model.NewTimeoutObject(view, qc, tc, id, n.sign(id, crypto.DomainTimeout, model.TimeoutMessage(testChain, view, qc.View)))
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

	// 4. Sync: a batch of blocks out of order, a lone block that does not
	// connect, then a certificate and a proposal on top.
	var batch []byte
	for _, b := range []*model.Block{blocks[3], blocks[1], blocks[2]} {
		batch = append(batch, fzChunk(0, b.Encode())[1:]...)
	}
	s4 := [][]byte{
		fzChunk(fzBlock, fzChunk(0, blocks[5].Encode())[1:]), fzChunk(fzBlock, batch),
		fzChunk(fzQC, qcs[3].Encode()), fzChunk(fzProposal, n.proposal(blocks[4]).Encode()),
	}

	// 5. Equivocation: two different proposals for view 1, two votes by one
	// member, and timer ticks.
	p1b := n.proposal(n.block(1, n.root, n.rootQC, nil))
	alt, err := model.NewBlock(model.Header{ChainID: n.root.ChainID,
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

	// 6. Generated traffic: a proposal on the root, everyone's votes (the
	// replica forms the QC and proposes view 2, block 2 of the pool), then
	// proposals extending the newest pool block, a timeout and a skip.
	s6 := [][]byte{fzChunk(fzGenProposal, []byte{0, 0, 0})}
	for i := range 4 {
		s6 = append(s6, fzChunk(fzGenVote, []byte{byte(i), 1}))
	}
	for parent := byte(2); parent <= 4; parent++ {
		s6 = append(s6, fzChunk(fzGenProposal, []byte{parent, 0, parent}))
	}
	s6 = append(s6, fzChunk(fzGenTimeout, []byte{1, 3, 1}), fzChunk(fzGenProposal, []byte{5, 1, 0}), fzChunk(fzTimer, nil))
	return [][]byte{fzJoin(s1...), fzJoin(s2...), fzJoin(s3...), fzJoin(s4...), fzJoin(s5...), fzJoin(s6...)}
}

// --- the harness ---------------------------------------------------------------

type fzRun struct {
	t    *testing.T
	net  *fzNet
	core *consensus.Core
	now  time.Time
	next time.Time

	// pools of known objects the generator kinds draw from
	blocks []*model.Block
	qcs    []*model.QC
	// badSig: a vote or timeout with a signature the scheme cannot even
	// decode was delivered (see TestCoreMalformedSignatureIsFatal).
	badSig  bool
	stopped bool

	// safety bookkeeping over everything the replica signed
	votes      map[model.View]*model.Vote
	timeouts   map[model.View]*model.TimeoutObject
	proposals  map[model.View]model.Identifier
	lastVote   model.View
	maxTimeout model.View
	timedOut   bool
	view       model.View
	final      *model.Block
	finalized  int
	locked     model.View
	acked      model.View
	proposed   model.View
	evidence   int
}

const fzPoolMax = 64

func (r *fzRun) addBlock(b *model.Block) {
	if len(r.blocks) < fzPoolMax {
		r.blocks = append(r.blocks, b)
	}
	if b.QC != nil {
		r.addQC(b.QC)
	}
}

func (r *fzRun) addQC(q *model.QC) {
	if len(r.qcs) < fzPoolMax {
		r.qcs = append(r.qcs, q)
	}
}

func (r *fzRun) output(out consensus.Output) []consensus.Event {
	t, core, net := r.t, r.core, r.net
	var loop []consensus.Event
	for _, m := range out.Messages {
		switch {
		case m.Vote != nil:
			v := m.Vote
			if v.SignerID != net.self {
				t.Fatalf("replica sent a vote signed as %v", v.SignerID)
			}
			if prev := r.votes[v.View]; prev != nil {
				if !prev.Equal(v) {
					t.Fatalf("replica signed two different votes for view %d", v.View)
				}
			} else {
				if v.View <= r.lastVote {
					t.Fatalf("replica voted in view %d after voting in view %d", v.View, r.lastVote)
				}
				if r.timedOut && v.View <= r.maxTimeout {
					t.Fatalf("replica voted in view %d after timing out in view %d", v.View, r.maxTimeout)
				}
				r.votes[v.View] = v
				r.lastVote = v.View
			}
			if m.To != net.com.Leader(v.View+1) {
				t.Fatalf("vote for view %d sent to %v, not the next leader", v.View, m.To)
			}
			if err := net.keys[net.self].PublicKey().Verify(crypto.DomainVote, model.VoteMessage(testChain, v.View, v.BlockID), v.Signature); err != nil {
				t.Fatalf("replica's own vote does not verify: %v", err)
			}
			if core.Block(v.BlockID) == nil && core.Finalized().View < v.View {
				t.Fatalf("replica voted for block %v (view %d) it does not hold", v.BlockID, v.View)
			}
			if m.To == net.self {
				loop = append(loop, consensus.VoteEvent{Vote: v})
			}
		case m.Timeout != nil:
			to := m.Timeout
			if to.SignerID != net.self {
				t.Fatalf("replica sent a timeout signed as %v", to.SignerID)
			}
			if prev := r.timeouts[to.View]; prev != nil {
				if !prev.Equal(to) {
					t.Fatalf("replica signed two different timeouts for view %d", to.View)
				}
			} else {
				if to.NewestQC.View < r.locked {
					t.Fatalf("replica timed out in view %d with newest QC %d below its lock %d", to.View, to.NewestQC.View, r.locked)
				}
				r.timeouts[to.View] = to
				if to.View > r.maxTimeout {
					r.maxTimeout = to.View
				}
				r.timedOut = true
			}
		case m.Proposal != nil:
			b := m.Proposal.Block
			if b.ProposerID != net.self || net.com.Leader(b.View) != net.self {
				t.Fatalf("replica proposed for view %d, which it does not lead", b.View)
			}
			if prev, ok := r.proposals[b.View]; ok && prev != b.ID() {
				t.Fatalf("replica proposed two blocks for view %d", b.View)
			}
			r.proposals[b.View] = b.ID()
			r.addBlock(b)
		}
	}
	for _, b := range out.Finalized {
		if b.ParentID != r.final.ID() || b.Height != r.final.Height+1 || b.View <= r.final.View {
			t.Fatalf("finalized block (view %d, height %d) does not extend the last finalized (view %d, height %d)",
				b.View, b.Height, r.final.View, r.final.Height)
		}
		r.final = b
		r.finalized++
	}
	if core.Finalized().ID() != r.final.ID() {
		t.Fatal("the core's finalized block is not the last one it output")
	}
	if v := core.CurrentView(); v < r.view {
		t.Fatalf("view went back from %d to %d", r.view, v)
	} else {
		r.view = v
	}
	sd := core.SafetyData()
	if sd.LockedView < r.locked || sd.HighestAcknowledgedView < r.acked || sd.HighestProposedView < r.proposed {
		t.Fatalf("safety data went back: %+v after locked %d acked %d proposed %d", sd, r.locked, r.acked, r.proposed)
	}
	r.locked, r.acked, r.proposed = sd.LockedView, sd.HighestAcknowledgedView, sd.HighestProposedView
	if out.Safety != nil && *out.Safety != sd {
		t.Fatal("output safety data differs from the core's")
	}
	if out.NextTimer.IsZero() {
		t.Fatal("output without a next timer")
	}
	r.evidence += len(out.Evidence)
	return loop
}

// checkErr fails on a fatal error other than conflicting finality, and
// reports whether the replica must stop.
func (r *fzRun) checkErr(err error, what string) bool {
	if err == nil || !consensus.IsFatal(err) {
		return false
	}
	if errors.Is(err, consensus.ErrConflictingFinality) {
		return true
	}
	r.t.Fatalf("%s: fatal error: %v", what, err)
	return true
}

func (r *fzRun) noteSig(sig []byte) {
	if len(sig) != r.net.scheme.SignatureSize() {
		r.badSig = true
	}
}

func (r *fzRun) decode(kind byte, body []byte) consensus.Event {
	switch kind {
	case fzProposal:
		if p, err := model.DecodeProposal(body); err == nil {
			r.addBlock(p.Block)
			return consensus.ProposalEvent{Proposal: p}
		}
	case fzVote:
		if v, err := model.DecodeVote(body); err == nil {
			r.noteSig(v.Signature)
			return consensus.VoteEvent{Vote: v}
		}
	case fzTimeout:
		if t, err := model.DecodeTimeout(body); err == nil {
			r.noteSig(t.Signature)
			r.addQC(t.NewestQC)
			return consensus.TimeoutEvent{Timeout: t}
		}
	case fzBlock: // a sequence of blocks, each length-prefixed like a chunk
		var blocks []*model.Block
		for len(body) >= 2 {
			size := min(int(binary.BigEndian.Uint16(body)), len(body)-2)
			if b, err := model.DecodeBlock(body[2 : 2+size]); err == nil {
				r.addBlock(b)
				blocks = append(blocks, b)
			}
			body = body[2+size:]
		}
		if len(blocks) > 0 {
			return consensus.BlocksEvent{Blocks: blocks}
		}
	case fzQC:
		if q, err := model.DecodeQC(body); err == nil {
			r.addQC(q)
			return consensus.CertificateEvent{QC: q}
		}
	case fzTC:
		if tc, err := model.DecodeTC(body); err == nil {
			r.addQC(tc.NewestQC)
			return consensus.CertificateEvent{QC: tc.NewestQC, TC: tc}
		}
	case fzGenProposal, fzGenVote, fzGenTimeout:
		return r.generate(kind, append(append([]byte(nil), body...), 0, 0, 0))
	}
	return nil
}

// certify returns a QC for b signed by three members (the root QC for the root).
func (r *fzRun) certify(b *model.Block, sel byte) *model.QC {
	if b.IsRoot() {
		return r.net.rootQC
	}
	signers := [][]int{{0, 1, 2}, {1, 2, 3}, {0, 2, 3}, {0, 1, 2, 3}}[sel%4]
	q := r.net.qc(b.View, b.ID(), signers...)
	r.addQC(q)
	return q
}

// generate builds a correctly signed message from body bytes.
func (r *fzRun) generate(kind byte, body []byte) consensus.Event {
	n := r.net
	switch kind {
	case fzGenProposal: // parent, view skip, signer choice
		parent := r.blocks[int(body[0])%len(r.blocks)]
		if parent.View > 1<<62 {
			return nil
		}
		qc := r.certify(parent, body[2])
		skip := model.View(body[1] % 4)
		view := parent.View + 1 + skip
		var tc *model.TC
		if skip > 0 {
			tc = n.tc(view-1, qc, 1, 2, 3)
		}
		b := n.block(view, parent, qc, tc)
		r.addBlock(b)
		return consensus.ProposalEvent{Proposal: n.proposal(b)}
	case fzGenVote: // member, block
		b := r.blocks[int(body[1])%len(r.blocks)]
		if b.IsRoot() {
			return nil
		}
		return consensus.VoteEvent{Vote: n.vote(b, int(body[0])%4)}
	case fzGenTimeout: // member, newest QC, view skip
		qc := r.qcs[int(body[1])%len(r.qcs)]
		if qc.View > 1<<62 {
			return nil
		}
		skip := model.View(body[2] % 3)
		view := qc.View + 1 + skip
		var tc *model.TC
		if skip > 0 {
			tc = n.tc(view-1, qc, 1, 2, 3)
		}
		return consensus.TimeoutEvent{Timeout: n.timeout(view, qc, tc, int(body[0])%4)}
	}
	return nil
}

// run executes one fuzz input and returns the finished run for inspection.
func (net *fzNet) run(t *testing.T, data []byte) *fzRun {
	r := &fzRun{t: t, net: net, core: net.newCore(t), now: fzEpoch,
		blocks: []*model.Block{net.root}, qcs: []*model.QC{net.rootQC},
		votes: map[model.View]*model.Vote{}, timeouts: map[model.View]*model.TimeoutObject{},
		proposals: map[model.View]model.Identifier{}, final: net.root}
	out, err := r.core.Start(r.now)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	r.next = out.NextTimer
	r.output(out)
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
		r.now = r.now.Add(10 * time.Millisecond)
		if kind == fzTimer {
			if len(body) > 0 {
				r.now = r.now.Add(time.Duration(body[0]) * 100 * time.Millisecond)
			} else if r.next.After(r.now) {
				r.now = r.next
			}
			ev = consensus.TimerEvent{}
		} else if ev = r.decode(kind, body); ev == nil {
			continue
		}
		queue := []consensus.Event{ev}
		for len(queue) > 0 {
			ev, queue = queue[0], queue[1:]
			out, err := r.core.Step(r.now, ev)
			r.next = out.NextTimer
			queue = append(queue, r.output(out)...)
			if r.checkErr(err, fmt.Sprintf("step %d (%T)", steps, ev)) {
				r.stopped = true
				return r
			}
		}
	}
	return r
}

func FuzzCoreIntake(f *testing.F) {
	net := fzSetup(f)
	for _, s := range net.seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		net.run(t, data)
	})
}

// TestFuzzCoreIntakeSeedsGoDeep makes sure the seed corpus does what it is
// for: it drives the replica through voting, proposing, timeouts and
// finalization, so the fuzzer starts from deep states.
func TestFuzzCoreIntakeSeedsGoDeep(t *testing.T) {
	net := fzSetup(t)
	seeds := net.seeds()
	r := net.run(t, seeds[0])
	if r.votes[1] == nil || r.proposals[2] == (model.Identifier{}) || r.view != 2 {
		t.Fatalf("seed 0: vote %v, proposal for view 2 %v, view %d", r.votes[1] != nil, r.proposals[2], r.view)
	}
	r = net.run(t, seeds[1])
	if r.finalized < 3 || r.view != 5 {
		t.Fatalf("seed 1: %d blocks finalized, view %d", r.finalized, r.view)
	}
	r = net.run(t, seeds[2])
	if r.timeouts[1] == nil || r.view < 3 {
		t.Fatalf("seed 2: timed out %v, view %d", r.timeouts[1] != nil, r.view)
	}
	r = net.run(t, seeds[3])
	if r.finalized < 1 {
		t.Fatalf("seed 3: nothing finalized from synced blocks")
	}
	r = net.run(t, seeds[4])
	if r.evidence < 1 {
		t.Fatal("seed 4: equivocation gave no evidence")
	}
	r = net.run(t, seeds[5])
	if r.finalized < 2 || r.stopped {
		t.Fatalf("seed 5 (generated): %d finalized, stopped %v", r.finalized, r.stopped)
	}
}

// TestCoreDropsMalformedVoteSignature: events should carry verified
// messages, but a vote whose signature cannot even be decoded must be
// dropped as invalid, not stop the replica, and must not poison the view's
// aggregate: the valid votes still form a QC. (Found by review of the fuzz
// harness: the aggregator used to return the scheme's error as fatal.)
func TestCoreDropsMalformedVoteSignature(t *testing.T) {
	net := fzSetup(t)
	core := net.newCore(t)
	if _, err := core.Start(fzEpoch); err != nil {
		t.Fatal(err)
	}
	b1 := net.block(1, net.root, net.rootQC, nil)
	bad, err := model.NewVote(1, b1.ID(), net.com.Member(3).ID, make([]byte, 33))
	if err != nil {
		t.Fatal(err)
	}
	events := []*model.Vote{bad, net.vote(b1, 1), net.vote(b1, 2), net.vote(b1, 0)}
	for i, v := range events {
		_, err := core.Step(fzEpoch, consensus.VoteEvent{Vote: v})
		if consensus.IsFatal(err) {
			t.Fatalf("vote %d: fatal error for a malformed vote signature: %v", i, err)
		}
	}
	if core.NewestQC().View != 1 {
		t.Fatalf("three valid votes for view 1 formed no QC (newest QC view %d)", core.NewestQC().View)
	}
}

// TestCoreOutputBlocksAreDistinct: proposals whose parents arrive late wait
// in the pending pool; when the missing ancestor arrives, every waiting
// descendant is added, and each block must be listed once in Output.Blocks
// ("new blocks added to the tree, to store").
func TestCoreOutputBlocksAreDistinct(t *testing.T) {
	net := fzSetup(t)
	core := net.newCore(t)
	if _, err := core.Start(fzEpoch); err != nil {
		t.Fatal(err)
	}
	blocks := []*model.Block{net.root}
	qcs := []*model.QC{net.rootQC}
	for v := model.View(1); v <= 6; v++ {
		b := net.block(v, blocks[len(blocks)-1], qcs[len(qcs)-1], nil)
		blocks = append(blocks, b)
		qcs = append(qcs, net.qc(v, b.ID(), 0, 1, 2))
	}
	var stored []*model.Block
	for i := 6; i >= 1; i-- {
		out, err := core.Step(fzEpoch, consensus.ProposalEvent{Proposal: net.proposal(blocks[i])})
		if err != nil {
			t.Fatalf("proposal %d: %v", i, err)
		}
		stored = append(stored, out.Blocks...)
	}
	if core.Finalized().View != 4 {
		t.Fatalf("finalized view %d, want 4", core.Finalized().View)
	}
	seen := make(map[model.Identifier]bool)
	for _, b := range stored {
		if seen[b.ID()] {
			t.Fatalf("block of view %d listed twice in Output.Blocks (%d entries for %d blocks)", b.View, len(stored), 6)
		}
		seen[b.ID()] = true
	}
	if len(seen) != 6 {
		t.Fatalf("%d distinct blocks stored, want 6", len(seen))
	}
}

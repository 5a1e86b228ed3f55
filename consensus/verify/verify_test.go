package verify_test

import (
	"encoding/binary"
	"errors"
	"sort"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
)

type fixture struct {
	t      testing.TB
	scheme crypto.Scheme
	keys   map[model.NodeID]crypto.PrivateKey
	com    *committee.Committee
	root   *model.Block
	rootQC *model.QC
	v      *verify.Verifier
}

func newFixture(t testing.TB, s crypto.Scheme, weights ...uint64) *fixture {
	t.Helper()
	f := &fixture{t: t, scheme: s, keys: make(map[model.NodeID]crypto.PrivateKey)}
	members := make([]committee.Member, len(weights))
	for i, w := range weights {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+100)
		key, err := s.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		f.keys[id] = key
		members[i] = committee.Member{ID: id, Weight: w, StakingKey: key.PublicKey(), Possession: mustPossession(key)}
	}
	var err error
	if f.com, err = committee.New(members, [32]byte{5}); err != nil {
		t.Fatal(err)
	}
	if f.root, err = model.NewRootBlock(testChain, 0, 0, 1000, []byte("genesis")); err != nil {
		t.Fatal(err)
	}
	if f.rootQC, err = model.NewRootQC(0, f.root.ID(), len(weights)); err != nil {
		t.Fatal(err)
	}
	f.v = verify.New(testChain, f.com, s, f.rootQC)
	return f
}

func (f *fixture) id(i int) model.NodeID { return f.com.Member(i).ID }

func (f *fixture) sign(id model.NodeID, d crypto.Domain, msg []byte) []byte {
	f.t.Helper()
	sig, err := f.keys[id].Sign(d, msg)
	if err != nil {
		f.t.Fatal(err)
	}
	return sig
}

func (f *fixture) aggregate(sigs [][]byte) []byte {
	f.t.Helper()
	sig, err := f.scheme.AggregateSignatures(sigs)
	if err != nil {
		f.t.Fatal(err)
	}
	return sig
}

func (f *fixture) signers(idx ...int) model.SignerSet {
	s, err := model.NewSignerSet(f.com.Size())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, i := range idx {
		s.Set(i)
	}
	return s
}

func (f *fixture) qc(view model.View, blockID model.Identifier, idx ...int) *model.QC {
	f.t.Helper()
	var sigs [][]byte
	for _, i := range idx {
		sigs = append(sigs, f.sign(f.id(i), crypto.DomainVote, model.VoteMessage(testChain, view, blockID)))
	}
	qc, err := model.NewQC(view, blockID, f.signers(idx...), f.aggregate(sigs))
	if err != nil {
		f.t.Fatal(err)
	}
	return qc
}

func (f *fixture) tc(view model.View, newestQC *model.QC, qcViews map[int]model.View) *model.TC {
	f.t.Helper()
	idx := make([]int, 0, len(qcViews))
	for i := range qcViews {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var (
		views []model.View
		sigs  [][]byte
	)
	for _, i := range idx {
		views = append(views, qcViews[i])
		sigs = append(sigs, f.sign(f.id(i), crypto.DomainTimeout, model.TimeoutMessage(testChain, view, qcViews[i])))
	}
	tc, err := model.NewTC(view, newestQC, views, f.signers(idx...), f.aggregate(sigs))
	if err != nil {
		f.t.Fatal(err)
	}
	return tc
}

func (f *fixture) block(view model.View, proposer model.NodeID, parent *model.Block, qc *model.QC, tc *model.TC) *model.Block {
	f.t.Helper()
	payload := []byte{byte(view)}
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID,
		View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: proposer, Timestamp: parent.Timestamp + 1, PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) proposal(b *model.Block) *model.Proposal {
	f.t.Helper()
	p, err := model.NewProposal(b, f.sign(b.ProposerID, crypto.DomainProposal, model.ProposalMessage(testChain, b.ID())))
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) vote(view model.View, blockID model.Identifier, signer model.NodeID) *model.Vote {
	f.t.Helper()
	v, err := model.NewVote(view, blockID, signer, f.sign(signer, crypto.DomainVote, model.VoteMessage(testChain, view, blockID)))
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) timeout(view model.View, qc *model.QC, tc *model.TC, i int) *model.TimeoutObject {
	f.t.Helper()
	to, err := model.NewTimeoutObject(view, qc, tc, f.id(i), f.sign(f.id(i), crypto.DomainTimeout, model.TimeoutMessage(testChain, view, qc.View)))
	if err != nil {
		f.t.Fatal(err)
	}
	return to
}

// nonLeader returns a member index that does not lead view v.
func (f *fixture) nonLeader(v model.View) int {
	for i := range f.com.Size() {
		if f.id(i) != f.com.Leader(v) {
			return i
		}
	}
	f.t.Fatal("every member leads")
	return 0
}

func mustPass(t *testing.T, name string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: rejected: %v", name, err)
	}
}

// mustFail requires an error wrapping one of the documented sentinels, and
// the specific one when want is given.
func mustFail(t *testing.T, name string, err error, want error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: accepted", name)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v does not wrap %v", name, err, want)
	case !errors.Is(err, model.ErrInvalid) && !errors.Is(err, crypto.ErrInvalidSignature) && !errors.Is(err, crypto.ErrMalformedSignature):
		t.Errorf("%s: error %v wraps no documented sentinel", name, err)
	}
}

func cloneQC(q *model.QC) *model.QC {
	c := *q
	c.Signers = q.Signers.Clone()
	c.Signature = append([]byte(nil), q.Signature...)
	return &c
}

func cloneTC(tc *model.TC) *model.TC {
	c := *tc
	c.NewestQCViews = append([]model.View(nil), tc.NewestQCViews...)
	c.Signers = tc.Signers.Clone()
	c.Signature = append([]byte(nil), tc.Signature...)
	return &c
}

// scenario runs the verification checks against one scheme.
func scenario(t *testing.T, s crypto.Scheme) {
	f := newFixture(t, s, 1, 1, 1, 1)
	leader1 := f.com.Leader(1)
	b1 := f.block(1, leader1, f.root, f.rootQC, nil)
	qc1 := f.qc(1, b1.ID(), 0, 1, 2)

	// QCs.
	mustPass(t, "QC of 3/4", f.v.QC(qc1))
	mustPass(t, "QC of 4/4", f.v.QC(f.qc(1, b1.ID(), 0, 1, 2, 3)))
	mustFail(t, "QC of 2/4", f.v.QC(f.qc(1, b1.ID(), 0, 1)), model.ErrInvalid)
	mustFail(t, "nil QC", f.v.QC(nil), model.ErrInvalid)

	flipped := cloneQC(qc1)
	flipped.Signers = f.signers(0, 1, 3) // same weight, one signer swapped
	mustFail(t, "QC with signer bit moved", f.v.QC(flipped), crypto.ErrInvalidSignature)
	added := cloneQC(qc1)
	added.Signers.Set(3) // claims a signer who did not sign
	mustFail(t, "QC with extra signer bit", f.v.QC(added), crypto.ErrInvalidSignature)
	removed := cloneQC(f.qc(1, b1.ID(), 0, 1, 2, 3))
	removed.Signers = f.signers(0, 1, 2)
	mustFail(t, "QC with a signer bit cleared", f.v.QC(removed), crypto.ErrInvalidSignature)

	wrongBlock := cloneQC(qc1)
	wrongBlock.BlockID[0] ^= 1
	mustFail(t, "QC for another block ID", f.v.QC(wrongBlock), crypto.ErrInvalidSignature)
	wrongView := cloneQC(qc1)
	wrongView.View = 2
	mustFail(t, "QC for another view", f.v.QC(wrongView), crypto.ErrInvalidSignature)
	badSig := cloneQC(qc1)
	badSig.Signature[0] ^= 1
	mustFail(t, "QC with corrupted signature", f.v.QC(badSig), nil)

	other, _ := model.NewSignerSet(5)
	for i := range 4 {
		other.Set(i)
	}
	wrongSize := cloneQC(qc1)
	wrongSize.Signers = other
	mustFail(t, "QC over a 5-member signer set", f.v.QC(wrongSize), model.ErrInvalid)

	// Timeout-domain signatures over the same bytes must not make a QC.
	var tsigs [][]byte
	for _, i := range []int{0, 1, 2} {
		tsigs = append(tsigs, f.sign(f.id(i), crypto.DomainTimeout, model.VoteMessage(testChain, 1, b1.ID())))
	}
	crossDomain, err := model.NewQC(1, b1.ID(), f.signers(0, 1, 2), f.aggregate(tsigs))
	if err != nil {
		t.Fatal(err)
	}
	mustFail(t, "QC signed under the timeout domain", f.v.QC(crossDomain), crypto.ErrInvalidSignature)

	// Root QC: only the configured one.
	mustPass(t, "root QC", f.v.QC(f.rootQC))
	sameRoot, _ := model.NewRootQC(0, f.root.ID(), 4)
	mustPass(t, "equal copy of the root QC", f.v.QC(sameRoot))
	for name, q := range map[string]func() (*model.QC, error){
		"root QC for another block": func() (*model.QC, error) { return model.NewRootQC(0, b1.ID(), 4) },
		"root QC for another view":  func() (*model.QC, error) { return model.NewRootQC(1, f.root.ID(), 4) },
		"root QC for another size":  func() (*model.QC, error) { return model.NewRootQC(0, f.root.ID(), 5) },
	} {
		rq, err := q()
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, name, f.v.QC(rq), model.ErrInvalid)
	}
	noRoot := verify.New(testChain, f.com, s, nil)
	mustFail(t, "root QC without a configured root", noRoot.QC(f.rootQC), model.ErrInvalid)
	mustPass(t, "signed QC without a configured root", noRoot.QC(qc1))

	// TCs: the views of the signers differ, so verification groups them.
	tc2 := f.tc(2, qc1, map[int]model.View{0: 1, 1: 0, 3: 1})
	mustPass(t, "TC", f.v.TC(tc2))
	tc1 := f.tc(1, f.rootQC, map[int]model.View{0: 0, 1: 0, 2: 0, 3: 0})
	mustPass(t, "TC on the root QC", f.v.TC(tc1))
	mustFail(t, "nil TC", f.v.TC(nil), model.ErrInvalid)

	tampered := cloneTC(tc2)
	tampered.NewestQCViews[1] = 1 // signer 1 signed (2, 0), not (2, 1)
	mustFail(t, "TC with a tampered newest-QC view", f.v.TC(tampered), crypto.ErrInvalidSignature)
	swapped := cloneTC(tc2)
	swapped.NewestQCViews[0], swapped.NewestQCViews[1] = swapped.NewestQCViews[1], swapped.NewestQCViews[0]
	mustFail(t, "TC with newest-QC views attributed to the wrong signers", f.v.TC(swapped), crypto.ErrInvalidSignature)
	moved := cloneTC(tc2)
	moved.Signers = f.signers(0, 2, 3)
	mustFail(t, "TC with a signer swapped", f.v.TC(moved), crypto.ErrInvalidSignature)
	otherView := cloneTC(tc2)
	otherView.View = 3
	mustFail(t, "TC for another view", f.v.TC(otherView), crypto.ErrInvalidSignature)
	mustFail(t, "TC of 2/4", f.v.TC(f.tc(2, qc1, map[int]model.View{0: 1, 1: 0})), model.ErrInvalid)
	badQC := cloneTC(tc2)
	badQC.NewestQC = wrongBlock
	mustFail(t, "TC with an invalid newest QC", f.v.TC(badQC), crypto.ErrInvalidSignature)
	weakQC := cloneTC(tc2)
	weakQC.NewestQC = f.qc(1, b1.ID(), 0)
	mustFail(t, "TC with a newest QC below supermajority", f.v.TC(weakQC), model.ErrInvalid)

	// Votes.
	voter := f.id(2)
	mustPass(t, "vote", f.v.Vote(f.vote(1, b1.ID(), voter)))
	strangerKey, err := s.KeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	stranger := crypto.Sum(strangerKey.PublicKey().Bytes())
	sig, _ := strangerKey.Sign(crypto.DomainVote, model.VoteMessage(testChain, 1, b1.ID()))
	outsider, _ := model.NewVote(1, b1.ID(), stranger, sig)
	mustFail(t, "vote by a non-member", f.v.Vote(outsider), model.ErrInvalid)
	impostor, _ := model.NewVote(1, b1.ID(), f.id(3), f.sign(voter, crypto.DomainVote, model.VoteMessage(testChain, 1, b1.ID())))
	mustFail(t, "vote signed by another member", f.v.Vote(impostor), crypto.ErrInvalidSignature)
	moved1 := f.vote(1, b1.ID(), voter)
	moved1.View = 2
	mustFail(t, "vote moved to another view", f.v.Vote(moved1), crypto.ErrInvalidSignature)
	propSig, _ := model.NewVote(1, b1.ID(), voter, f.sign(voter, crypto.DomainProposal, model.VoteMessage(testChain, 1, b1.ID())))
	mustFail(t, "vote signed under the proposal domain", f.v.Vote(propSig), crypto.ErrInvalidSignature)

	// Proposals.
	p1 := f.proposal(b1)
	mustPass(t, "proposal by the leader", f.v.Proposal(p1))
	b3 := f.block(3, f.com.Leader(3), b1, qc1, tc2)
	mustPass(t, "proposal with a TC", f.v.Proposal(f.proposal(b3)))
	notLeader := f.block(1, f.id(f.nonLeader(1)), f.root, f.rootQC, nil)
	mustFail(t, "proposal by a non-leader", f.v.Proposal(f.proposal(notLeader)), model.ErrInvalid)
	forged, _ := model.NewProposal(b1, f.sign(f.id(f.nonLeader(1)), crypto.DomainProposal, model.ProposalMessage(testChain, b1.ID())))
	mustFail(t, "leader's proposal signed by someone else", f.v.Proposal(forged), crypto.ErrInvalidSignature)
	voteSig, _ := model.NewProposal(b1, f.sign(leader1, crypto.DomainVote, model.ProposalMessage(testChain, b1.ID())))
	mustFail(t, "proposal signed under the vote domain", f.v.Proposal(voteSig), crypto.ErrInvalidSignature)
	b2bad := f.block(2, f.com.Leader(2), b1, wrongBlockQC(t, f, b1), nil)
	mustFail(t, "proposal with an invalid parent QC", f.v.Proposal(f.proposal(b2bad)), crypto.ErrInvalidSignature)
	b3bad := f.block(3, f.com.Leader(3), b1, qc1, tampered)
	mustFail(t, "proposal with an invalid TC", f.v.Proposal(f.proposal(b3bad)), crypto.ErrInvalidSignature)
	mustFail(t, "root block", f.v.Block(f.root), model.ErrInvalid)

	// Timeouts.
	mustPass(t, "timeout on the previous view's QC", f.v.Timeout(f.timeout(2, qc1, nil, 0)))
	mustPass(t, "timeout with TC", f.v.Timeout(f.timeout(3, qc1, tc2, 1)))
	mustFail(t, "timeout with a tampered TC", f.v.Timeout(f.timeout(3, qc1, tampered, 1)), crypto.ErrInvalidSignature)
	mustFail(t, "timeout with a weak TC", f.v.Timeout(f.timeout(3, qc1, f.tc(2, qc1, map[int]model.View{0: 1, 1: 0}), 1)), model.ErrInvalid)
	mustFail(t, "timeout with an invalid QC", f.v.Timeout(f.timeout(2, wrongBlock, nil, 0)), crypto.ErrInvalidSignature)
	to := f.timeout(2, qc1, nil, 0)
	to.SignerID = f.id(1)
	mustFail(t, "timeout re-attributed to another member", f.v.Timeout(to), crypto.ErrInvalidSignature)
	to = f.timeout(2, qc1, nil, 0)
	to.SignerID = stranger
	mustFail(t, "timeout by a non-member", f.v.Timeout(to), model.ErrInvalid)
	// The signature covers the newest QC view: swapping in an older QC
	// breaks it even though the shape stays valid.
	to = f.timeout(2, qc1, nil, 0)
	to.NewestQC = f.rootQC
	to.LastViewTC = tc1
	mustFail(t, "timeout with its newest QC replaced", f.v.Timeout(to), crypto.ErrInvalidSignature)
}

// wrongBlockQC returns a valid-looking QC for view 1 whose signatures are
// over a different block ID than the one it names (b1's).
func wrongBlockQC(t *testing.T, f *fixture, b1 *model.Block) *model.QC {
	t.Helper()
	other := b1.ID()
	other[0] ^= 1
	q := f.qc(1, other, 0, 1, 2)
	q.BlockID = b1.ID()
	return q
}

func TestVerifyFast(t *testing.T) { scenario(t, crypto.Fast()) }

func TestVerifyBLS(t *testing.T) {
	if testing.Short() {
		t.Skip("BLS pairings")
	}
	scenario(t, crypto.BLS())
}

// TestWeightedQC: weight, not head count, decides.
func TestWeightedQC(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1, 4) // total 7, supermajority 5
	heavy := -1
	for i, m := range f.com.Members() {
		if m.Weight == 4 {
			heavy = i
		}
	}
	var light []int
	for i := range 4 {
		if i != heavy {
			light = append(light, i)
		}
	}
	id := f.root.ID()
	mustFail(t, "three light members (weight 3 of 7)", f.v.QC(f.qc(1, id, light...)), model.ErrInvalid)
	mustFail(t, "heavy member alone (weight 4 of 7)", f.v.QC(f.qc(1, id, heavy)), model.ErrInvalid)
	mustPass(t, "heavy and one light (weight 5 of 7)", f.v.QC(f.qc(1, id, heavy, light[0])))

	to := f.tc(1, f.rootQC, map[int]model.View{heavy: 0, light[1]: 0})
	mustPass(t, "weighted TC", f.v.TC(to))
	mustFail(t, "light TC", f.v.TC(f.tc(1, f.rootQC, map[int]model.View{light[0]: 0, light[1]: 0, light[2]: 0})), model.ErrInvalid)
}

func TestVerifierCommittee(t *testing.T) {
	f := newFixture(t, crypto.Fast(), 1, 1, 1)
	if f.v.Schedule() != committee.Schedule(f.com) {
		t.Fatal("Schedule() is not the configured committee")
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

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")

package model_test

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// fixture is a committee with keys, a root and helpers that build correctly
// signed consensus objects, so tests start from real, valid messages.
type fixture struct {
	t      testing.TB
	scheme crypto.Scheme
	keys   map[model.NodeID]crypto.PrivateKey
	com    *committee.Committee
	root   *model.Block
	rootQC *model.QC
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	f := &fixture{t: t, scheme: crypto.Fast(), keys: make(map[model.NodeID]crypto.PrivateKey)}
	members := make([]committee.Member, n)
	for i := range members {
		seed := make([]byte, 32)
		binary.BigEndian.PutUint64(seed, uint64(i)+1)
		key, err := f.scheme.KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		id := crypto.Sum(key.PublicKey().Bytes())
		f.keys[id] = key
		members[i] = committee.Member{ID: id, Weight: 1, StakingKey: key.PublicKey(), Possession: mustPossession(key)}
	}
	var err error
	if f.com, err = committee.New(members, [32]byte{1}); err != nil {
		t.Fatal(err)
	}
	if f.root, err = model.NewRootBlock(testChain, 0, 0, 1_700_000_000_000, []byte("genesis")); err != nil {
		t.Fatal(err)
	}
	if f.rootQC, err = model.NewRootQC(0, f.root.ID(), n); err != nil {
		t.Fatal(err)
	}
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

// qc builds a QC signed by the members at the given canonical indices.
func (f *fixture) qc(view model.View, blockID model.Identifier, signers ...int) *model.QC {
	f.t.Helper()
	set, err := model.NewSignerSet(f.com.Size())
	if err != nil {
		f.t.Fatal(err)
	}
	var sigs [][]byte
	for _, i := range signers {
		set.Set(i)
		sigs = append(sigs, f.sign(f.id(i), crypto.DomainVote, model.VoteMessage(testChain, view, blockID)))
	}
	qc, err := model.NewQC(view, blockID, set, f.aggregate(sigs))
	if err != nil {
		f.t.Fatal(err)
	}
	return qc
}

// tc builds a TC for view; qcViews maps signer index to its newest QC view.
// newestQC must be for the highest of those views.
func (f *fixture) tc(view model.View, newestQC *model.QC, qcViews map[int]model.View) *model.TC {
	f.t.Helper()
	set, err := model.NewSignerSet(f.com.Size())
	if err != nil {
		f.t.Fatal(err)
	}
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
		set.Set(i)
		views = append(views, qcViews[i])
		sigs = append(sigs, f.sign(f.id(i), crypto.DomainTimeout, model.TimeoutMessage(testChain, view, qcViews[i])))
	}
	tc, err := model.NewTC(view, newestQC, views, set, f.aggregate(sigs))
	if err != nil {
		f.t.Fatal(err)
	}
	return tc
}

func (f *fixture) header(view model.View, parent *model.Block, qc *model.QC, tc *model.TC, payload []byte) model.Header {
	return model.Header{ChainID: parent.ChainID,
		View: view, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: f.com.Leader(view), Timestamp: parent.Timestamp + int64(view), PayloadHash: model.PayloadHash(payload),
	}
}

func (f *fixture) block(view model.View, parent *model.Block, qc *model.QC, tc *model.TC, payload []byte) *model.Block {
	f.t.Helper()
	b, err := model.NewBlock(f.header(view, parent, qc, tc, payload), payload)
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

func (f *fixture) vote(view model.View, blockID model.Identifier, i int) *model.Vote {
	f.t.Helper()
	v, err := model.NewVote(view, blockID, f.id(i), f.sign(f.id(i), crypto.DomainVote, model.VoteMessage(testChain, view, blockID)))
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) timeout(view model.View, newestQC *model.QC, tc *model.TC, i int) *model.TimeoutObject {
	f.t.Helper()
	sig := f.sign(f.id(i), crypto.DomainTimeout, model.TimeoutMessage(testChain, view, newestQC.View))
	t, err := model.NewTimeoutObject(view, newestQC, tc, f.id(i), sig)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// chain is a small valid history: the root, b1 (view 1) on the root QC, a
// QC for b1, a TC for view 2, and b3 (view 3) extending b1 with that TC.
type chain struct {
	*fixture
	b1, b3   *model.Block
	qc1, qc3 *model.QC
	tc2      *model.TC
	to2, to3 *model.TimeoutObject
}

func newChain(t testing.TB) *chain {
	f := newFixture(t, 4)
	c := &chain{fixture: f}
	c.b1 = f.block(1, f.root, f.rootQC, nil, []byte("one"))
	c.qc1 = f.qc(1, c.b1.ID(), 0, 1, 2)
	c.tc2 = f.tc(2, c.qc1, map[int]model.View{0: 1, 1: 1, 3: 0})
	c.b3 = f.block(3, c.b1, c.qc1, c.tc2, []byte("three"))
	c.qc3 = f.qc(3, c.b3.ID(), 1, 2, 3)
	c.to2 = f.timeout(2, c.qc1, nil, 0)
	c.to3 = f.timeout(3, c.qc1, c.tc2, 1)
	return c
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

// Package testchain builds chains of really certified blocks: a committee of
// real keys (BLS or the simulator's fast scheme) signs a QC for every block,
// leaders sign proposals, and every header carries the QC of its parent. It
// exists for tests and for `floe bench`, which must measure validation
// against real signatures, not mocks.
//
// The chain has one epoch: the committee is a static schedule. Views are
// consecutive (no timeouts, so no TCs), which is what a healthy network
// produces and what sync mostly moves.
package testchain

import (
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// ChainID is the chain ID of every chain this package builds.
var ChainID = model.MainChain("testchain")

// Chain is a committee with its private keys and a trusted root. It is safe
// for concurrent use: it holds no mutable state.
type Chain struct {
	Scheme    crypto.Scheme
	Committee *committee.Committee
	Root      *model.Block
	RootQC    *model.QC
	// keys are in the committee's canonical order.
	keys []crypto.PrivateKey
	// Signers is how many members (the first ones in canonical order) sign
	// each QC: by default the smallest prefix whose weight reaches a
	// supermajority (3 of 4 equal members).
	Signers int
}

// New builds a committee of members equally weighted members whose keys are
// derived from label, and a root block at view 0, height 0.
func New(scheme crypto.Scheme, members int, label string) (*Chain, error) {
	if members <= 0 {
		return nil, fmt.Errorf("testchain: %d members", members)
	}
	keys := make([]crypto.PrivateKey, members)
	for i := range keys {
		seed := crypto.Sum([]byte(fmt.Sprintf("testchain %s member %d", label, i)))
		k, err := scheme.KeyFromSeed(seed[:])
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return FromKeys(scheme, keys, crypto.Sum([]byte("testchain leader seed "+label)), []byte("testchain root "+label))
}

// FromKeys builds the chain of a committee with the given keys (weight 1
// each), leader seed and root payload. Tests that start real nodes pass the
// nodes' staking keys and the genesis root payload, so the chain they build
// is the one those nodes would accept.
func FromKeys(scheme crypto.Scheme, keys []crypto.PrivateKey, seed [32]byte, rootPayload []byte) (*Chain, error) {
	members := make([]committee.Member, len(keys))
	for i, k := range keys {
		pop, err := k.ProvePossession()
		if err != nil {
			return nil, err
		}
		members[i] = committee.Member{ID: crypto.Sum(k.PublicKey().Bytes()), Weight: 1, StakingKey: k.PublicKey(), Possession: pop}
	}
	com, err := committee.New(members, seed)
	if err != nil {
		return nil, err
	}
	ordered := make([]crypto.PrivateKey, len(keys))
	for _, k := range keys {
		i, err := com.Index(crypto.Sum(k.PublicKey().Bytes()))
		if err != nil {
			return nil, err
		}
		ordered[i] = k
	}
	root, err := model.NewRootBlock(ChainID, 0, 0, 1_700_000_000_000, rootPayload)
	if err != nil {
		return nil, err
	}
	rootQC, err := model.NewRootQC(0, root.ID(), com.Size())
	if err != nil {
		return nil, err
	}
	signers := 0
	for w := uint64(0); w < com.SupermajorityThreshold(); signers++ {
		w += com.Member(signers).Weight
	}
	return &Chain{Scheme: scheme, Committee: com, Root: root, RootQC: rootQC, keys: ordered, Signers: signers}, nil
}

// WithRoot returns a copy of the chain that starts from another root (for
// example a genesis file's root block).
func (c *Chain) WithRoot(root *model.Block, rootQC *model.QC) *Chain {
	cp := *c
	cp.Root, cp.RootQC = root, rootQC
	return &cp
}

// Key returns the private key of member id.
func (c *Chain) Key(id model.NodeID) (crypto.PrivateKey, error) {
	i, err := c.Committee.Index(id)
	if err != nil {
		return nil, err
	}
	return c.keys[i], nil
}

// QC certifies (view, id) with the votes of the first c.Signers members,
// signed concurrently and aggregated.
func (c *Chain) QC(view model.View, id model.Identifier) (*model.QC, error) {
	set, err := model.NewSignerSet(c.Committee.Size())
	if err != nil {
		return nil, err
	}
	msg := model.VoteMessage(c.Root.ChainID, view, id)
	sigs := make([][]byte, c.Signers)
	errs := make([]error, c.Signers)
	var wg sync.WaitGroup
	for i := 0; i < c.Signers; i++ {
		set.Set(i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sigs[i], errs[i] = c.keys[i].Sign(crypto.DomainVote, msg)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	agg, err := c.Scheme.AggregateSignatures(sigs)
	if err != nil {
		return nil, err
	}
	return model.NewQC(view, id, set, agg)
}

// Child builds the block of view parentQC.View+1 on the certified parent,
// proposed by that view's leader.
func (c *Chain) Child(parent *model.Block, parentQC *model.QC, payload []byte) (*model.Block, error) {
	view := parentQC.View + 1
	return model.NewBlock(model.Header{ChainID: parent.ChainID,
		View:        view,
		Height:      parent.Height + 1,
		ParentID:    parent.ID(),
		QC:          parentQC,
		ProposerID:  c.Committee.Leader(view),
		Timestamp:   parent.Timestamp + 1,
		PayloadHash: model.PayloadHash(payload),
	}, payload)
}

// Propose signs b as its proposer. Tests build equivocating proposals by
// signing several children of one parent.
func (c *Chain) Propose(b *model.Block) (*model.Proposal, error) {
	k, err := c.Key(b.ProposerID)
	if err != nil {
		return nil, err
	}
	sig, err := k.Sign(crypto.DomainProposal, model.ProposalMessage(c.Root.ChainID, b.ID()))
	if err != nil {
		return nil, err
	}
	return model.NewProposal(b, sig)
}

// Segment is a run of consecutive certified blocks and the QC that certifies
// the last one (which no block of the segment carries).
type Segment struct {
	Blocks []*model.Block
	TipQC  *model.QC
}

// Extend builds n blocks on the certified parent, each with a payload from
// payload(i) (nil: empty payloads), and certifies every one of them.
func (c *Chain) Extend(parent *model.Block, parentQC *model.QC, n int, payload func(i int) []byte) (Segment, error) {
	seg := Segment{Blocks: make([]*model.Block, 0, n)}
	qc := parentQC
	for i := 0; i < n; i++ {
		var p []byte
		if payload != nil {
			p = payload(i)
		}
		b, err := c.Child(parent, qc, p)
		if err != nil {
			return Segment{}, err
		}
		if qc, err = c.QC(b.View, b.ID()); err != nil {
			return Segment{}, err
		}
		seg.Blocks = append(seg.Blocks, b)
		parent = b
	}
	seg.TipQC = qc
	return seg, nil
}

// CertifyingQC returns the QC that certifies Blocks[i]: the next block's
// parent QC, or TipQC for the last one.
func (s Segment) CertifyingQC(i int) *model.QC {
	if i+1 < len(s.Blocks) {
		return s.Blocks[i+1].QC
	}
	return s.TipQC
}

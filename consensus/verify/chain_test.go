package verify_test

import (
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/crypto"
)

// TestNothingVerifiesOnAnotherChain: the same committee (the same keys)
// signs on two chains, as collectors do on a cluster chain and, in the next
// epoch, on another. Every message kind and certificate signed on one chain
// must be rejected by a verifier of the other, even when views and block
// IDs line up: before chains were named in the signed bytes, a timeout or a
// TC of one chain was valid on any chain with the same committee and view.
func TestNothingVerifiesOnAnotherChain(t *testing.T) {
	for _, s := range []crypto.Scheme{crypto.Fast(), crypto.BLS()} {
		f := newFixture(t, s, 1, 1, 1, 1)
		leader1 := f.com.Leader(1)
		b1 := f.block(1, leader1, f.root, f.rootQC, nil)
		qc1 := f.qc(1, b1.ID(), 0, 1, 2)
		tc2 := f.tc(2, qc1, map[int]model.View{0: 1, 1: 1, 2: 1})
		b3 := f.block(3, f.com.Leader(3), b1, qc1, tc2)
		vote := f.vote(1, b1.ID(), f.id(1))
		timeout := f.timeout(2, qc1, nil, 0)
		proposal := f.proposal(b3)

		same := f.v
		mustPass(t, "QC on its own chain", same.QC(qc1))
		mustPass(t, "TC on its own chain", same.TC(tc2))
		mustPass(t, "vote on its own chain", same.Vote(vote))
		mustPass(t, "timeout on its own chain", same.Timeout(timeout))
		mustPass(t, "proposal on its own chain", same.Proposal(proposal))

		for _, chain := range []model.ChainID{
			model.MainChain("another network"),
			model.ClusterChain(testChain, 1, 0),
			model.ClusterChain(testChain, 2, 0), // the same cluster, next epoch
		} {
			other := verify.New(chain, f.com, s, f.rootQC)
			mustFail(t, "QC of another chain", other.QC(qc1), crypto.ErrInvalidSignature)
			mustFail(t, "TC of another chain", other.TC(tc2), nil)
			mustFail(t, "vote of another chain", other.Vote(vote), crypto.ErrInvalidSignature)
			mustFail(t, "timeout of another chain", other.Timeout(timeout), crypto.ErrInvalidSignature)
			mustFail(t, "proposal of another chain", other.Proposal(proposal), crypto.ErrInvalidSignature)
			mustFail(t, "header of another chain", other.Header(&b3.Header), model.ErrInvalid)
		}
	}
}

// TestChainIDsAreDistinct: cluster chains differ by epoch, by index and by
// network, and none is the main chain.
func TestChainIDsAreDistinct(t *testing.T) {
	main := model.MainChain("net")
	seen := map[model.ChainID]string{main: "main", model.MainChain("net2"): "main net2"}
	for epoch := uint64(0); epoch < 3; epoch++ {
		for i := uint32(0); i < 3; i++ {
			for _, m := range []model.ChainID{main, model.MainChain("net2")} {
				id := model.ClusterChain(m, epoch, i)
				if prev, ok := seen[id]; ok {
					t.Fatalf("cluster %d of epoch %d has the ID of %s", i, epoch, prev)
				}
				seen[id] = "a cluster"
			}
		}
	}
}

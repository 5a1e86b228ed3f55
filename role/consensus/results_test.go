package consensus_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
	node "github.com/floe-bft/floe/role/consensus"
)

// TestPayloadRulesCheckTheExecutionResult: the consensus role refuses a
// block whose payload carries no execution result, one that names the
// block's own height, one that contradicts its parent's, and one whose
// root differs from what this node computed; it accepts the one it
// computed. (The header no longer carries the result: these rules are all
// that stands between a lying leader and a certified wrong root.)
func TestPayloadRulesCheckTheExecutionResult(t *testing.T) {
	tn := newTestnet(t, 1)
	nd, err := node.New(tn.config(0, prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Stop)
	root, rootQC, err := tn.gen.Root(1)
	if err != nil {
		t.Fatal(err)
	}
	genesisRoot := nd.Status().StateRoot
	block := func(parent *model.Block, qc *model.QC, pl *payload.Payload) *model.Block {
		t.Helper()
		raw := pl.Encode()
		b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1,
			ParentID: parent.ID(), QC: qc, ProposerID: tn.keys[0].NodeID(), Timestamp: parent.Timestamp,
			PayloadHash: model.PayloadHash(raw)}, raw)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	res := func(h uint64, root model.Identifier) *payload.Payload {
		return &payload.Payload{Result: &payload.Result{Height: h, Root: root}}
	}
	good := block(root, rootQC, res(0, genesisRoot))
	if err := nd.ValidatePayloadForTest(good, root); err != nil {
		t.Fatalf("the block committing to the genesis state: %v", err)
	}
	childQC := &model.QC{View: good.View, BlockID: good.ID(), Signers: rootQC.Signers, Signature: []byte{1}}
	for name, b := range map[string]*model.Block{
		"no result":                 block(root, rootQC, &payload.Payload{Transactions: [][]byte{[]byte("x")}}),
		"result of its own height":  block(root, rootQC, res(1, genesisRoot)),
		"a root it did not compute": block(root, rootQC, res(0, model.Identifier{0xee})),
	} {
		if err := nd.ValidatePayloadForTest(b, root); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Above a block committing to height 0: the same result again is fine.
	if err := nd.ValidatePayloadForTest(block(good, childQC, res(0, genesisRoot)), good); err != nil {
		t.Fatalf("repeating the parent's result: %v", err)
	}
	// Height 1 is not executed here, so its root cannot be checked against
	// this node's execution: only the rule against the parent's result
	// refuses a child that goes back or changes the parent's root.
	mid := block(good, childQC, res(1, model.Identifier{0x11}))
	if err := nd.ValidatePayloadForTest(mid, good); err != nil {
		t.Fatalf("a result for a height not executed here yet: %v", err)
	}
	midQC := &model.QC{View: mid.View, BlockID: mid.ID(), Signers: rootQC.Signers, Signature: []byte{1}}
	for name, b := range map[string]*model.Block{
		"going back behind the parent's result": block(mid, midQC, res(0, genesisRoot)),
		"another root for the parent's height":  block(mid, midQC, res(1, model.Identifier{0x22})),
	} {
		if err := nd.ValidatePayloadForTest(b, mid); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

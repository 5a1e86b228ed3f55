package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	blockpayload "github.com/floe-bft/floe/payload"
)

// epochRunner is a test runner over a network with 40-view epochs.
func epochRunner(t *testing.T) *Runner {
	t.Helper()
	spec := testSpec()
	spec.Params.TestEpochs(40)
	net, err := GenerateNetwork(filepath.Join(t.TempDir(), "net"), spec)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{m: &Manifest{Name: "test", Validators: 4}, opts: Options{Progress: io.Discard}, rng: rand.New(rand.NewPCG(1, 1)),
		ledger: newLedger(), chain: newChainRecord(), evidence: map[string]bool{}, violationsOf: map[string]int{}, report: &Report{}}
	if err := r.useNetwork(net); err != nil {
		t.Fatal(err)
	}
	return r
}

// epochChain builds blocks at views 1..n (height = view): block 2 carries
// the EpochSetup of epoch 1 (views 41..80, same members, a new seed),
// block 3 its EpochCommit. leaderAt picks each view's proposer; QCs are
// signed by a supermajority of the committee of the parent's view.
// epochChain builds n blocks whose third and fourth commit an epoch
// starting at view 41. Proposers are the leaders under the new schedule,
// or under the genesis committee for every view with genesisLeaders.
func epochChain(t *testing.T, r *Runner, n int, genesisLeaders bool) ([]*model.Block, *epoch.Epoch) {
	t.Helper()
	keys := map[model.NodeID]*genesis.NodeKeys{}
	for _, nd := range r.net.Nodes {
		k, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json"))
		if err != nil {
			t.Fatal(err)
		}
		keys[k.NodeID()] = k
	}
	ep, err := r.net.Genesis.EpochParams()
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := r.net.Genesis.Identities()
	if err != nil {
		t.Fatal(err)
	}
	spec := epoch.Spec{Counter: 1, FirstView: 41, FinalView: 80, Identities: ids, Seed: crypto.Sum([]byte("new seed"))}
	next, err := epoch.New(crypto.BLS(), spec)
	if err != nil {
		t.Fatal(err)
	}
	comAt := func(v model.View) *committee.Committee {
		if v >= 41 {
			return next.Committee()
		}
		return r.committee
	}
	root, rootQC, err := r.net.Genesis.Root(r.committee.Size())
	if err != nil {
		t.Fatal(err)
	}
	chain := []*model.Block{root}
	qc := rootQC
	for h := 1; h <= n; h++ {
		parent := chain[h-1]
		if h > 1 {
			com := comAt(parent.View)
			signers, _ := model.NewSignerSet(com.Size())
			var sigs [][]byte
			for i := 0; i < 3; i++ {
				signers.Set(i)
				sig, err := keys[com.Member(i).ID].Staking.Sign(crypto.DomainVote, model.VoteMessage(parent.ChainID, parent.View, parent.ID()))
				if err != nil {
					t.Fatal(err)
				}
				sigs = append(sigs, sig)
			}
			agg, err := crypto.BLS().AggregateSignatures(sigs)
			if err != nil {
				t.Fatal(err)
			}
			if qc, err = model.NewQC(parent.View, parent.ID(), signers, agg); err != nil {
				t.Fatal(err)
			}
		}
		payload := blockpayload.Transactions([][]byte{[]byte(fmt.Sprintf("tx-%d", h))})
		switch h {
		case 2:
			payload = blockpayload.ServiceEvents([]*epoch.Event{epoch.NewSetup(ep.Chain, spec, r.net.Governance)})
		case 3:
			payload = blockpayload.ServiceEvents([]*epoch.Event{epoch.NewCommit(ep.Chain, &spec, r.net.Governance)})
		}
		view := model.View(h)
		var sched committee.Schedule = scheduleFunc(comAt)
		if genesisLeaders {
			sched = r.committee
		}
		b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: view, Height: uint64(h), ParentID: parent.ID(), QC: qc,
			ProposerID: chainLeader(t, r, sched, view, parent, chain), Timestamp: parent.Timestamp + 100, PayloadHash: model.PayloadHash(payload)}, payload)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b)
	}
	return chain, next
}

// feed records the blocks (in height order, as nodes serve them) and hands
// them to the verifier in a shuffled order, as two goroutines may.
func feed(t *testing.T, r *Runner, chain []*model.Block) {
	t.Helper()
	for _, b := range chain {
		if _, err := r.chain.observe("node0", b, nil); err != nil {
			t.Fatal(err)
		}
	}
	order := rand.New(rand.NewPCG(3, 3)).Perm(len(chain) - 1)
	for _, i := range order {
		b := chain[i+1]
		need, parent, stamp := r.chain.claimVerify(b.Height)
		if !need {
			t.Fatalf("height %d not claimable", b.Height)
		}
		if err := r.epochs.verify(b, parent, stamp, r.violate); err != nil {
			t.Fatal(err)
		}
		if ids, err := payloadTxIDs(b, 100); err != nil {
			t.Fatalf("height %d: %v", b.Height, err)
		} else if evs, _ := blockpayload.ServiceEventsOf(b.Payload); len(evs) > 0 && len(ids) != 0 {
			t.Fatalf("height %d: service events counted as transactions", b.Height)
		}
	}
}

func TestRunnerFollowsEpochChange(t *testing.T) {
	r := epochRunner(t)
	chain, next := epochChain(t, r, 50, false)
	// The new seed must matter, or this test proves nothing.
	differ := 0
	for v := model.View(41); v <= 50; v++ {
		if next.Committee().Leader(v) != r.committee.Leader(v) {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("the new seed picks the same leaders for views 41..50")
	}
	feed(t, r, chain)
	if len(r.violations) != 0 {
		t.Fatalf("violations:\n%s", kinds(r.violations))
	}
	if r.epochs.verifiedCount() != 50 || r.epochs.startedEpoch() != 1 {
		t.Fatalf("verified %d, epoch %d", r.epochs.verifiedCount(), r.epochs.startedEpoch())
	}
	if c, known := r.epochs.committeeAt(45); !known || c.Leader(45) != next.Committee().Leader(45) {
		t.Error("the leader selector does not use the new epoch's seed")
	}
}

func TestRunnerCatchesGenesisLeaderAfterEpochChange(t *testing.T) {
	r := epochRunner(t)
	// Proposers keep following the genesis seed after the change.
	chain, _ := epochChain(t, r, 50, true)
	feed(t, r, chain)
	got := kinds(r.violations)
	if !strings.Contains(got, "chain") || !strings.Contains(got, "not the leader of the view in epoch 1") {
		t.Fatalf("violations:\n%s", got)
	}
}

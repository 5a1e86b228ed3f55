package consensus_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/mempool"
)

// Resubmitting a transaction: while it is pending the node reports it
// accepted (resubmitting is safe); once it is finalized the node refuses
// it as a duplicate, both while the mempool's recent window remembers it
// and after only the store does, and the refused copy never enters the
// pool.
func TestResubmittingAFinalizedTransactionIsADuplicate(t *testing.T) {
	tn := newTestnet(t, 1)
	tn.startAll()
	nd := tn.nodes[0]
	tx := setTx(t, "once", "v")
	first := nd.SubmitTxs([][]byte{tx})[0]
	if first.Error != nil {
		t.Fatalf("submit: %v", first.Error)
	}
	waitFor(t, "the transaction finalized", 20*time.Second, func() bool {
		st, err := nd.TxStatus(first.ID)
		return err == nil && st.Status == "finalized"
	})
	check := func(when string) {
		t.Helper()
		r := nd.SubmitTxs([][]byte{tx})[0]
		if !errors.Is(r.Error, mempool.ErrFinalized) || !errors.Is(r.Error, mempool.ErrDuplicate) || r.ID != first.ID {
			t.Fatalf("%s: resubmitting a finalized transaction: id %s, err %v; want a duplicate (finalized) of %s", when, r.ID, r.Error, first.ID)
		}
		if st := nd.Status(); st.MempoolTxs != 0 {
			t.Fatalf("%s: the refused copy entered the mempool (%d transactions held)", when, st.MempoolTxs)
		}
	}
	check("in the recent window")
	nd.ForgetRecentTxsForTest()
	check("past the recent window")
}

// A service event that is already queued, or already in effect, is
// answered with that instead of being queued (and broadcast) again; an
// event for an epoch that another event already decided is refused.
func TestResubmittedServiceEventsChangeNothing(t *testing.T) {
	tn, gov, p, ids, _ := newGovernedTestnet(t, 1)
	n := tn.nodes[0]
	next := epoch.Spec{Counter: 1, FirstView: 401, FinalView: 800, Identities: ids, Seed: [32]byte{1}}
	setup := epoch.NewSetup(p.Chain, next, gov)
	if err := n.SubmitServiceEvent(setup); err != nil {
		t.Fatal(err)
	}
	// Right away it is queued, unless a block already finalized it.
	if err := n.SubmitServiceEvent(setup); !errors.Is(err, epoch.ErrAlreadyQueued) && !errors.Is(err, epoch.ErrSettled) {
		t.Fatalf("resubmitting a queued setup: %v", err)
	}
	waitFor(t, "setup finalized", 30*time.Second, func() bool { return n.Status().PendingSetup != nil })
	if err := n.SubmitServiceEvent(setup); !errors.Is(err, epoch.ErrSettled) {
		t.Fatalf("resubmitting a finalized setup: %v, want ErrSettled", err)
	}
	commit := epoch.NewCommit(p.Chain, &next, gov)
	if err := n.SubmitServiceEvent(commit); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "epoch 1 committed", 30*time.Second, func() bool { return n.Status().NextEpoch != nil || n.Status().Epoch.Counter == 1 })
	for name, e := range map[string]*epoch.Event{"setup": setup, "commit": commit} {
		if err := n.SubmitServiceEvent(e); !errors.Is(err, epoch.ErrSettled) {
			t.Fatalf("resubmitting the %s of a committed epoch: %v, want ErrSettled", name, err)
		}
	}
	other := next
	other.Seed = [32]byte{2}
	if err := n.SubmitServiceEvent(epoch.NewSetup(p.Chain, other, gov)); !errors.Is(err, epoch.ErrRejected) {
		t.Fatalf("another setup for a committed epoch: %v, want ErrRejected", err)
	}
}

// newGovernedTestnet starts n nodes with 400-view epochs and a governance
// key, and returns what a test needs to sign service events for them.
func newGovernedTestnet(t *testing.T, n int) (*testnet, ed25519.PrivateKey, epoch.Params, []epoch.Identity, [32]byte) {
	t.Helper()
	tn := newTestnet(t, n)
	gov := ed25519.NewKeyFromSeed(make([]byte, 32))
	tn.gen.Params.TestEpochs(400)
	tn.gen.Governance = []string{hex.EncodeToString(gov.Public().(ed25519.PublicKey))}
	tn.startAll()
	p, err := tn.gen.EpochParams()
	if err != nil {
		t.Fatal(err)
	}
	ids, seed, err := tn.gen.Identities()
	if err != nil {
		t.Fatal(err)
	}
	return tn, gov, p, ids, seed
}

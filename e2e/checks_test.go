package e2e

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
)

// testRunner is a runner over a generated (never started) network whose
// nodes' APIs are replaced by handlers.
func testRunner(t *testing.T) *Runner {
	t.Helper()
	net, err := GenerateNetwork(filepath.Join(t.TempDir(), "net"), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Name: "test", Validators: 4}
	r := &Runner{m: m, opts: Options{Progress: io.Discard}, rng: rand.New(rand.NewPCG(1, 1)),
		ledger: newLedger(), chain: newChainRecord(), evidence: map[string]bool{}, violationsOf: map[string]int{}, report: &Report{}}
	if err := r.useNetwork(net); err != nil {
		t.Fatal(err)
	}
	return r
}

// serveEvidence points node i's client at a server answering
// GET /v1/evidence with whatever *records holds.
func serveEvidence(t *testing.T, r *Runner, i int, mu *sync.Mutex, records *[]api.EvidenceInfo) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/evidence" {
			http.NotFound(w, req)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(api.EvidenceResponse{Evidence: *records})
	}))
	t.Cleanup(srv.Close)
	r.nodes[i].client = newClient(srv.URL)
	r.nodes[i].started = true
}

// signedVote is a vote by node i of the test network.
func signedVote(t *testing.T, r *Runner, i int, view model.View, block model.Identifier) *model.Vote {
	t.Helper()
	keys, err := genesis.LoadKeys(filepath.Join(r.net.Nodes[i].Home, "config", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keys.Staking.Sign(crypto.DomainVote, model.VoteMessage(r.verifier.Chain(), view, block))
	if err != nil {
		t.Fatal(err)
	}
	v, err := model.NewVote(view, block, keys.NodeID(), sig)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func voteEvidence(r *Runner, offender int, view model.View, a, b *model.Vote) api.EvidenceInfo {
	return api.EvidenceInfo{Kind: model.DoubleVote.String(), Offender: r.ids[offender].Hex(), OffenderName: nodeName(offender),
		View: view, Messages: []string{hex.EncodeToString(a.Encode()), hex.EncodeToString(b.Encode())}}
}

// Evidence any node serves is a violation, reported once, and verified
// against the committee: genuine double votes are proof, forged ones are
// reported as unverifiable.
func TestEvidenceBecomesViolations(t *testing.T) {
	r := testRunner(t)
	var mu sync.Mutex
	var records []api.EvidenceInfo
	serveEvidence(t, r, 0, &mu, &records)

	r.checkEvidence(t.Context())
	if len(r.violations) != 0 {
		t.Fatalf("no evidence, yet violations: %+v", r.violations)
	}
	const view = 7
	genuine := voteEvidence(r, 1, view, signedVote(t, r, 1, view, model.Identifier{1}), signedVote(t, r, 1, view, model.Identifier{2}))
	mu.Lock()
	records = append(records, genuine)
	mu.Unlock()
	r.checkEvidence(t.Context())
	r.checkEvidence(t.Context()) // the same record again: reported once
	if len(r.violations) != 1 || r.violations[0].Kind != "evidence" ||
		!strings.Contains(r.violations[0].Detail, "double-vote by node1 in view 7 (verified") {
		t.Fatalf("violations: %+v", r.violations)
	}

	// A record whose second vote was signed by another member is no proof.
	forged := voteEvidence(r, 1, view+1, signedVote(t, r, 1, view+1, model.Identifier{1}), signedVote(t, r, 2, view+1, model.Identifier{2}))
	mu.Lock()
	records = append(records, forged)
	mu.Unlock()
	r.checkEvidence(t.Context())
	if len(r.violations) != 2 || !strings.Contains(r.violations[1].Detail, "NOT verifiable") {
		t.Fatalf("violations: %+v", r.violations)
	}
}

func TestVerifyEvidenceRejectsNonConflicts(t *testing.T) {
	r := testRunner(t)
	v := signedVote(t, r, 1, 3, model.Identifier{1})
	same := voteEvidence(r, 1, 3, v, v)
	if err := r.verifyEvidence(same); err == nil {
		t.Error("one vote twice verified as a conflict")
	}
	wrongView := voteEvidence(r, 1, 4, v, signedVote(t, r, 1, 3, model.Identifier{2}))
	if err := r.verifyEvidence(wrongView); err == nil {
		t.Error("votes of view 3 verified as evidence for view 4")
	}
	empty := api.EvidenceInfo{Kind: "double-vote", Offender: r.ids[1].Hex(), View: 3}
	if err := r.verifyEvidence(empty); err == nil {
		t.Error("a record without messages verified")
	}
}

func TestViolationsAreBoundedPerKind(t *testing.T) {
	r := testRunner(t)
	for i := 0; i < maxViolationsPerKind+5; i++ {
		r.violate("fork", "height %d", i)
	}
	r.violate("state", "one")
	if len(r.violations) != maxViolationsPerKind+1 || r.suppressed != 5 {
		t.Errorf("%d kept, %d suppressed", len(r.violations), r.suppressed)
	}
}

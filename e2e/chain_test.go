package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	blockpayload "github.com/floe-bft/floe/payload"
)

// certifiedChain builds n blocks on the test network's genesis, each
// proposed by its view's leader and certified by a supermajority's real
// aggregate signature over its parent. tag goes into every payload, so two
// tags give two different chains.
func certifiedChain(t *testing.T, r *Runner, n int, tag string) []*model.Block {
	t.Helper()
	keys := map[model.NodeID]*genesis.NodeKeys{}
	for _, nd := range r.net.Nodes {
		k, err := genesis.LoadKeys(filepath.Join(nd.Home, "config", "keys.json"))
		if err != nil {
			t.Fatal(err)
		}
		keys[k.NodeID()] = k
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
			signers, _ := model.NewSignerSet(r.committee.Size())
			var sigs [][]byte
			for i := 0; i < 3; i++ {
				signers.Set(i)
				sig, err := keys[r.committee.Member(i).ID].Staking.Sign(crypto.DomainVote, model.VoteMessage(parent.ChainID, parent.View, parent.ID()))
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
		payload := blockpayload.Transactions([][]byte{[]byte(fmt.Sprintf("%s-%d", tag, h))})
		view := model.View(h)
		b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: view, Height: uint64(h), ParentID: parent.ID(), QC: qc,
			ProposerID: chainLeader(t, r, r.committee, view, parent, chain), Timestamp: parent.Timestamp + 100, PayloadHash: model.PayloadHash(payload)}, payload)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b)
	}
	return chain
}

// serveChain points node i at a fake API serving blocks (all finalized)
// with state roots made by root(height).
func serveChain(t *testing.T, r *Runner, i int, blocks []*model.Block, root func(uint64) string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/v1/status":
			json.NewEncoder(w).Encode(api.StatusResponse{FinalizedHeight: uint64(len(blocks) - 1)})
		case "/v1/chain":
			from, _ := strconv.Atoi(req.URL.Query().Get("from"))
			limit, _ := strconv.Atoi(req.URL.Query().Get("limit"))
			var resp api.ChainResponse
			for h := from; h < len(blocks) && h < from+limit; h++ {
				b := blocks[h]
				resp.Blocks = append(resp.Blocks, api.ChainBlockInfo{Height: b.Height, ID: b.ID().Hex(),
					Block: hex.EncodeToString(b.Encode()), StateRoot: root(b.Height)})
			}
			json.NewEncoder(w).Encode(resp)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	r.nodes[i].client = newClient(srv.URL)
	r.nodes[i].started = true
}

func rootOf(tag string) func(uint64) string {
	return func(h uint64) string {
		if h == 0 {
			return ""
		}
		s := crypto.Sum([]byte(tag), []byte{byte(h)})
		return hex.EncodeToString(s[:])
	}
}

func kinds(vs []Violation) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Kind+": "+v.Detail)
	}
	return strings.Join(out, "\n")
}

// Nodes serving one certified chain pass; a node with another block at a
// height is a fork, one with another state root a state violation.
func TestCheckChainAgreementForkAndState(t *testing.T) {
	r := testRunner(t)
	good := certifiedChain(t, r, 5, "a")
	serveChain(t, r, 0, good, rootOf("a"))
	serveChain(t, r, 1, good, rootOf("a"))
	for _, i := range []int{0, 1} {
		if err := r.checkChain(t.Context(), r.nodes[i]); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.violations) != 0 || r.chain.verifiedCount() != 5 || r.nodes[1].checkedTo != 5 || r.chain.rootMatchCount() != 5 {
		t.Fatalf("agreeing nodes: %d verified, checked to %d, violations:\n%s", r.chain.verifiedCount(), r.nodes[1].checkedTo, kinds(r.violations))
	}

	forked := append(append([]*model.Block{}, good[:2]...), certifiedChain(t, r, 5, "b")[2:]...)
	serveChain(t, r, 2, forked, rootOf("a"))
	serveChain(t, r, 3, good, rootOf("c"))
	_ = r.checkChain(t.Context(), r.nodes[2])
	_ = r.checkChain(t.Context(), r.nodes[3])
	var fork, state int
	for _, v := range r.violations {
		switch v.Kind {
		case "fork":
			fork++
		case "state":
			state++
		}
	}
	if fork == 0 || state == 0 || !strings.Contains(kinds(r.violations), "height 2: node2 finalized block") {
		t.Fatalf("violations:\n%s", kinds(r.violations))
	}
}

// A chain whose certificate is not signed by the votes it claims fails
// verification, whoever serves it first.
func TestCheckChainVerifiesCertificates(t *testing.T) {
	r := testRunner(t)
	chain := certifiedChain(t, r, 3, "a")
	b := chain[3]
	qc := *b.QC
	qc.Signature = append([]byte(nil), chain[2].QC.Signature...) // a valid signature over another block
	forged, err := model.NewBlock(model.Header{ChainID: b.ChainID, View: b.View, Height: b.Height, ParentID: b.ParentID, QC: &qc,
		ProposerID: b.ProposerID, Timestamp: b.Timestamp, PayloadHash: b.PayloadHash}, b.Payload)
	if err != nil {
		t.Fatal(err)
	}
	chain[3] = forged
	serveChain(t, r, 0, chain, rootOf("a"))
	if err := r.checkChain(t.Context(), r.nodes[0]); err != nil {
		t.Fatal(err)
	}
	if len(r.violations) != 1 || r.violations[0].Kind != "chain" || !strings.Contains(r.violations[0].Detail, "block 3") {
		t.Fatalf("violations:\n%s", kinds(r.violations))
	}
}

// chainLeader is the leader of view v for a block extending parent under
// the test network's leader rule (reputation from genesis), chain holding
// the ancestry.
func chainLeader(t *testing.T, r *Runner, sched committee.Schedule, v model.View, parent *model.Block, chain []*model.Block) model.NodeID {
	t.Helper()
	blocks := recentBlocks{}
	for _, b := range chain {
		blocks[b.ID()] = b
	}
	id, err := reputation.Leader(sched, r.net.Genesis.Params.Reputation(), v, parent, blocks)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// scheduleFunc adapts a function to committee.Schedule.
type scheduleFunc func(model.View) *committee.Committee

func (f scheduleFunc) CommitteeAt(v model.View) (*committee.Committee, error) { return f(v), nil }

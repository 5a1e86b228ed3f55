package consensus_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/role/observer"
	"github.com/floe-bft/floe/storage"
)

// serveAPI serves a node's client API (with the sync endpoints) over real
// HTTP on loopback.
func serveAPI(t *testing.T, n api.Backend) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(api.New(n, api.Options{}))
	t.Cleanup(srv.Close)
	return srv
}

// followerDirs maps each observer a test started to its data directory.
var followerDirs = map[*observer.Observer]string{}

func startFollower(t *testing.T, tn *testnet, upstreams ...string) (*observer.Observer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := observer.Config{
		Genesis: tn.gen, DataDir: t.TempDir(), Upstreams: upstreams,
		PollInterval: 100 * time.Millisecond, Metrics: reg,
	}
	if os.Getenv("FLOE_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("n", "follower")
	}
	f, err := observer.New(cfg)
	followerDirs[f] = cfg.DataDir
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Stop()
		if err := f.Err(); err != nil {
			t.Errorf("follower stopped with a fatal error: %v", err)
		}
	})
	return f, reg
}

// blockReader is what sameBlocks reads from a consensus node or an
// observer.
type blockReader interface {
	BlockByHeight(uint64) (*model.Block, error)
}

func sameBlocks(t *testing.T, a, b blockReader, upTo uint64) {
	t.Helper()
	for h := uint64(1); h <= upTo; h++ {
		x, err := a.BlockByHeight(h)
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		y, err := b.BlockByHeight(h)
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if x.ID() != y.ID() {
			t.Fatalf("height %d: %v vs %v", h, x.ID(), y.ID())
		}
	}
}

// A follower that starts far behind catches up with ranges, then follows
// live; it executes the chain (same state roots, same values with proofs);
// a second follower follows the first. Neither takes transactions.
func TestFollowerFollowsParticipantsAndFollowers(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.startAll()
	for i := 0; i < 20; i++ {
		if r := tn.nodes[0].SubmitTxs([][]byte{setTx(t, fmt.Sprintf("k%d", i), "v")}); r[0].Error != nil {
			t.Fatal(r[0].Error)
		}
	}
	waitFor(t, "a chain to catch up with", 30*time.Second, func() bool { return tn.executed(0) >= 30 })
	up := serveAPI(t, tn.nodes[0])
	behind := tn.executed(0)
	f1, _ := startFollower(t, tn, up.URL)
	waitFor(t, "the follower to catch up", 30*time.Second, func() bool {
		return f1.Status().ExecutedHeight >= behind
	})
	// Ranges end one below the upstream's finalized block; only live
	// proposals (each checked on its own) bring the follower level with it.
	waitFor(t, "the follower to be level with its upstream", 30*time.Second, func() bool {
		return f1.Status().FinalizedHeight >= tn.nodes[0].Status().FinalizedHeight
	})
	if f1.Engine().QCChecks() == 0 {
		t.Fatal("no certificate checked")
	}
	// Live: new blocks keep arriving.
	target := tn.executed(0) + 10
	f2, _ := startFollower(t, tn, serveAPI(t, f1).URL)
	waitFor(t, "both followers to follow live", 30*time.Second, func() bool {
		return f1.Status().ExecutedHeight >= target && f2.Status().ExecutedHeight >= target
	})
	sameBlocks(t, tn.nodes[0], f1, target)
	sameBlocks(t, f1, f2, target)
	v0, err := tn.nodes[0].State(context.Background(), []byte("k7"))
	if err != nil {
		t.Fatal(err)
	}
	v1, err := f1.State(context.Background(), []byte("k7"))
	if err != nil || !bytes.Equal(v1.Value, []byte("v")) {
		t.Fatalf("follower state: %q, %v", v1.Value, err)
	}
	if v0.Height == v1.Height && v0.Root != v1.Root {
		t.Fatal("state roots differ at the same height")
	}
	if res := f1.SubmitTxs([][]byte{setTx(t, "x", "y")}); res[0].Error == nil {
		t.Fatal("follower accepted a transaction")
	}
	if _, total := f1.Engine().Records(); total != 0 {
		t.Fatalf("honest upstream reported %d times", total)
	}
}

// byzantine is an upstream that serves a follower the three attacks of
// issue 4: 1,001 proposals by the real leader for one view, a long fork of
// fabricated blocks with invalid QCs (as proposals and as a range), and
// blocks for views far in the future.
type byzantine struct {
	frames [][2][]byte // kind, body
	claim  uint64      // finalized height it claims
	fork   []*model.Block
	spray  []*model.Proposal
}

func (b *byzantine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/status":
		fmt.Fprintf(w, `{"finalized_height": %d}`, b.claim)
	case "/v1/sync/range":
		from, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
		var blocks []*model.Block
		for _, fb := range b.fork {
			if fb.Height >= from && len(blocks) < 64 {
				blocks = append(blocks, fb)
			}
		}
		if len(blocks) == 0 {
			blocks = b.fork[:1]
		}
		w.Write(follower.EncodeRange(blocks, b.fork[len(b.fork)-1].QC))
	case "/v1/sync/live":
		w.WriteHeader(http.StatusOK)
		for _, f := range b.frames {
			if follower.WriteFrame(w, f[0][0], f[1]) != nil {
				return
			}
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

func keyOf(t *testing.T, tn *testnet, id model.NodeID) crypto.PrivateKey {
	for _, k := range tn.keys {
		if k.NodeID() == id {
			return k.Staking
		}
	}
	t.Fatalf("no key for %v", id)
	return nil
}

func signed(t *testing.T, tn *testnet, h model.Header, payload []byte) *model.Proposal {
	t.Helper()
	h.PayloadHash = model.PayloadHash(payload)
	b, err := model.NewBlock(h, payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := keyOf(t, tn, h.ProposerID).Sign(crypto.DomainProposal, model.ProposalMessage(b.ChainID, b.ID()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.NewProposal(b, sig)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func rejected(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "floe_follower_rejected_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestFollowerWithstandsByzantineUpstream(t *testing.T) {
	tn := newTestnet(t, 4)
	tn.startAll()
	waitFor(t, "a chain", 30*time.Second, func() bool { return tn.executed(0) >= 8 })
	// Halt the chain (no supermajority) so the attacked view stays open
	// for the follower while the attack runs.
	tn.stop(2)
	tn.stop(3)
	var final uint64
	waitFor(t, "the chain to halt", 20*time.Second, func() bool {
		h := tn.nodes[0].Status().FinalizedHeight
		time.Sleep(time.Second)
		final = tn.nodes[0].Status().FinalizedHeight
		return h == final
	})
	// The follower will know the chain up to final-1, certified by the QC
	// block final carries. The leader of final's view equivocates there.
	tip, _ := tn.nodes[0].BlockByHeight(final)
	parent, _ := tn.nodes[0].BlockByHeight(final - 1)
	com, _, err := tn.gen.Committee()
	if err != nil {
		t.Fatal(err)
	}
	byz := &byzantine{claim: final + 1000}
	for i := 0; i < 1001; i++ {
		p := signed(t, tn, model.Header{ChainID: parent.ChainID, View: tip.View, Height: final, ParentID: parent.ID(), QC: tip.QC, TC: tip.TC,
			ProposerID: com.Leader(tip.View), Timestamp: tip.Timestamp}, []byte(fmt.Sprintf("spray %d", i)))
		byz.spray = append(byz.spray, p)
		byz.frames = append(byz.frames, [2][]byte{{follower.FrameProposal}, p.Encode()})
	}
	// Fabricated fork: certificates nobody signed (a garbage aggregate).
	fakeQC := &model.QC{View: tip.QC.View, BlockID: parent.ID(), Signers: tip.QC.Signers, Signature: bytes.Repeat([]byte{0xab}, len(tip.QC.Signature))}
	prev := tip
	const forkLen = 200
	for i := 0; i < forkLen; i++ {
		v := prev.View + 1
		qc := &model.QC{View: prev.View, BlockID: prev.ID(), Signers: fakeQC.Signers, Signature: fakeQC.Signature}
		h := model.Header{ChainID: prev.ChainID, View: v, Height: prev.Height + 1, ParentID: prev.ID(), QC: qc, ProposerID: com.Leader(v), Timestamp: prev.Timestamp + 1}
		p := signed(t, tn, h, []byte(fmt.Sprintf("fake %d", i)))
		byz.fork = append(byz.fork, p.Block)
		byz.frames = append(byz.frames, [2][]byte{{follower.FrameProposal}, p.Encode()})
		prev = p.Block
	}
	// Far future: beyond the last known epoch, no identity table.
	for i := 0; i < 50; i++ {
		v := tn.nodes[0].Status().Epoch.FinalView + 1_000_000 + model.View(i)
		qc := &model.QC{View: v - 1, BlockID: model.Identifier{byte(i)}, Signers: fakeQC.Signers, Signature: fakeQC.Signature}
		p := signed(t, tn, model.Header{ChainID: tip.ChainID, View: v, Height: final + 10, ParentID: qc.BlockID, QC: qc,
			ProposerID: com.Leader(v), Timestamp: tip.Timestamp}, []byte{byte(i)})
		byz.frames = append(byz.frames, [2][]byte{{follower.FrameProposal}, p.Encode()})
	}
	evil := httptest.NewServer(byz)
	t.Cleanup(evil.Close)
	honest := serveAPI(t, tn.nodes[0])

	f, reg := startFollower(t, tn, evil.URL, honest.URL)
	eng := f.Engine()
	defer func() {
		if t.Failed() {
			recs, total := eng.Records()
			kinds := map[string]int{}
			for _, r := range recs {
				kinds[r.Kind+" "+r.Peer]++
			}
			t.Logf("final %d; follower %+v; sizes %+v; records %d %v; unknown_epoch %v view_full %v",
				final, f.Status().FinalizedHeight, eng.Sizes(), total, kinds, rejected(t, reg, "unknown_epoch"), rejected(t, reg, "view_full"))
		}
	}()
	waitFor(t, "the attack to be seen", 60*time.Second, func() bool {
		recs, _ := eng.Records()
		ev, bad := 0, 0
		for _, r := range recs {
			switch {
			case r.Kind == "double-proposal":
				ev++
			case r.Peer == evil.URL:
				bad++
			}
		}
		return ev == 1 && bad >= forkLen && rejected(t, reg, "unknown_epoch") >= 50 && f.Status().FinalizedHeight >= final-2
	})
	sz := eng.Sizes()
	if sz.Uncertified > 8 {
		t.Fatalf("uncertified cache holds %d blocks after 1,001 proposals for one view", sz.Uncertified)
	}
	if got := rejected(t, reg, "view_full"); got < 1001-8 {
		t.Fatalf("only %v proposals dropped before any check", got)
	}
	recs, _ := eng.Records()
	for _, r := range recs {
		if r.Kind == "double-proposal" && (r.Evidence.Offender != com.Leader(tip.View) || r.View != tip.View) {
			t.Fatalf("evidence names %v in view %d", r.Evidence.Offender, r.View)
		}
	}
	// The observer serves it as verifiable evidence (GET /v1/evidence),
	// like a consensus node.
	served, _ := f.Evidence()
	if len(served) != 1 || served[0].Kind != model.DoubleProposal || served[0].View != tip.View {
		t.Fatalf("the observer serves %d evidence records: %+v", len(served), served)
	}
	checkProposalEvidence(t, tn, served[0])

	// The chain resumes: the follower keeps up with the honest chain, and
	// nothing the byzantine upstream made is on disk.
	tn.start(2)
	tn.start(3)
	waitFor(t, "the follower to keep up", 60*time.Second, func() bool {
		return f.Status().ExecutedHeight >= final+10 && f.Status().ExecutedHeight+3 >= tn.executed(0)
	})
	sameBlocks(t, tn.nodes[0], f, final+10)
	// Read what reached the disk once the observer has stopped.
	f.Stop()
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	st, err := storage.OpenPebble(followerDirs[f])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := func(id model.Identifier) bool { _, err := st.Block(id); return err == nil }
	for i, p := range byz.spray {
		if stored(p.Block.ID()) {
			t.Fatalf("spray proposal %d reached the store", i)
		}
	}
	for i, b := range byz.fork {
		if stored(b.ID()) {
			t.Fatalf("fabricated block %d reached the store", i)
		}
	}
	if got := eng.Sizes(); got.Uncertified > 8 || got.Evidenced > 1 {
		t.Fatalf("caches after the attack: %+v", got)
	}
}

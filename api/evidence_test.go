package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/ledger"
)

// auditBackend adds the optional audit interfaces to the fake backend.
type auditBackend struct {
	*fakeBackend
	evidence []evidence.Record
	dropped  int
}

func (a *auditBackend) Evidence() ([]evidence.Record, int) { return a.evidence, a.dropped }

func (a *auditBackend) FinalizedChain(_ context.Context, from uint64, max int) ([]ledger.ChainBlock, error) {
	var out []ledger.ChainBlock
	for h := from; h < uint64(len(a.blocks)) && len(out) < max; h++ {
		cb := ledger.ChainBlock{Block: a.blocks[h]}
		if h > 0 {
			cb.StateRoot, cb.Executed = crypto.Sum([]byte{byte(h)}), true
		}
		out = append(out, cb)
	}
	return out, nil
}

func TestAuditEndpointsOnlyWithAuditBackend(t *testing.T) {
	s := newTestServer(newFake(t))
	for _, path := range []string{"/v1/evidence", "/v1/chain"} {
		if resp, _ := do(t, s, "GET", path, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s without an audit backend: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestEvidenceEndpoint(t *testing.T) {
	a := &auditBackend{fakeBackend: newFake(t), dropped: 2}
	s := New(a, Options{})
	resp, m := do(t, s, "GET", "/v1/evidence", "")
	if resp.StatusCode != http.StatusOK || len(m["evidence"].([]any)) != 0 || m["dropped"].(float64) != 2 {
		t.Fatalf("empty evidence: %d %v", resp.StatusCode, m)
	}
	offender := model.Identifier(crypto.Sum([]byte("n2")))
	a.evidence = []evidence.Record{
		{Kind: model.DoubleVote, Offender: offender, OffenderName: "node2", View: 9,
			RecordedAt: time.Unix(1_700_000_000, 0), Messages: [2][]byte{{1, 2}, {3}}},
		{Kind: model.DoubleTimeout, Offender: offender, View: 11, RecordedAt: time.Unix(1_700_000_001, 0)},
	}
	_, m = do(t, s, "GET", "/v1/evidence", "")
	ev := m["evidence"].([]any)
	if len(ev) != 2 {
		t.Fatalf("evidence: %v", m)
	}
	first := ev[0].(map[string]any)
	if first["kind"] != "double-vote" || first["offender"] != offender.Hex() || first["offender_name"] != "node2" ||
		first["view"].(float64) != 9 || first["recorded_at"] != "2023-11-14T22:13:20Z" {
		t.Errorf("first record: %v", first)
	}
	if msgs := first["messages"].([]any); len(msgs) != 2 || msgs[0] != "0102" || msgs[1] != "03" {
		t.Errorf("first record's messages: %v", first["messages"])
	}
	if _, ok := ev[1].(map[string]any)["messages"]; ok {
		t.Errorf("a record without messages lists some: %v", ev[1])
	}
}

func TestChainEndpoint(t *testing.T) {
	a := &auditBackend{fakeBackend: newFake(t)}
	s := New(a, Options{})
	resp, m := do(t, s, "GET", "/v1/chain?from=1&limit=2", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chain: %d %v", resp.StatusCode, m)
	}
	blocks := m["blocks"].([]any)
	if len(blocks) != 2 {
		t.Fatalf("chain from 1 limit 2: %d blocks", len(blocks))
	}
	for i, x := range blocks {
		b := x.(map[string]any)
		h := uint64(i + 1)
		raw, err := hex.DecodeString(b["block"].(string))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := model.DecodeBlock(raw)
		if err != nil {
			t.Fatalf("block %d does not decode: %v", h, err)
		}
		root := crypto.Sum([]byte{byte(h)})
		if b["height"].(float64) != float64(h) || b["id"] != a.blocks[h].ID().Hex() || dec.ID() != a.blocks[h].ID() ||
			b["state_root"] != hex.EncodeToString(root[:]) {
			t.Errorf("block %d: %v", h, b)
		}
	}
	_, m = do(t, s, "GET", "/v1/chain", "")
	if b := m["blocks"].([]any)[0].(map[string]any); b["height"].(float64) != 0 || b["state_root"] != nil {
		t.Errorf("genesis entry: %v", b)
	}
	if _, m = do(t, s, "GET", "/v1/chain?from=99", ""); len(m["blocks"].([]any)) != 0 {
		t.Errorf("above the chain: %v", m)
	}
	for _, q := range []string{"from=x", "from=-1", "limit=0", "limit=257", "limit=1e3"} {
		if resp, m := do(t, s, "GET", "/v1/chain?"+q, ""); resp.StatusCode != http.StatusBadRequest || m["error"] == nil {
			t.Errorf("?%s: %d %v, want 400", q, resp.StatusCode, m)
		}
	}
}

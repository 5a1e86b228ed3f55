package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/mempool"
)

// govFake answers service events with a fixed error and counts them.
type govFake struct {
	*fakeBackend
	err   error
	calls int
}

func (g *govFake) SubmitServiceEvent(*epoch.Event) error { g.calls++; return g.err }

// A resubmitted service event gets 200 with what the node already knows
// (queued, or in effect), a first one 202 "queued", a refused one 400.
func TestServiceEventResubmissions(t *testing.T) {
	// Shape is all the API checks; the backend decides the rest.
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	e := &epoch.Event{Kind: epoch.KindCommit, Commit: &epoch.Commit{Counter: 1, StakingKeys: [][]byte{make([]byte, 96)}},
		Authority: key.Public().(ed25519.PublicKey), Signature: make([]byte, ed25519.SignatureSize)}
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{nil, http.StatusAccepted, StatusQueued},
		{epoch.ErrAlreadyQueued, http.StatusOK, StatusAlreadyQueued},
		{fmt.Errorf("%w: epoch 1 is committed", epoch.ErrSettled), http.StatusOK, StatusInEffect},
		{fmt.Errorf("%w: already decided", epoch.ErrRejected), http.StatusBadRequest, ""},
	} {
		g := &govFake{fakeBackend: newFake(t), err: tc.err}
		req := httptest.NewRequest("POST", "/v1/governance/events", bytes.NewReader(e.Encode()))
		req.Header.Set("Content-Type", ContentTypeBinary)
		rec := httptest.NewRecorder()
		New(g, Options{}).ServeHTTP(rec, req)
		var resp ServiceEventResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || resp.Status != tc.want || g.calls != 1 {
			t.Fatalf("backend says %v: got %d %q (%d calls), want %d %q", tc.err, rec.Code, resp.Status, g.calls, tc.status, tc.want)
		}
		if tc.want != "" && resp.ID != e.ID().Hex() {
			t.Fatalf("response names %s, want the event's ID %s", resp.ID, e.ID().Hex())
		}
	}
}

// A transaction the node refuses as already finalized is the client's
// fault: 400 with code "duplicate", as docs/api.md says.
func TestSubmitFinalizedDuplicate(t *testing.T) {
	f := newFake(t)
	f.reject = func([]byte) error {
		return fmt.Errorf("%w: ab12 is %w at height 7", mempool.ErrDuplicate, mempool.ErrFinalized)
	}
	resp, m := do(t, newTestServer(f), "POST", "/v1/transactions", `{"tx":"`+hexOf("again")+`"}`)
	item := m["results"].([]any)[0].(map[string]any)
	if resp.StatusCode != http.StatusBadRequest || item["code"] != CodeDuplicate {
		t.Fatalf("status %d, %v; want 400 with code duplicate", resp.StatusCode, m)
	}
}

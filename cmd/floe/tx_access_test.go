package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// 'floe tx send --access' wraps the transaction in an envelope naming the
// node's latest block and follows it to executed.
func TestSendAccess(t *testing.T) {
	ref := model.Identifier{7}
	var mu sync.Mutex
	var got collection.Tx
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/blocks/latest", func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, 200, api.BlockResponse{ID: ref.Hex(), Height: 9})
	})
	mux.HandleFunc("POST /v1/transactions", func(w http.ResponseWriter, r *http.Request) {
		var req api.SubmitRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Txs) != 1 {
			api.WriteError(w, 400, "bad")
			return
		}
		raw, _ := hex.DecodeString(req.Txs[0])
		tx, err := collection.DecodeTx(raw, collection.DefaultLimits())
		if err != nil {
			api.WriteError(w, 400, err.Error())
			return
		}
		mu.Lock()
		got = tx
		mu.Unlock()
		api.WriteJSON(w, 202, api.SubmitResponse{Accepted: 1, Results: []api.SubmitResult{{ID: tx.ID().Hex()}}})
	})
	mux.HandleFunc("GET /v1/transactions/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.PathValue("id") != got.ID().Hex() {
			api.WriteError(w, 404, "unknown")
			return
		}
		api.WriteJSON(w, 200, api.TxResponse{ID: got.ID().Hex(), Status: api.TxExecuted,
			Stages: &api.TxStages{Collection: "cc", FinalizedHeight: 11, ExecutedHeight: 12}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var out bytes.Buffer
	if err := sendAccess(context.Background(), &out, client.New(srv.URL), []byte("set a=1"), false); err != nil {
		t.Fatal(err)
	}
	if got.Ref != ref || string(got.Body) != "set a=1" {
		t.Fatalf("envelope %+v", got)
	}
	if s := out.String(); !strings.Contains(s, "submitted "+got.ID().Hex()) || !strings.Contains(s, "finalized at height 11, executed height 12") {
		t.Fatalf("output %q", s)
	}
}

package execution

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// checkStateReads is the state endpoint of a node that executed heights
// 1..5 (TestNodeFollowsAndExecutesGuaranteedCollections): each answer's
// proof verifies over the register encoding, not the raw key, against
// the end state of the height asked for (the newest by default), which
// the receipt of that height signs; a register absent at a height comes
// with a proof of its absence; heights not executed, or pruned, are 404
// and bad requests 400.
func checkStateReads(t *testing.T, n *Node, receipts map[uint64]*payload.Receipt, final map[string][]byte) {
	t.Helper()
	mux := http.NewServeMux()
	n.Routes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()

	check := func(key string, height, wantHeight uint64, want []byte) {
		t.Helper()
		r, err := c.ExecutionState(ctx, []byte(key), height)
		if err != nil {
			t.Fatalf("%s at %d: %v", key, height, err)
		}
		res := receipts[wantHeight].Result
		if r.Height != wantHeight || r.EndState != res.EndState().Hex() || r.Result != res.ID().Hex() || r.Found != (want != nil) {
			t.Fatalf("%s at %d: %+v, want height %d, end state %v, result %v", key, height, r, wantHeight, res.EndState(), res.ID())
		}
		value, _ := hex.DecodeString(r.Value)
		proof, _ := hex.DecodeString(r.Proof)
		if want != nil && !bytes.Equal(value, want) {
			t.Fatalf("%s at %d: value %q, want %q", key, height, value, want)
		}
		if want == nil {
			value = nil
		}
		root := merkle.Hash(res.EndState())
		if err := merkle.Verify(root, state.RegisterID{Key: key}.Encode(), value, proof); err != nil {
			t.Fatalf("%s at %d: proof does not verify over the register encoding: %v", key, height, err)
		}
		if want != nil && merkle.Verify(root, []byte(key), value, proof) == nil {
			t.Fatalf("%s at %d: proof verifies over the raw key", key, height)
		}
	}
	check("c0-t0", 0, 5, final["c0-t0"])
	check("c2-t1", 0, 5, final["c2-t1"])
	check("c0-t0", 1, 1, final["c0-t0"]) // written at height 1, never after
	check("c2-t1", 1, 1, nil)            // written at height 2
	check("nobody-wrote-this", 3, 3, nil)

	// An owned register: the same key under an owner is another register,
	// absent here, and its proof of absence is over the owned encoding.
	owned := state.RegisterID{Owner: "\x01\x02", Key: "c0-t0"}
	r, err := c.ExecutionRegister(ctx, []byte(owned.Owner), []byte(owned.Key), 0)
	if err != nil || r.Found || r.Owner != "0102" || r.Height != 5 {
		t.Fatalf("owned register: %+v, %v", r, err)
	}
	ownedProof, _ := hex.DecodeString(r.Proof)
	if err := merkle.Verify(merkle.Hash(receipts[5].Result.EndState()), owned.Encode(), nil, ownedProof); err != nil {
		t.Fatalf("owned register's proof of absence: %v", err)
	}

	// Many registers with one batch proof: it verifies against the
	// height's end state and holds each value (or its absence).
	ids := []state.RegisterID{{Key: "c0-t0"}, {Key: "c2-t1"}, {Key: "nobody-wrote-this"}, owned}
	br, err := c.ExecutionRegisters(ctx, 0, ids)
	if err != nil || br.Height != 5 || br.EndState != receipts[5].Result.EndState().Hex() {
		t.Fatalf("registers: %+v, %v", br, err)
	}
	rawProof, _ := hex.DecodeString(br.Proof)
	bp, err := state.DecodeBatchProof(rawProof)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.VerifyBatch(merkle.Hash(receipts[5].Result.EndState()), bp); err != nil {
		t.Fatalf("batch proof: %v", err)
	}
	for _, id := range ids {
		v, err := bp.Get(id)
		if err != nil || !bytes.Equal(v, final[id.Key]) && id.Owner == "" || id.Owner != "" && v != nil {
			t.Fatalf("%+v in the batch proof: %q, %v", id, v, err)
		}
	}
	for body, want := range map[string]int{
		`{"registers":[]}`:                         http.StatusBadRequest,
		`{"registers":[{"key":"zz"}]}`:             http.StatusBadRequest,
		`{"height":99,"registers":[{"key":"00"}]}`: http.StatusNotFound,
		`{"registers":[{"key":"00"}],"extra":1}`:   http.StatusBadRequest,
		`not json`:                                 http.StatusBadRequest,
	} {
		resp, err := http.Post(srv.URL+"/v1/execution/registers", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", body, resp.StatusCode, want)
		}
	}

	status := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	key := hex.EncodeToString([]byte("c0-t0"))
	for path, want := range map[string]int{
		"/v1/execution/state/" + key + "?height=6":                                            http.StatusNotFound,
		"/v1/execution/state/" + key + "?height=0":                                            http.StatusBadRequest,
		"/v1/execution/state/" + key + "?height=x":                                            http.StatusBadRequest,
		"/v1/execution/state/" + key + "?h=1":                                                 http.StatusBadRequest,
		"/v1/execution/state/" + key + "?owner=zz":                                            http.StatusBadRequest,
		"/v1/execution/state/" + key + "?owner=" + strings.Repeat("ab", state.MaxOwnerSize+1): http.StatusBadRequest,
		"/v1/execution/state/" + key + "?owner=01&owner=02":                                   http.StatusBadRequest,
		"/v1/execution/state/zz":                                                              http.StatusBadRequest,
		"/v1/execution/state/" + strings.Repeat("ab", state.MaxKeySize+1):                     http.StatusBadRequest,
	} {
		if got := status(path); got != want {
			t.Fatalf("GET %s: %d, want %d", path, got, want)
		}
	}

	// Prune the versions before height 2's end state (height 2 wrote, so
	// height 1 ended in an older version): height 1 is gone, 2 and the
	// newest are still served.
	_, v2, err := n.store.Result(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.runner.stateStore().Prune(v2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecutionState(ctx, []byte("c0-t0"), 1); !client.IsStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "pruned") {
		t.Fatalf("pruned height: %v", err)
	}
	check("c0-t0", 2, 2, final["c0-t0"])
	check("c0-t0", 0, 5, final["c0-t0"])
}

package collector_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/role/collector"
)

// post sends a body to the collector's intake and decodes the answer.
func post(t *testing.T, c *collectorNode, body []byte) (int, api.SubmitResponse, http.Header) {
	t.Helper()
	resp, err := http.Post(c.api.URL+"/v1/collector/transactions", api.ContentTypeBinary, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sr api.SubmitResponse
	if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
		t.Fatalf("answer to a submission (status %d) is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, sr, resp.Header
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Bad input to a collector's endpoints gets a 4xx with a reason and
// changes nothing: a batch that does not decode, a malformed transaction,
// an oversize body, a transaction of the other cluster, malformed IDs,
// main-chain transactions. Transactions waiting for a reference block
// not followed yet are bounded; a full pool answers 503 with Retry-After.
func TestCollectorHTTPRefusesBadInput(t *testing.T) {
	p := newPipenet(t, 2, 2)
	c := p.startCollector(0, func(cfg *collector.NodeConfig) {
		cfg.MaxBodyBytes = 4096
		cfg.PoolTxs = 1
		cfg.MaxUnresolved = 1
	})
	ref := p.reference(t, 2, c)
	st, err := p.g.EpochState()
	if err != nil {
		t.Fatal(err)
	}
	e := st.Schedule().Last()
	mine, ok := e.ClusterOfNode(p.colKeys[0].NodeID())
	if !ok {
		t.Fatal("collector 0 is in no cluster")
	}
	// Transactions of this node's cluster and of the other one.
	var ours, theirs []collection.Tx
	for i := 0; len(ours) < 3 || len(theirs) < 1; i++ {
		tx := collection.Tx{Ref: ref, Body: []byte(fmt.Sprintf("tx %d", i))}
		if e.ClusterOfTx(tx.ID()) == mine {
			ours = append(ours, tx)
		} else {
			theirs = append(theirs, tx)
		}
	}
	cluster := c.n.Cluster()
	nothingPending := func(what string) {
		t.Helper()
		if n := cluster.Pending(); n != 0 {
			t.Fatalf("after %s: %d transactions pending", what, n)
		}
	}

	if code, sr, _ := post(t, c, []byte("\x00\x00\x00\x05garbage")); code != http.StatusBadRequest || sr.Error == "" {
		t.Fatalf("malformed batch: %d %+v", code, sr)
	}
	nothingPending("a malformed batch")
	if code, sr, _ := post(t, c, mempool.EncodePayload([][]byte{ours[0].Encode(), []byte("not a tx")})); code != http.StatusAccepted ||
		sr.Accepted != 1 || sr.Rejected != 1 || sr.Results[0].Index != 1 || sr.Results[0].Code != api.CodeInvalid {
		t.Fatalf("a batch with one malformed transaction: %d %+v", code, sr)
	}
	waitUntil(t, "the good transaction collected", 30*time.Second, func() bool { return cluster.Pending() == 0 })

	code, sr, _ := post(t, c, mempool.EncodePayload(encodeTxs(theirs[:1])))
	if code != http.StatusBadRequest || sr.Rejected != 1 || !strings.Contains(sr.Results[0].Error, "cluster") {
		t.Fatalf("transaction of the other cluster: %d %+v", code, sr)
	}
	nothingPending("a transaction of another cluster")
	if get(t, c.api.URL+"/v1/collector/transactions/"+theirs[0].ID().Hex()) != http.StatusNotFound {
		t.Fatal("a refused transaction is known")
	}

	big := collection.Tx{Ref: ref, Body: bytes.Repeat([]byte("b"), 5000)}
	if code, _, _ := post(t, c, mempool.EncodePayload(encodeTxs([]collection.Tx{big}))); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize body: %d", code)
	}
	nothingPending("an oversize body")

	for _, path := range []string{"/v1/collector/transactions/xyz", "/v1/collections/xyz", "/v1/collections/" + strings.Repeat("0", 63)} {
		if code := get(t, c.api.URL+path); code != http.StatusBadRequest {
			t.Fatalf("GET %s: %d, want 400", path, code)
		}
	}
	if code := get(t, c.api.URL+"/v1/collections/"+model.Identifier(crypto.Sum([]byte("nothing"))).Hex()); code != http.StatusNotFound {
		t.Fatalf("unknown collection: %d, want 404", code)
	}
	// The main chain's own intake refuses: this is a collector.
	if resp, err := http.Post(c.api.URL+"/v1/transactions", api.ContentTypeBinary, bytes.NewReader(mempool.EncodePayload([][]byte{[]byte("tx")}))); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode/100 == 2 {
		t.Fatalf("main-chain intake on a collector answered %d", resp.StatusCode)
	}

	// A reference block not followed yet waits in the pool, within bounds:
	// one may wait here, a second is refused for room (code "full").
	unknown := collection.Tx{Ref: crypto.Sum([]byte("a block to come")), Body: []byte("x")}
	for e.ClusterOfTx(unknown.ID()) != mine {
		unknown.Body = append(unknown.Body, 'x')
	}
	code, sr, _ = post(t, c, mempool.EncodePayload(encodeTxs([]collection.Tx{unknown})))
	if code != http.StatusAccepted || sr.Accepted != 1 {
		t.Fatalf("unknown reference block: %d %+v", code, sr)
	}
	if cluster.Pending() != 1 || get(t, c.api.URL+"/v1/collector/transactions/"+unknown.ID().Hex()) != http.StatusOK {
		t.Fatal("the transaction waiting for its reference block is not pending")
	}
	other := collection.Tx{Ref: crypto.Sum([]byte("another block to come")), Body: []byte("y")}
	for e.ClusterOfTx(other.ID()) != mine {
		other.Body = append(other.Body, 'y')
	}
	code, sr, hdr := post(t, c, mempool.EncodePayload(encodeTxs([]collection.Tx{other})))
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || sr.Results[0].Code != api.CodeFull ||
		!strings.Contains(sr.Results[0].Error, "unknown reference") {
		t.Fatalf("a second unknown reference block past the bound: %d %+v", code, sr)
	}

	// The pool (of one) is full now: a batch refused whole for room is a
	// 503 with Retry-After, each transaction with code "full".
	code, sr, hdr = post(t, c, mempool.EncodePayload(encodeTxs(ours[1:3])))
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || sr.Rejected != 2 {
		t.Fatalf("batch into a full pool: %d %+v", code, sr)
	}
	for _, r := range sr.Results {
		if r.Code != api.CodeFull {
			t.Fatalf("refusal in a full pool: %+v", r)
		}
	}
	if cluster.Pending() != 1 {
		t.Fatalf("%d pending after refusals, want 1", cluster.Pending())
	}
}

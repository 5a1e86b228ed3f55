package access_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/role/access"
	"github.com/floe-bft/floe/role/observer"
)

// recorder is a collector's intake that records transaction IDs.
type recorder struct {
	mu  sync.Mutex
	got map[model.Identifier]bool
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	raws, err := mempool.DecodePayload(body, 1000)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, raw := range raws {
		tx, err := collection.DecodeTx(raw, collection.DefaultLimits())
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		r.got[tx.ID()] = true
	}
	api.WriteJSON(w, http.StatusAccepted, api.SubmitResponse{Accepted: len(raws)})
}

func (r *recorder) has(id model.Identifier) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

// The assembled node: an observer of a pipeline genesis (one consensus
// member, two collectors in one cluster, their APIs in the genesis
// directory) serves the common API, takes a transaction referencing the
// genesis block, forwards it to both collectors (redundancy 2) through the
// genesis api directory, and tracks it; the observer's refusal is
// replaced, and its own routes do not collide with the common ones.
func TestNodeAssembled(t *testing.T) {
	rec := &recorder{got: map[model.Identifier]bool{}}
	coll := httptest.NewServer(rec)
	defer coll.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer dead.Close()

	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: "access-node-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 7), Params: genesis.DefaultParams()}
	g.Params.Clusters = 1
	for i, role := range []string{"", "collection", "collection"} {
		seed := make([]byte, 32)
		seed[31] = byte(i + 1)
		k, err := genesis.KeysFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(fmt.Sprintf("m%d", i), fmt.Sprintf("127.0.0.1:%d", i+1), 1)
		if err != nil {
			t.Fatal(err)
		}
		v.Role = role
		if role == "collection" {
			v.API = coll.URL // both members answer on the one recorder
		} else {
			v.API = dead.URL
		}
		g.Validators = append(g.Validators, v)
	}
	ups := g.RoleAPIs(epoch.RoleConsensus)
	if len(ups) != 1 || ups[0] != dead.URL {
		t.Fatalf("genesis upstreams %v, want the consensus member's API", ups)
	}
	n, err := access.NewNode(access.NodeConfig{
		Observer: observer.Config{Genesis: g, DataDir: t.TempDir(), Upstreams: ups},
		Access:   access.Config{BatchWait: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	srv := httptest.NewServer(api.New(n, api.Options{}))
	defer srv.Close()

	c := client.New(srv.URL)
	id, err := c.SubmitAccess(ctx, []byte("through the node"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !rec.has(id) {
		if time.Now().After(deadline) {
			t.Fatal("the collector never received the transaction")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, err := c.Tx(ctx, id.Hex())
	if err != nil || st.Status != api.TxPending || st.Stages == nil || st.Stages.Cluster != 0 || st.Stages.RefHeight != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	if got := n.Status(); got.Name != "access" || got.MempoolTxs != 1 {
		t.Fatalf("status %+v", got)
	}
}

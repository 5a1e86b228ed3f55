package observer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/role/observer"
)

func testGenesis(t *testing.T) *genesis.Genesis {
	t.Helper()
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: "observer-test", GenesisTime: time.Unix(1_700_000_000, 0).UTC(),
		LeaderSeed: fmt.Sprintf("%064x", 7), Params: genesis.DefaultParams()}
	seed := make([]byte, 32)
	seed[31] = 1
	k, err := genesis.KeysFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.Validator("v0", "127.0.0.1:1", 1)
	if err != nil {
		t.Fatal(err)
	}
	g.Validators = append(g.Validators, v)
	return g
}

// A configuration an observer cannot run with is refused before anything
// is opened.
func TestNewRefusesBadConfig(t *testing.T) {
	g := testGenesis(t)
	for _, c := range []struct {
		cfg  observer.Config
		want string
	}{
		{observer.Config{DataDir: t.TempDir(), Upstreams: []string{"http://x"}}, "genesis"},
		{observer.Config{Genesis: g, Upstreams: []string{"http://x"}}, "data directory"},
		{observer.Config{Genesis: g, DataDir: t.TempDir()}, "upstream"},
		{observer.Config{Genesis: g, DataDir: t.TempDir(), Upstreams: []string{"ftp://x"}}, "not an http(s) URL"},
		{observer.Config{Genesis: g, DataDir: t.TempDir(), Upstreams: []string{"http://"}}, "not an http(s) URL"},
	} {
		if _, err := observer.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want one about %q", c.cfg, err, c.want)
		}
	}
}

// An upstream that answers garbage to every request moves the observer
// nowhere and does not stop it; the observer refuses transactions and
// reports itself as what it is; it stops cleanly.
func TestGarbageUpstreamChangesNothing(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("\x00\xffnot json, not a range, not a frame"))
	}))
	defer up.Close()
	o, err := observer.New(observer.Config{Genesis: testGenesis(t), DataDir: t.TempDir(), Upstreams: []string{up.URL},
		PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := o.Status()
	if st.FinalizedHeight != 0 || st.ExecutedHeight != 0 || st.Name != "observer" || st.ChainID != "observer-test" {
		t.Fatalf("status after garbage: %+v", st)
	}
	res := o.SubmitTxs([][]byte{[]byte("tx")})
	if !errors.Is(res[0].Error, observer.ErrObserver) {
		t.Fatalf("submission: %v", res[0].Error)
	}
	o.Stop()
	if err := o.Err(); err != nil {
		t.Fatalf("stopped with %v", err)
	}
	select {
	case <-o.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

package light_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

// lightPeer serves a synthetic chain's light proofs; tamper, if set,
// rewrites every transition proof body on the way out.
func lightPeer(t *testing.T, tamper func([]byte) []byte) (light.Genesis, *httptest.Server) {
	t.Helper()
	c, err := testchain.NewEpochChain(testchain.EpochChainConfig{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.LightSource()
	if err != nil {
		t.Fatal(err)
	}
	h := light.Handler(src)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tamper == nil || !strings.Contains(r.URL.Path, "/epochs/") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			body = tamper(body)
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return c.LightGenesis(), srv
}

func TestFollowFollowsAndVerifies(t *testing.T) {
	g, srv := lightPeer(t, nil)
	var out bytes.Buffer
	if err := light.Follow(context.Background(), &out, g, srv.URL, []byte("latest")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"adopted epoch 1", "adopted epoch 2", "up to date: epoch 2", "final block", `key "latest" = "`} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFollowRejectsForgedAnswers(t *testing.T) {
	for name, tamper := range map[string]func([]byte) []byte{
		// 76 bytes from the end is the last byte of the QC that the commit
		// segment's last header carries (after it: the TC flag, proposer,
		// timestamp, payload hash and two flags): its aggregate signature.
		"flipped byte": func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-76] ^= 1; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)/2] },
		"garbage":      func(b []byte) []byte { return []byte("not a proof") },
	} {
		t.Run(name, func(t *testing.T) {
			g, srv := lightPeer(t, tamper)
			err := light.Follow(context.Background(), io.Discard, g, srv.URL, nil)
			if err == nil || !strings.Contains(err.Error(), "REJECTED") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestLoadGenesis(t *testing.T) {
	keys, err := genesis.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Validator("solo", "127.0.0.1:30000", 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := genesis.Build("light-test", []genesis.Validator{v}, genesis.DefaultParams(), strings.Repeat("07", 32), "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	lg, err := light.LoadGenesis(path)
	if err != nil || len(lg.Identities) != 1 || lg.Identities[0].Name != "solo" || lg.Seed[0] != 7 || lg.Pipeline {
		t.Fatalf("light genesis %+v, %v", lg, err)
	}
	ckeys, err := genesis.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ckeys.Validator("collector", "127.0.0.1:30001", 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Role = "collection"
	params := genesis.DefaultParams()
	params.Clusters = 1
	pipe, err := genesis.Build("light-test", []genesis.Validator{v, c}, params, strings.Repeat("07", 32), "")
	if err != nil {
		t.Fatal(err)
	}
	if lg, err := light.GenesisOf(pipe); err != nil || !lg.Pipeline {
		t.Fatalf("a genesis with clusters: pipeline %v, %v", lg.Pipeline, err)
	}
	if err := light.Follow(context.Background(), io.Discard, lg, "127.0.0.1:1", nil); err == nil {
		t.Fatal("following an address nobody listens on succeeded")
	}
	if _, err := light.LoadGenesis(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Fatal("a missing genesis file loaded")
	}
}

package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/light"
)

// lightFake is a backend that also serves light proofs from a synthetic
// chain.
type lightFake struct {
	*fakeBackend
	src light.Source
}

func (f lightFake) LightSource() light.Source { return f.src }

func TestLightRoutesMountedForLightBackends(t *testing.T) {
	c, err := testchain.NewEpochChain(testchain.EpochChainConfig{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.LightSource()
	if err != nil {
		t.Fatal(err)
	}
	b := lightFake{fakeBackend: newFake(t), src: src}
	srv := httptest.NewServer(New(b, Options{}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/v1/light/epochs/1", 200, light.ContentType},
		{"GET", "/v1/light/epochs/2", 404, "application/json"},
		{"GET", "/v1/light/final/latest", 200, light.ContentType},
		{"GET", "/v1/light/state/6c6174657374", 200, light.ContentType},
		{"GET", "/v1/light/final/abc", 400, "application/json"},
		{"POST", "/v1/light/epochs/1", 405, "application/json"},
		{"GET", "/v1/light/nope", 404, "application/json"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
			t.Fatalf("%s %s: %d %s %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// A backend without light support serves no light routes.
	plain := httptest.NewServer(New(newFake(t), Options{}))
	defer plain.Close()
	resp, err := plain.Client().Get(plain.URL + "/v1/light/epochs/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("plain backend: %d", resp.StatusCode)
	}
}

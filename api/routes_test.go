package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type routedBackend struct{ Backend }

func (routedBackend) Routes(handle func(string, http.HandlerFunc)) {
	handle("GET /v1/extra", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, map[string]int{"n": 7}) })
}

// A backend's own routes are served, behind the same ServeHTTP.
func TestRouteProvider(t *testing.T) {
	s := New(routedBackend{}, Options{})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/extra", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"n\":7}\n" {
		t.Fatalf("GET /v1/extra = %d %q", rec.Code, rec.Body.String())
	}
}

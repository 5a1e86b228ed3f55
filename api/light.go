package api

import (
	"net/http"

	"github.com/floe-bft/floe/light"
)

// LightBackend is the optional part of a Backend that serves light
// clients. *node.Node implements it.
type LightBackend interface {
	// LightSource returns the source of light proofs; called once.
	LightSource() light.Source
}

// mountLight serves /v1/light/ (see light.Handler) when the backend can.
// The routes go through this server's mux, so unknown paths and wrong
// methods get the same JSON errors as every other endpoint.
func (s *Server) mountLight() {
	lb, ok := s.b.(LightBackend)
	if !ok {
		return
	}
	h := light.Handler(lb.LightSource())
	// Proofs read a segment of blocks and a Merkle path: expensive reads.
	gated := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := s.admitRead(w, r, lightProofCost)
		if !ok {
			return
		}
		defer release()
		h.ServeHTTP(w, r)
	})
	for _, route := range light.Routes {
		s.mux.Handle("GET "+route, gated)
	}
}

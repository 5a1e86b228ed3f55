package api

import "github.com/floe-bft/floe/light"

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
	for _, route := range light.Routes {
		s.mux.Handle("GET "+route, h)
	}
}

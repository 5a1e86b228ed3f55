package api

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/floe-bft/floe/ledger"
)

// streamSlots caps open subscriptions (block stream and live sync
// together), in total and per client address, so that idle subscribers
// cannot take every slot: a client over its share is told so (429) and
// the others keep theirs.
type streamSlots struct {
	mu       sync.Mutex
	max      int
	perIP    int
	open     int
	byClient map[string]int // only clients with open streams: bounded by max
}

func newStreamSlots(max, perIP int) *streamSlots {
	return &streamSlots{max: max, perIP: perIP, byClient: make(map[string]int)}
}

// acquire takes a slot for client, or reports which cap refused it.
func (s *streamSlots) acquire(client string) (release func(), refusal int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.max > 0 && s.open >= s.max:
		return nil, http.StatusServiceUnavailable
	case s.perIP > 0 && s.byClient[client] >= s.perIP:
		return nil, http.StatusTooManyRequests
	}
	s.open++
	s.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.open--
			if s.byClient[client]--; s.byClient[client] == 0 {
				delete(s.byClient, client)
			}
		})
	}, 0
}

// openStream admits a subscription before any byte of the stream is
// written: over a cap, or when the ledger refuses one more subscriber, the
// client gets a JSON 429/503 and the connection is closed — an honest
// refusal, not a stream that ends at once. subscribe is called with the
// slot held; on ok the caller must call release when the stream ends.
func (s *Server) openStream(w http.ResponseWriter, r *http.Request, subscribe func() error) (release func(), ok bool) {
	client := clientIP(r)
	release, refusal := s.streams.acquire(client)
	if refusal != 0 {
		w.Header().Set("Connection", "close")
		if refusal == http.StatusTooManyRequests {
			s.refuse(w, refusal, RefusedStreams, 5*time.Second,
				"too many subscribers: %s already has %d open streams; close one first", client, s.limits.MaxStreamsPerIP)
		} else {
			s.refuse(w, refusal, RefusedStreams, 5*time.Second,
				"too many subscribers: this node serves %d streams at most; retry later or use another node", s.limits.MaxStreams)
		}
		return nil, false
	}
	if err := subscribe(); err != nil {
		release()
		if errors.Is(err, ledger.ErrTooManySubscribers) {
			w.Header().Set("Connection", "close")
			s.refuse(w, http.StatusServiceUnavailable, RefusedStreams, 5*time.Second, "%v; retry later or use another node", err)
			return nil, false
		}
		s.backendError(w, r, err)
		return nil, false
	}
	return release, true
}

package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/floe-bft/floe/api"
)

// ErrTooManySubscribers: the event stream has MaxSubscribers already.
var ErrTooManySubscribers = errors.New("too many event subscribers; retry later")

// hub fans the tracker's transitions out to the event stream's
// subscribers. Publishing never waits: a subscriber whose buffer is full
// is dropped (its channel closed) and reconnects.
type hub struct {
	mu   sync.Mutex
	max  int
	buf  int
	subs map[chan api.TxEvent]struct{}
}

func newHub(max, buf int) *hub {
	return &hub{max: max, buf: buf, subs: make(map[chan api.TxEvent]struct{})}
}

func (h *hub) publish(ev api.TxEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *hub) subscribe() (chan api.TxEvent, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, ErrTooManySubscribers
	}
	ch := make(chan api.TxEvent, h.buf)
	h.subs[ch] = struct{}{}
	return ch, nil
}

func (h *hub) unsubscribe(ch chan api.TxEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// Subscribe streams the status transitions of the transactions this node
// takes until unsubscribe is called; the channel closes when the
// subscriber fell SubscriberBuffer events behind.
func (s *Service) Subscribe() (<-chan api.TxEvent, func(), error) {
	ch, err := s.hub.subscribe()
	if err != nil {
		return nil, nil, err
	}
	return ch, func() { s.hub.unsubscribe(ch) }, nil
}

// sseKeepAlive is how often an idle stream gets a comment line.
const sseKeepAlive = 15 * time.Second

// handleEvents serves GET /v1/access/events: server-sent events, one
// "event: tx" per transition with a TxEvent as data.
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	ch, unsubscribe, err := s.Subscribe()
	if err != nil {
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer unsubscribe()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) error {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(w, chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(": floe access events\n\n") != nil {
		return
	}
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-keepAlive.C:
			if send(": keep-alive\n\n") != nil {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				_ = send("event: dropped\ndata: {\"error\":\"subscriber fell behind; reconnect\"}\n\n")
				return
			}
			b, err := json.Marshal(ev)
			if err != nil {
				s.log.Warn("access: event encoding", "err", err)
				continue
			}
			if send(fmt.Sprintf("event: tx\ndata: %s\n\n", b)) != nil {
				return
			}
		}
	}
}

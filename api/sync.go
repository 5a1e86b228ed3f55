package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/storage"
)

// SyncBackend is what the block-sync endpoints need. It is optional: a
// backend that implements it (every *node.Node, participant or follower)
// gets GET /v1/sync/range and GET /v1/sync/live.
type SyncBackend interface {
	// SyncRange returns finalized blocks from from on (at most count) with
	// the QC certifying the last, in the follower wire format.
	SyncRange(from uint64, count int) ([]byte, error)
	// SubscribeSync streams live frames (accepted proposals) until ctx
	// ends; the channel is closed if the subscriber falls behind.
	SubscribeSync(ctx context.Context) <-chan ledger.SyncFrame
}

// liveKeepAlive is how often an idle live stream gets a keep-alive frame.
const liveKeepAlive = 10 * time.Second

func (s *Server) registerSync() {
	sb, ok := s.b.(SyncBackend)
	if !ok {
		return
	}
	s.mux.HandleFunc("GET /v1/sync/range", func(w http.ResponseWriter, r *http.Request) { s.handleSyncRange(sb, w, r) })
	s.mux.HandleFunc("GET /v1/sync/live", func(w http.ResponseWriter, r *http.Request) { s.handleSyncLive(sb, w, r) })
}

// handleSyncRange serves GET /v1/sync/range?from=H&count=N (N ≤ 512,
// default 512) as application/octet-stream.
func (s *Server) handleSyncRange(sb SyncBackend, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := strconv.ParseUint(q.Get("from"), 10, 64)
	if err != nil || from == 0 {
		writeError(w, http.StatusBadRequest, "from must be a height ≥ 1")
		return
	}
	count := follower.MaxRangeBlocks
	if c := q.Get("count"); c != "" {
		if count, err = strconv.Atoi(c); err != nil || count < 1 || count > follower.MaxRangeBlocks {
			writeError(w, http.StatusBadRequest, "count must be in 1..512")
			return
		}
	}
	body, err := sb.SyncRange(from, count)
	switch {
	case errors.Is(err, ledger.ErrBadSyncRequest):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, storage.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		s.backendError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// handleSyncLive serves GET /v1/sync/live: length-prefixed binary frames
// (see package follower) until the client goes away or falls behind.
func (s *Server) handleSyncLive(sb SyncBackend, w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch := sb.SubscribeSync(ctx)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(kind byte, body []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if err := follower.WriteFrame(w, kind, body); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(follower.FrameKeepAlive, nil) != nil {
		return
	}
	keepAlive := time.NewTicker(liveKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			if send(follower.FrameKeepAlive, nil) != nil {
				return
			}
		case f, ok := <-ch:
			if !ok || send(f.Kind, f.Body) != nil {
				return
			}
		}
	}
}

package api

import (
	"context"
	"errors"
	"fmt"
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
	// the QC certifying the last, in the follower wire format; it stops
	// with ctx's error when ctx ends.
	SyncRange(ctx context.Context, from uint64, count int) ([]byte, error)
	// SubscribeSync streams live frames (accepted proposals) until ctx
	// ends; the channel is closed if the subscriber falls behind, and one
	// subscriber too many is refused (ledger.ErrTooManySubscribers).
	SubscribeSync(ctx context.Context) (<-chan ledger.SyncFrame, error)
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
// default 512) as application/octet-stream. It is an expensive read
// (admitRead, cost N); a range that ends below the finalized height can
// never change and is answered from, or kept in, the range cache.
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
	key := fmt.Sprintf("range/%d/%d", from, count)
	if body, ok := s.cache.get(key); ok {
		if s.admitCached(w, r, count) && s.admitBytes(w, len(body)) {
			writeRange(w, body)
		}
		return
	}
	if !s.admitBytesBefore(w) {
		return
	}
	release, ok := s.admitRead(w, r, count)
	if !ok {
		return
	}
	defer release()
	// Decided before reading: an answer whose blocks, and the child whose
	// QC certifies the last, are all finalized is the same for everyone
	// forever.
	immutable := false
	if latest, err := s.b.LatestBlock(); err == nil && from+uint64(count) < latest.Height {
		immutable = true
	}
	body, err := sb.SyncRange(r.Context(), from, count)
	switch {
	case r.Context().Err() != nil:
		return // the client is gone; the read stopped
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
	if immutable {
		s.cache.put(key, body)
	}
	s.spendBytes(len(body))
	writeRange(w, body)
}

func writeRange(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// admitCached charges an answer from the range cache to the client's read
// budget like any read of its blocks (a cached answer saves the store
// reads, not the bandwidth), but takes no expensive-read slot.
func (s *Server) admitCached(w http.ResponseWriter, r *http.Request, blocks int) bool {
	client := clientIP(r)
	if ok, retry := s.readBudget.charge(client, blocks); !ok {
		s.refuse(w, http.StatusTooManyRequests, RefusedReadCost, retry,
			"rate limit: this read costs %d blocks and %s has used its budget of %g blocks per second; retry later", blocks, client, s.limits.ReadBlockRate)
		return false
	}
	return true
}

// handleSyncLive serves GET /v1/sync/live: length-prefixed binary frames
// (see package follower) until the client goes away or falls behind.
func (s *Server) handleSyncLive(sb SyncBackend, w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var ch <-chan ledger.SyncFrame
	release, ok := s.openStream(w, r, func() (err error) {
		ch, err = sb.SubscribeSync(ctx)
		return err
	})
	if !ok {
		return
	}
	defer release()
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

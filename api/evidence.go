package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/evidence"
	"github.com/floe-bft/floe/ledger"
)

// Audit endpoints: what an outside checker (the end-to-end runner, an
// operator comparing nodes) needs to verify a node independently. They are
// served only when the backend implements the optional interfaces below;
// *node.Node implements both.

// EvidenceSource is a backend that keeps the equivocations it witnessed.
type EvidenceSource interface {
	// Evidence returns the kept records, oldest first, and how many more
	// were not kept because the log was full.
	Evidence() ([]evidence.Record, int)
}

// ChainSource is a backend that serves finalized blocks in their canonical
// encoding together with the state root after each.
type ChainSource interface {
	// FinalizedChain returns up to max consecutive finalized blocks from
	// height from (fewer at the top of the chain, none above it); it stops
	// with ctx's error when ctx ends.
	FinalizedChain(ctx context.Context, from uint64, max int) ([]ledger.ChainBlock, error)
}

// registerAudit adds the audit endpoints the backend supports.
func (s *Server) registerAudit() {
	if _, ok := s.b.(EvidenceSource); ok {
		s.mux.HandleFunc("GET /v1/evidence", s.handleEvidence)
	}
	if _, ok := s.b.(ChainSource); ok {
		s.mux.HandleFunc("GET /v1/chain", s.handleChain)
	}
}

// ---- GET /v1/evidence ----

// EvidenceInfo is one equivocation a node witnessed. Messages are the two
// conflicting signed messages in their canonical encodings (hex): proposals
// for double-proposal, votes for double-vote, timeouts for double-timeout.
// They are empty when the node's evidence log had no room for them.
type EvidenceInfo struct {
	Kind         string     `json:"kind"`
	Offender     string     `json:"offender"`
	OffenderName string     `json:"offender_name,omitempty"`
	View         model.View `json:"view"`
	RecordedAt   time.Time  `json:"recorded_at"`
	Messages     []string   `json:"messages,omitempty"`
}

// EvidenceResponse is the body of GET /v1/evidence.
type EvidenceResponse struct {
	Evidence []EvidenceInfo `json:"evidence"`
	// Dropped counts records the node did not keep (its log was full).
	Dropped int `json:"dropped"`
}

func (s *Server) handleEvidence(w http.ResponseWriter, _ *http.Request) {
	records, dropped := s.b.(EvidenceSource).Evidence()
	resp := EvidenceResponse{Evidence: make([]EvidenceInfo, 0, len(records)), Dropped: dropped}
	for _, r := range records {
		info := EvidenceInfo{Kind: r.Kind.String(), Offender: r.Offender.Hex(), OffenderName: r.OffenderName,
			View: r.View, RecordedAt: r.RecordedAt.UTC()}
		if r.Messages[0] != nil {
			info.Messages = []string{hex.EncodeToString(r.Messages[0]), hex.EncodeToString(r.Messages[1])}
		}
		resp.Evidence = append(resp.Evidence, info)
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- GET /v1/chain ----

// maxChainLimit bounds the blocks of one GET /v1/chain.
const maxChainLimit = ledger.MaxChainBlocks

// ChainBlockInfo is one finalized block in its canonical encoding (hex;
// model.DecodeBlock reads it and recomputes the ID) with the node's state
// root after executing it (absent while not executed).
type ChainBlockInfo struct {
	Height    uint64 `json:"height"`
	ID        string `json:"id"`
	Block     string `json:"block"`
	StateRoot string `json:"state_root,omitempty"`
}

// ChainResponse is the body of GET /v1/chain.
type ChainResponse struct {
	Blocks []ChainBlockInfo `json:"blocks"`
}

func (s *Server) handleChain(w http.ResponseWriter, r *http.Request) {
	from, err := uintParam(r, "from", 0, 0, ^uint64(0))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := uintParam(r, "limit", 64, 1, maxChainLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	key := fmt.Sprintf("chain/%d/%d", from, limit)
	if body, ok := s.cache.get(key); ok {
		if s.admitCached(w, r, int(limit)) && s.admitBytes(w, len(body)) {
			writeCachedJSON(w, body)
		}
		return
	}
	if !s.admitBytesBefore(w) {
		return
	}
	release, ok := s.admitRead(w, r, int(limit))
	if !ok {
		return
	}
	defer release()
	blocks, err := s.b.(ChainSource).FinalizedChain(r.Context(), from, int(limit))
	if r.Context().Err() != nil {
		return // the client is gone; the read stopped
	}
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	resp := ChainResponse{Blocks: make([]ChainBlockInfo, 0, len(blocks))}
	for _, cb := range blocks {
		info := ChainBlockInfo{Height: cb.Block.Height, ID: cb.Block.ID().Hex(), Block: hex.EncodeToString(cb.Block.Encode())}
		if cb.Executed {
			info.StateRoot = hex.EncodeToString(cb.StateRoot[:])
		}
		resp.Blocks = append(resp.Blocks, info)
	}
	// A full answer whose every block is executed never changes: finalized
	// blocks and their state roots are immutable.
	immutable := len(blocks) == int(limit)
	for _, cb := range blocks {
		immutable = immutable && cb.Executed
	}
	if immutable {
		body, err := json.Marshal(resp)
		if err != nil {
			s.backendError(w, r, err)
			return
		}
		body = append(body, '\n')
		s.cache.put(key, body)
		s.spendBytes(len(body))
		writeCachedJSON(w, body)
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	s.spendBytes(len(body) + 1)
	writeCachedJSON(w, append(body, '\n'))
}

// writeCachedJSON writes an encoded 200 JSON answer as writeJSON would.
func writeCachedJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// uintParam reads an optional decimal query parameter within [lo, hi].
func uintParam(r *http.Request, name string, def, lo, hi uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("query parameter %s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

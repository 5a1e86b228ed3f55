package light

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// Source answers a light client's questions. An HTTPSource asks a full node;
// a ChainSource builds the answers from a node's finalized blocks. Nothing
// a Source returns is trusted: the client verifies it.
type Source interface {
	// Transition returns the proof of what follows epoch counter-1: its
	// fallback extensions and the setup and commit of epoch counter.
	// ErrUnavailable: nothing new about epoch counter-1 or counter yet.
	Transition(ctx context.Context, counter uint64) (*Transition, error)
	// Final returns a segment proving the block at height final; height 0
	// asks for the newest block the source can prove final.
	Final(ctx context.Context, height uint64) (*Segment, error)
	// State returns a proof of key's value (or absence) in the state
	// committed to by a final block at height, or by the newest provable
	// one when height is 0.
	State(ctx context.Context, key []byte, height uint64) (*StateProof, error)
}

// ContentType is the media type of every light proof body.
const ContentType = "application/octet-stream"

// maxErrorBody bounds how much of an error response a client reads.
const maxErrorBody = 4 << 10

// HTTPSource asks a full node's API (the /v1/light/ endpoints). Safe for
// concurrent use.
type HTTPSource struct {
	base   string
	client *http.Client
	bytes  atomic.Int64
}

// NewHTTPSource returns a source for the node whose API is at base (for
// example "http://127.0.0.1:8080"). A nil client means http.DefaultClient.
func NewHTTPSource(base string, client *http.Client) *HTTPSource {
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPSource{base: strings.TrimRight(base, "/"), client: client}
}

// BytesFetched is the total size of the response bodies read so far.
func (s *HTTPSource) BytesFetched() int64 { return s.bytes.Load() }

// Transition implements Source.
func (s *HTTPSource) Transition(ctx context.Context, counter uint64) (*Transition, error) {
	b, err := s.get(ctx, "/v1/light/epochs/"+strconv.FormatUint(counter, 10))
	if err != nil {
		return nil, err
	}
	return DecodeTransition(b)
}

// Final implements Source.
func (s *HTTPSource) Final(ctx context.Context, height uint64) (*Segment, error) {
	ref := "latest"
	if height != 0 {
		ref = strconv.FormatUint(height, 10)
	}
	b, err := s.get(ctx, "/v1/light/final/"+ref)
	if err != nil {
		return nil, err
	}
	return DecodeSegment(b)
}

// State implements Source.
func (s *HTTPSource) State(ctx context.Context, key []byte, height uint64) (*StateProof, error) {
	path := "/v1/light/state/" + hex.EncodeToString(key)
	if height != 0 {
		path += "?height=" + strconv.FormatUint(height, 10)
	}
	b, err := s.get(ctx, path)
	if err != nil {
		return nil, err
	}
	return DecodeStateProof(b)
}

func (s *HTTPSource) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", ContentType)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		s.bytes.Add(int64(len(body)))
		msg := strings.TrimSpace(string(body))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
			return nil, fmt.Errorf("%w: GET %s: %s", ErrUnavailable, path, msg)
		case http.StatusBadRequest:
			return nil, fmt.Errorf("%w: GET %s: %s", ErrBadRequest, path, msg)
		}
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, msg)
	}
	// One byte over the bound tells an oversized body from one that fits.
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxProofSize+1))
	s.bytes.Add(int64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if len(body) > MaxProofSize {
		return nil, fmt.Errorf("%w: GET %s: body exceeds %d bytes", ErrMalformed, path, MaxProofSize)
	}
	return body, nil
}

// Routes are the paths Handler serves, all for GET.
var Routes = []string{"/v1/light/epochs/{counter}", "/v1/light/final/{height}", "/v1/light/state/{key}"}

// Handler serves a Source over HTTP under /v1/light/:
//
//	GET /v1/light/epochs/{counter}     transition proof to epoch counter
//	GET /v1/light/final/{height|latest} finality segment
//	GET /v1/light/state/{hexkey}[?height=H] state proof
//
// Proofs are binary (ContentType); errors are JSON objects with an "error"
// string: 400 for a malformed request, 404 when the source has nothing to
// prove yet, 500 otherwise.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Routes[0], func(w http.ResponseWriter, r *http.Request) {
		counter, err := strconv.ParseUint(r.PathValue("counter"), 10, 64)
		if err != nil || counter == 0 {
			writeError(w, http.StatusBadRequest, "epoch counter must be a positive decimal integer")
			return
		}
		t, err := src.Transition(r.Context(), counter)
		respond(w, err, func() []byte { return t.Encode() })
	})
	mux.HandleFunc("GET "+Routes[1], func(w http.ResponseWriter, r *http.Request) {
		var height uint64
		if ref := r.PathValue("height"); ref != "latest" {
			h, err := strconv.ParseUint(ref, 10, 64)
			if err != nil || h == 0 {
				writeError(w, http.StatusBadRequest, "height must be a positive decimal integer or \"latest\"")
				return
			}
			height = h
		}
		s, err := src.Final(r.Context(), height)
		respond(w, err, func() []byte { return s.Encode() })
	})
	mux.HandleFunc("GET "+Routes[2], func(w http.ResponseWriter, r *http.Request) {
		key, err := hex.DecodeString(r.PathValue("key"))
		if err != nil || len(key) == 0 || len(key) > MaxKeySize {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("key must be 1..%d bytes of hex", MaxKeySize))
			return
		}
		height, err := parseHeightQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		p, err := src.State(r.Context(), key, height)
		respond(w, err, func() []byte { return p.Encode() })
	})
	mux.HandleFunc("/v1/light/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "unknown light endpoint "+r.URL.Path)
	})
	return mux
}

func parseHeightQuery(q url.Values) (uint64, error) {
	for k := range q {
		if k != "height" {
			return 0, fmt.Errorf("unknown query parameter %q", k)
		}
	}
	s := q.Get("height")
	if s == "" {
		return 0, nil
	}
	h, err := strconv.ParseUint(s, 10, 64)
	if err != nil || h == 0 {
		return 0, fmt.Errorf("height must be a positive decimal integer")
	}
	return h, nil
}

func respond(w http.ResponseWriter, err error, body func() []byte) {
	switch {
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		b := body()
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

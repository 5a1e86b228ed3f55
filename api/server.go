package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floe-bft/floe/app"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/storage"
)

// Request limits. They bound what one request can make the server allocate,
// whatever a client sends.
const (
	// DefaultMaxBodyBytes bounds a POST body.
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxBatchTxs bounds the transactions of one POST.
	DefaultMaxBatchTxs = 10_000
	// maxKeyBytes bounds a state key. Keys arrive in the URL, which the HTTP
	// server already bounds (1 MiB of headers), but nothing sensible is that
	// long and the backend should not have to hash megabytes per read.
	maxKeyBytes = 64 << 10
	// sseKeepAlive is how often an idle stream gets a comment line, so that
	// proxies and clients do not time it out between blocks and so that a
	// dead client is noticed by the failed write.
	sseKeepAlive = 15 * time.Second
	// sseWriteTimeout bounds one event write: a client that stops reading
	// must not pin a goroutine and a subscription forever.
	sseWriteTimeout = 10 * time.Second
)

// Options configure a Server. The zero value works: no metrics, no block
// transaction listing, no logging.
type Options struct {
	// Logger receives recovered panics and backend errors (default: discard).
	Logger *slog.Logger
	// Gatherer is served at /metrics; nil leaves /metrics unregistered
	// (404).
	Gatherer prometheus.Gatherer
	// DecodeTxs splits a block payload into its transactions. Nil means the
	// payload format is unknown to the API: blocks are served without
	// transactions and tx_count is taken from the stream (or omitted).
	DecodeTxs func(payload []byte) ([][]byte, error)
	// MaxBodyBytes bounds a POST body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxBatchTxs bounds the transactions of one POST (default
	// DefaultMaxBatchTxs).
	MaxBatchTxs int
	// Limits are the admission limits (nil: DefaultLimits()). The
	// connection caps among them apply where the listener is made (Host).
	Limits *Limits
	// Metrics receives the HTTP series (nil: unregistered ones; Host
	// passes those it registered and shares with its listener).
	Metrics *HTTPMetrics
}

// Server serves the client API of one node. It is an http.Handler.
type Server struct {
	b    Backend
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	limits     Limits
	metrics    *HTTPMetrics
	requests   *budgets      // per-client request rate
	readBudget *budgets      // per-client blocks read by expensive reads
	readSlots  chan struct{} // expensive reads in progress (nil: unbounded)
	readBytes  *budgets      // the node's bytes of history answered, one key
	submitTxs  *budgets      // per-client transactions submitted
	totalTxs   *budgets      // all clients' transactions submitted, one key
	cache      *rangeCache
	streams    *streamSlots
}

// New builds the API server for b.
func New(b Backend, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxBatchTxs <= 0 {
		opts.MaxBatchTxs = DefaultMaxBatchTxs
	}
	s := &Server{b: b, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.limits = DefaultLimits()
	if opts.Limits != nil {
		s.limits = *opts.Limits
	}
	s.metrics = opts.Metrics
	if s.metrics == nil {
		s.metrics = NewHTTPMetrics(nil)
	}
	s.requests = newBudgets(s.limits.RequestRate, s.limits.RequestBurst, s.limits.MaxClients)
	s.readBudget = newBudgets(s.limits.ReadBlockRate, s.limits.ReadBlockBurst, s.limits.MaxClients)
	s.readBytes = newBudgets(s.limits.ReadBytesRate, s.limits.ReadBytesBurst, 1)
	s.submitTxs = newBudgets(s.limits.SubmitTxRate, s.limits.SubmitTxBurst, s.limits.MaxClients)
	s.totalTxs = newBudgets(s.limits.TotalSubmitTxRate, s.limits.TotalSubmitTxBurst, 1)
	if s.limits.MaxExpensiveReads > 0 {
		s.readSlots = make(chan struct{}, s.limits.MaxExpensiveReads)
	}
	s.cache = newRangeCache(s.limits.RangeCacheBytes, s.metrics)
	s.streams = newStreamSlots(s.limits.MaxStreams, s.limits.MaxStreamsPerIP)
	s.mux.HandleFunc("POST /v1/transactions", s.handleSubmit)
	s.mux.HandleFunc("GET /v1/transactions/{id}", s.handleTx)
	// The literal "stream" is more specific than {ref}, so the mux routes it
	// here whatever the registration order.
	s.mux.HandleFunc("GET /v1/blocks/stream", s.handleStream)
	s.mux.HandleFunc("GET /v1/blocks/{ref}", s.handleBlock)
	s.mux.HandleFunc("GET /v1/status", s.handleStatus)
	s.mux.HandleFunc("POST /v1/governance/events", s.handleServiceEvent)
	s.mux.HandleFunc("GET /v1/state", s.handleState)
	s.mux.HandleFunc("GET /v1/state/{key}", s.handleState)
	s.registerSync()
	s.mountLight()
	s.registerAudit()
	if rp, ok := b.(RouteProvider); ok {
		rp.Routes(func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) })
	}
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
			// A broken collector should not hide every other series.
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	return s
}

// ServeHTTP routes a request. Unmatched paths and methods get the mux's
// status code (404 or 405, with Allow) but a JSON body, so clients can
// decode every error the same way.
//
// Every request is counted in the HTTP metrics and charged to its client's
// request rate first: over it, the answer is a 429 and nothing else runs.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &codeRecorder{ResponseWriter: rw}
	h, pattern := s.mux.Handler(r)
	defer func() { s.metrics.observe(pattern, r.Method, w.status(), time.Since(start)) }()
	defer s.recoverPanic(w, r)
	if ok, retry := s.requests.charge(clientIP(r), 1); !ok {
		s.refuse(w, http.StatusTooManyRequests, RefusedRate, retry,
			"rate limit: more than %g requests per second from %s; retry later", s.limits.RequestRate, clientIP(r))
		return
	}
	if pattern == "" {
		rec := &statusRecorder{header: w.Header()}
		h.ServeHTTP(rec, r)
		switch {
		case rec.status == http.StatusMethodNotAllowed:
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed for %s", r.Method, r.URL.Path))
		case rec.status >= 300 && rec.status < 400:
			// The mux's redirects (path cleaning) are fine as they are.
			w.WriteHeader(rec.status)
		default:
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
		}
		return
	}
	// Through the mux again rather than h directly: only ServeHTTP fills in
	// the request's path values ({id}, {ref}, {key}).
	s.mux.ServeHTTP(w, r)
}

// statusRecorder captures the status the mux's fallback handlers choose,
// discarding their plain-text bodies; headers (Allow, Location) pass
// through.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// recoverPanic turns a handler panic into a logged 500 instead of a dropped
// connection with no explanation. http.ErrAbortHandler is the documented way
// to abort a response and is passed on.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.log.Error("api handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
	// If the handler already wrote headers this adds nothing useful, but it
	// cannot hurt either: net/http ignores a second WriteHeader.
	writeError(w, http.StatusInternalServerError, "internal error")
}

// DebugHandler serves net/http/pprof. It is a separate handler so that
// profiling (which can be expensive and reveals internals) is exposed only on
// an address the operator chose for it, never on the public API.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/debug/pprof/", http.StatusFound)
	})
	return mux
}

// ---- responses ----

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorResponse{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

// backendError reports an unexpected backend failure. The detail goes to the
// log and, since the API is meant for the node's operator and its clients
// (not an untrusted public), also into the response to make problems
// diagnosable from the client side.
func (s *Server) backendError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Warn("api backend error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

// ---- POST /v1/transactions ----

// SubmitRequest is the body of POST /v1/transactions: exactly one of Tx and
// Txs, hex encoded.
type SubmitRequest struct {
	Tx  *string  `json:"tx,omitempty"`
	Txs []string `json:"txs,omitempty"`
}

// SubmitResult is the outcome of one submitted transaction. Error is empty
// when the transaction was accepted into the mempool (or already known);
// otherwise Code classifies it for programs: "invalid" (the application
// rejects it), "too_large", "duplicate" (already finalized recently),
// "full" (mempool full: retry later) or "error" (anything else).
type SubmitResult struct {
	// Index is the transaction's position in the submitted batch.
	Index int    `json:"index"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// Rejection codes of SubmitResult.Code.
const (
	CodeInvalid   = "invalid"
	CodeTooLarge  = "too_large"
	CodeDuplicate = "duplicate"
	CodeFull      = "full"
	CodeError     = "error"
)

// rejectionCode classifies a mempool rejection.
func rejectionCode(err error) string {
	switch {
	case errors.Is(err, app.ErrInvalidTx):
		return CodeInvalid
	case errors.Is(err, ErrWrongRole):
		return CodeWrongRole
	case errors.Is(err, mempool.ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, mempool.ErrDuplicate):
		return CodeDuplicate
	case errors.Is(err, mempool.ErrFull):
		return CodeFull
	default:
		return CodeError
	}
}

// SubmitResponse answers POST /v1/transactions; Results is in request order.
type SubmitResponse struct {
	Accepted int            `json:"accepted"`
	Rejected int            `json:"rejected"`
	Results  []SubmitResult `json:"results"`
	// Error summarizes when nothing was accepted, so that every non-2xx
	// response carries "error" like all other error responses.
	Error string `json:"error,omitempty"`
}

// errRequest marks an error that is the client's fault (400).
type errRequest struct{ msg string }

func (e *errRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &errRequest{msg: fmt.Sprintf(format, args...)}
}

// ParseSubmitBody decodes a POST /v1/transactions body into raw
// transactions. It never calls the backend, so a request it rejects has no
// effect on the node. Errors describe what is wrong with the body.
func ParseSubmitBody(body io.Reader, maxTxs int) ([][]byte, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var req SubmitRequest
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		if errors.Is(err, io.EOF) {
			return nil, badRequest("empty body: want {\"tx\":\"<hex>\"} or {\"txs\":[\"<hex>\",...]}")
		}
		return nil, badRequest("malformed JSON: %v", err)
	}
	// Anything after the object is a client bug (two objects, junk); better
	// to say so than silently ignore half of what was sent.
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("malformed JSON: trailing data after the request object")
	}
	var hexes []string
	switch {
	case req.Tx != nil && req.Txs != nil:
		return nil, badRequest("give either \"tx\" or \"txs\", not both")
	case req.Tx != nil:
		hexes = []string{*req.Tx}
	case req.Txs != nil:
		hexes = req.Txs
	default:
		return nil, badRequest("no transactions: want {\"tx\":\"<hex>\"} or {\"txs\":[\"<hex>\",...]}")
	}
	if len(hexes) == 0 {
		return nil, badRequest("\"txs\" is empty")
	}
	if len(hexes) > maxTxs {
		return nil, badRequest("%d transactions in one request; at most %d", len(hexes), maxTxs)
	}
	txs := make([][]byte, len(hexes))
	for i, h := range hexes {
		if h == "" {
			return nil, badRequest("transaction %d is empty", i)
		}
		tx, err := hex.DecodeString(h)
		if err != nil {
			return nil, badRequest("transaction %d: invalid hex: %v", i, err)
		}
		txs[i] = tx
	}
	return txs, nil
}

// ContentTypeBinary selects the binary submission format: the body is a
// binary batch (mempool.EncodePayload: u32 count, then u32-length-prefixed
// transactions; not a block payload) and the answer lists only the rejected
// transactions (with their index). High-rate clients use it: it skips hex
// and JSON for every transaction both ways.
const ContentTypeBinary = "application/octet-stream"

// parseBinarySubmit reads a binary batch (see ContentTypeBinary).
func (s *Server) parseBinarySubmit(body io.Reader) ([][]byte, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	// One more than the limit decodes, so that the limit's own error below
	// names it.
	txs, err := mempool.DecodePayload(raw, s.opts.MaxBatchTxs+1)
	if err != nil {
		return nil, badRequest("binary batch: %v", err)
	}
	if len(txs) == 0 {
		return nil, badRequest("empty batch")
	}
	if len(txs) > s.opts.MaxBatchTxs {
		return nil, badRequest("batch of %d transactions exceeds %d", len(txs), s.opts.MaxBatchTxs)
	}
	return txs, nil
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	binary := r.Header.Get("Content-Type") == ContentTypeBinary
	var (
		txs [][]byte
		err error
	)
	if binary {
		txs, err = s.parseBinarySubmit(body)
	} else {
		txs, err = ParseSubmitBody(body, s.opts.MaxBatchTxs)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.admitSubmit(w, r, len(txs)) {
		return
	}
	results := s.b.SubmitTxs(txs)
	if len(results) != len(txs) {
		s.backendError(w, r, fmt.Errorf("backend returned %d results for %d transactions", len(results), len(txs)))
		return
	}
	resp := SubmitResponse{Results: make([]SubmitResult, 0, len(results))}
	clientFault := true // every rejection is the transaction's own fault
	for i, res := range results {
		if res.Error == nil {
			resp.Accepted++
			if !binary {
				resp.Results = append(resp.Results, SubmitResult{Index: i, ID: res.ID.Hex()})
			}
			continue
		}
		resp.Rejected++
		code := rejectionCode(res.Error)
		resp.Results = append(resp.Results, SubmitResult{Index: i, ID: res.ID.Hex(), Error: res.Error.Error(), Code: code})
		if code == CodeFull || code == CodeError {
			clientFault = false
		}
	}
	switch {
	case resp.Accepted > 0:
		// Partial success is still success: the accepted transactions are
		// in the mempool and the client must learn their IDs; the per-item
		// codes say which ones to fix or resend.
		writeJSON(w, http.StatusAccepted, resp)
	case clientFault:
		resp.Error = fmt.Sprintf("all %d transactions were rejected: %s", resp.Rejected, resp.Results[0].Error)
		writeJSON(w, http.StatusBadRequest, resp)
	default:
		// Something other than the transactions themselves (a full mempool,
		// a stopping node): worth retrying later.
		resp.Error = fmt.Sprintf("none of %d transactions was accepted: %s", resp.Rejected, resp.Results[0].Error)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, resp)
	}
}

// ---- GET /v1/transactions/{id} ----

// TxResponse describes one transaction. Height, View, Index, OK and Error
// are set once it is finalized; Error is then the execution failure reason.
type TxResponse struct {
	ID     string      `json:"id"`
	Status string      `json:"status"`
	Height *uint64     `json:"height,omitempty"`
	View   *model.View `json:"view,omitempty"`
	Index  *uint32     `json:"index,omitempty"`
	OK     *bool       `json:"ok,omitempty"`
	Error  string      `json:"error,omitempty"`
	// Stages: an access node's record of the pipeline steps (TxStages).
	Stages *TxStages `json:"stages,omitempty"`
	// Execution: the result, chunk and events of a pipeline network's
	// execution (TxExecution).
	Execution *TxExecution `json:"execution,omitempty"`
}

func (s *Server) handleTx(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "transaction id must be 64 hex characters (SHA-256 of the transaction)")
		return
	}
	st, err := s.b.TxStatus(id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			writeJSON(w, http.StatusNotFound, TxResponse{ID: id.Hex(), Status: "unknown", Error: "transaction not known to this node"})
			return
		}
		s.backendError(w, r, err)
		return
	}
	resp := TxResponse{ID: id.Hex(), Status: st.Status, Stages: st.Stages, Execution: st.Execution}
	if resp.Status == "" {
		resp.Status = "unknown"
	}
	if st.Result != nil {
		resp.Status = "finalized"
		res := *st.Result
		resp.Height, resp.View, resp.Index, resp.OK = &res.Height, &res.View, &res.Index, &res.OK
		resp.Error = res.Error
	}
	if resp.Status == "unknown" {
		resp.Error = "transaction not known to this node"
		writeJSON(w, http.StatusNotFound, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- GET /v1/blocks/{ref} ----

// QCInfo summarizes a quorum certificate.
type QCInfo struct {
	View    model.View `json:"view"`
	BlockID string     `json:"block_id"`
	Signers int        `json:"signers"`
}

// TCInfo summarizes a timeout certificate.
type TCInfo struct {
	View         model.View `json:"view"`
	NewestQCView model.View `json:"newest_qc_view"`
	Signers      int        `json:"signers"`
}

// BlockResponse describes a finalized block. Txs is set only on request
// (?txs=1), TxIDs only on request (?tx_ids=1): both can be large.
type BlockResponse struct {
	ID           string     `json:"id"`
	View         model.View `json:"view"`
	Height       uint64     `json:"height"`
	Parent       string     `json:"parent"`
	Proposer     string     `json:"proposer"`
	Timestamp    int64      `json:"timestamp"` // proposer's clock, Unix milliseconds
	PayloadHash  string     `json:"payload_hash"`
	PayloadBytes int        `json:"payload_bytes"`
	QC           *QCInfo    `json:"qc,omitempty"` // nil for the genesis block
	TC           *TCInfo    `json:"tc,omitempty"`
	TxCount      *int       `json:"tx_count,omitempty"` // nil when the payload format is unknown
	Txs          []string   `json:"txs,omitempty"`
	TxIDs        []string   `json:"tx_ids,omitempty"`
	// Stream-only fields: the node's state root after executing the block
	// and when it executed it.
	StateRoot  string     `json:"state_root,omitempty"`
	ExecutedAt *time.Time `json:"executed_at,omitempty"`
}

// blockQuery says which optional parts of a block to include.
type blockQuery struct{ txs, txIDs bool }

func parseBlockQuery(r *http.Request) (blockQuery, error) {
	var q blockQuery
	var err error
	if q.txs, err = boolParam(r, "txs"); err != nil {
		return q, err
	}
	if q.txIDs, err = boolParam(r, "tx_ids"); err != nil {
		return q, err
	}
	return q, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s=%q: want 1, 0, true or false", name, v)
	}
	return b, nil
}

// blockJSON converts a block. Payload decoding failures are the node's
// problem, not the client's, so they are returned for a 500.
func (s *Server) blockJSON(b *model.Block, q blockQuery) (*BlockResponse, error) {
	resp := &BlockResponse{
		ID: b.ID().Hex(), View: b.View, Height: b.Height, Parent: b.ParentID.Hex(),
		Proposer: b.ProposerID.Hex(), Timestamp: b.Timestamp, PayloadHash: b.PayloadHash.Hex(),
		PayloadBytes: len(b.Payload),
	}
	if b.QC != nil {
		resp.QC = &QCInfo{View: b.QC.View, BlockID: b.QC.BlockID.Hex(), Signers: b.QC.Signers.Count()}
	}
	if b.TC != nil {
		tc := &TCInfo{View: b.TC.View, Signers: b.TC.Signers.Count()}
		if b.TC.NewestQC != nil {
			tc.NewestQCView = b.TC.NewestQC.View
		}
		resp.TC = tc
	}
	if s.opts.DecodeTxs == nil || b.IsRoot() {
		// The genesis (root) payload is not a list of transactions.
		if b.IsRoot() {
			zero := 0
			resp.TxCount = &zero
		}
		return resp, nil
	}
	txs, err := s.opts.DecodeTxs(b.Payload)
	if err != nil {
		return nil, fmt.Errorf("decoding payload of block %d: %w", b.Height, err)
	}
	n := len(txs)
	resp.TxCount = &n
	if q.txs {
		resp.Txs = make([]string, len(txs))
		for i, tx := range txs {
			resp.Txs[i] = hex.EncodeToString(tx)
		}
	}
	if q.txIDs {
		resp.TxIDs = make([]string, len(txs))
		for i, tx := range txs {
			id := crypto.Sum(tx) // the transaction ID, as the node computes it
			resp.TxIDs[i] = hex.EncodeToString(id[:])
		}
	}
	return resp, nil
}

func (s *Server) handleBlock(w http.ResponseWriter, r *http.Request) {
	q, err := parseBlockQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.txs || q.txIDs {
		release, ok := s.admitRead(w, r, blockWithTxCost)
		if !ok {
			return
		}
		defer release()
	}
	ref := r.PathValue("ref")
	var blk *model.Block
	if ref == "latest" {
		blk, err = s.b.LatestBlock()
	} else {
		h, perr := strconv.ParseUint(ref, 10, 64)
		if perr != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("block reference %q: want a decimal height or \"latest\"", ref))
			return
		}
		blk, err = s.b.BlockByHeight(h)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			// Backends need not use storage.ErrNotFound for heights not
			// finalized yet; the finalized height decides.
			if latest, lerr := s.b.LatestBlock(); lerr == nil && h > latest.Height {
				err = storage.ErrNotFound
			}
		}
		if err == nil && blk == nil {
			err = storage.ErrNotFound
		}
	}
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no finalized block at height %s", ref))
			return
		}
		s.backendError(w, r, err)
		return
	}
	resp, err := s.blockJSON(blk, q)
	if err != nil {
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- GET /v1/status ----

// StatusResponse describes the node.
type StatusResponse struct {
	NodeID          string       `json:"node_id"`
	Name            string       `json:"name"`
	ChainID         string       `json:"chain_id"`
	View            model.View   `json:"view"`
	Leader          string       `json:"leader,omitempty"` // of View, as this node computes it
	FinalizedHeight uint64       `json:"finalized_height"`
	FinalizedID     string       `json:"finalized_id"`
	ExecutedHeight  uint64       `json:"executed_height"`
	StateRoot       string       `json:"state_root"`
	Syncing         bool         `json:"syncing"`
	BestPeerHeight  uint64       `json:"best_peer_height"`
	MempoolTxs      int          `json:"mempool_txs"`
	MempoolBytes    int          `json:"mempool_bytes"`
	Committee       []MemberInfo `json:"committee"`
	Peers           []PeerInfo   `json:"peers"`
	Epoch           EpochInfo    `json:"epoch"`
	NextEpoch       *EpochInfo   `json:"next_epoch,omitempty"`
	PendingSetup    *EpochInfo   `json:"pending_setup,omitempty"`
}

// EpochInfo summarises an epoch.
type EpochInfo struct {
	Counter   uint64     `json:"counter"`
	FirstView model.View `json:"first_view"`
	FinalView model.View `json:"final_view"`
	// Members counts the whole identity table; Roles splits it by role
	// ("consensus": the committee, "collection", "execution", "access").
	Members int            `json:"members"`
	Roles   map[string]int `json:"roles,omitempty"`
	// Clusters lists each collector cluster's members by name, in
	// cluster order (cluster i runs chain model.ClusterChain(main, epoch,
	// i)); absent without collectors.
	Clusters [][]string `json:"clusters,omitempty"`
}

func epochJSON(e *EpochSummary) *EpochInfo {
	if e == nil {
		return nil
	}
	return &EpochInfo{Counter: e.Counter, FirstView: e.FirstView, FinalView: e.FinalView, Members: e.Members,
		Roles: e.Roles, Clusters: e.Clusters}
}

// MemberInfo is one committee member.
type MemberInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Weight uint64 `json:"weight"`
}

// PeerInfo is one peer.
type PeerInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Address   string `json:"address"`
	Connected bool   `json:"connected"`
}

func statusJSON(st Status) StatusResponse {
	resp := StatusResponse{
		NodeID: st.NodeID.Hex(), Name: st.Name, ChainID: st.ChainID, View: st.View,
		FinalizedHeight: st.FinalizedHeight, FinalizedID: st.FinalizedID.Hex(),
		ExecutedHeight: st.ExecutedHeight, StateRoot: hex.EncodeToString(st.StateRoot[:]),
		Syncing: st.Syncing, BestPeerHeight: st.BestPeerHeight,
		MempoolTxs: st.MempoolTxs, MempoolBytes: st.MempoolBytes,
		Committee: make([]MemberInfo, len(st.Committee)), Peers: make([]PeerInfo, len(st.Peers)),
		Epoch: *epochJSON(&st.Epoch), NextEpoch: epochJSON(st.NextEpoch), PendingSetup: epochJSON(st.PendingSetup),
	}
	if st.Leader != model.ZeroID {
		resp.Leader = st.Leader.Hex()
	}
	for i, m := range st.Committee {
		resp.Committee[i] = MemberInfo{ID: m.ID.Hex(), Name: m.Name, Weight: m.Weight}
	}
	for i, p := range st.Peers {
		resp.Peers[i] = PeerInfo{ID: p.ID.Hex(), Name: p.Name, Address: p.Address, Connected: p.Connected}
	}
	return resp
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, statusJSON(s.b.Status()))
}

// ---- GET /v1/state/{key} ----

// StateResponse is a state read. Value is absent (and Found false) when the
// key is not set; Proof then proves the absence. Height is the executed
// height whose end state was read and Root that state's commitment.
type StateResponse struct {
	Key    string `json:"key"`
	Found  bool   `json:"found"`
	Value  string `json:"value,omitempty"`
	Proof  string `json:"proof"`
	Height uint64 `json:"height"`
	Root   string `json:"root"`
	// BlockHeight and Sealed are set by access nodes of pipeline
	// networks (docs/pipeline.md, "Reads in a pipeline network"): the
	// read is proven against the Result (Height, Root) of the finalized
	// main-chain block at BlockHeight, and Sealed says whether that result
	// is sealed — always false until sealing exists, so the read rests on
	// the executor whose receipt the chain incorporated.
	BlockHeight uint64 `json:"block_height,omitempty"`
	Sealed      *bool  `json:"sealed,omitempty"`
	Error       string `json:"error,omitempty"` // set on 404
}

// ErrStateUnavailable: the node cannot serve a proven state read right now
// (an access node whose execution nodes gave no answer that verifies, or
// whose chain names no executed result yet): 503 with Retry-After.
var ErrStateUnavailable = errors.New("state read unavailable")

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	var key []byte
	if p := r.PathValue("key"); p != "" {
		if r.URL.Query().Has("key") {
			writeError(w, http.StatusBadRequest, "give the key either in the path (hex) or as ?key= (UTF-8), not both")
			return
		}
		k, err := hex.DecodeString(p)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("key in the path must be hex (use ?key= for UTF-8): %v", err))
			return
		}
		key = k
	} else {
		key = []byte(r.URL.Query().Get("key"))
	}
	if len(key) == 0 {
		writeError(w, http.StatusBadRequest, "empty key: use /v1/state/<hex> or /v1/state?key=<utf8>")
		return
	}
	if len(key) > maxKeyBytes {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("key of %d bytes; at most %d", len(key), maxKeyBytes))
		return
	}
	sv, err := s.b.State(r.Context(), key)
	if err != nil {
		if errors.Is(err, app.ErrInvalidTx) || errors.Is(err, storage.ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if errors.Is(err, ErrStateUnavailable) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		s.backendError(w, r, err)
		return
	}
	resp := StateResponse{
		Key: hex.EncodeToString(key), Found: sv.Value != nil, Proof: hex.EncodeToString(sv.Proof),
		Height: sv.Height, Root: hex.EncodeToString(sv.Root[:]), BlockHeight: sv.BlockHeight,
	}
	if sv.Pipeline {
		sealed := sv.Sealed
		resp.Sealed = &sealed
	}
	if !resp.Found {
		resp.Error = "key not found"
		writeJSON(w, http.StatusNotFound, resp)
		return
	}
	resp.Value = hex.EncodeToString(sv.Value)
	writeJSON(w, http.StatusOK, resp)
}

// ---- GET /v1/blocks/stream ----

// handleStream sends one server-sent event per finalized block:
//
//	id: <height>
//	event: block
//	data: <BlockResponse JSON>
//
// ?txs=1 and ?tx_ids=1 work as for /v1/blocks/{ref}. If the node drops the
// subscription because the client fell behind, an "event: dropped" is sent
// and the stream ends, so the client knows to reconnect (and to fill the gap
// through /v1/blocks/{height}) rather than wait forever.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	q, err := parseBlockQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var ch <-chan ledger.FinalizedBlock
	release, ok := s.openStream(w, r, func() (err error) {
		ch, err = s.b.SubscribeFinalized(ctx)
		return err
	})
	if !ok {
		return
	}
	defer release()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell reverse proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	// The server's WriteTimeout (meant for ordinary requests) would cut a
	// long stream; each write gets its own deadline instead.
	send := func(chunk string) error {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := io.WriteString(w, chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(": floe block stream\n\n"); err != nil {
		return
	}
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			if err := send(": keep-alive\n\n"); err != nil {
				return
			}
		case fb, ok := <-ch:
			if !ok {
				if ctx.Err() == nil {
					_ = send("event: dropped\ndata: {\"error\":\"subscriber fell behind; reconnect\"}\n\n")
				}
				return
			}
			if fb.Block == nil {
				continue
			}
			resp, err := s.blockJSON(fb.Block, q)
			if err != nil {
				s.log.Warn("api stream", "err", err)
				_ = send(fmt.Sprintf("event: error\ndata: %s\n\n", mustJSON(ErrorResponse{Error: err.Error()})))
				return
			}
			if resp.TxCount == nil {
				n := fb.TxCount
				resp.TxCount = &n
			}
			resp.StateRoot = hex.EncodeToString(fb.StateRoot[:])
			if !fb.Time.IsZero() {
				t := fb.Time
				resp.ExecutedAt = &t
			}
			// JSON never contains a raw newline, so one data line suffices.
			if err := send(fmt.Sprintf("id: %d\nevent: block\ndata: %s\n\n", fb.Block.Height, mustJSON(resp))); err != nil {
				return
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(ErrorResponse{Error: err.Error()})
	}
	return b
}

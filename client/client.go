// Package client is the Go client of a floe node's HTTP API (package api
// serves it): status, transactions, blocks and the finalized block stream,
// the chain and evidence audit endpoints, governance service events and
// single Prometheus series. For accounts and signed transactions
// (packages account and transaction) on an access node it reads accounts
// (accounts.go), prepares and signs transactions for wallets, sends them
// and waits until they executed (transactions.go), decodes the VM's
// events (events.go) and parses the command-line syntax of program calls
// (args.go). Every answer is read with a bound, and a non-2xx answer
// becomes an *Error carrying the HTTP status and the server's message.
package client

import (
	"bytes"
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
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/mempool"
)

const (
	// DefaultTimeout bounds a whole request (answer included) when New is
	// given no *http.Client. The block stream is exempt: it stays open.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes bounds the body of one answer, and one event
	// of the block stream, unless WithMaxResponseBytes says otherwise.
	DefaultMaxResponseBytes = 64 << 20
)

// ErrResponseTooLarge is returned (wrapped) for an answer or a stream event
// longer than the client's bound; nothing of it is decoded.
var ErrResponseTooLarge = errors.New("response exceeds the size limit")

// Client talks to one node's API. It is safe for concurrent use.
type Client struct {
	base    string
	http    *http.Client
	maxBody int64
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (its
// transport and timeout) instead of a client with DefaultTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithMaxResponseBytes sets the largest answer body (and stream event) the
// client reads; n ≤ 0 keeps DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// New returns a client of the node at node: "http://host:port",
// "https://..." or a bare "host:port" (plain HTTP). A trailing slash is
// ignored.
func New(node string, opts ...Option) *Client {
	base := strings.TrimRight(node, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{base: base, http: &http.Client{Timeout: DefaultTimeout}, maxBody: DefaultMaxResponseBytes}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the node's URL as requests use it ("http://host:port").
func (c *Client) BaseURL() string { return c.base }

// HTTPClient is the *http.Client the requests go through, for endpoints
// this package does not wrap.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Error is a non-2xx answer: the HTTP status and the server's message (the
// "error" field of its JSON body, else the body's text).
type Error struct {
	Status  int
	Message string
	// RetryAfter is the node's Retry-After, when it gave one.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// IsStatus reports whether err is (or wraps) an *Error with that status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// newError builds the *Error of a non-2xx answer with body b.
func newError(status int, b []byte) *Error {
	var e api.ErrorResponse
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	return &Error{Status: status, Message: e.Error}
}

// readBody reads at most max bytes; a longer body is ErrResponseTooLarge.
func readBody(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w (%d bytes)", ErrResponseTooLarge, max)
	}
	return b, nil
}

// do sends a request and decodes a JSON answer into out (if not nil). A
// non-2xx status gives an *Error, and out is still filled if the body fits
// it (the submit endpoint carries per-item results alongside "error").
//
// A 429 (a rate or connection limit of the node's admission control) means
// the node ran nothing, so the request is sent again after the Retry-After
// the node gave (at most maxRateRetries times, each wait at most
// maxRetryWait) before the 429 is returned.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	for try := 0; ; try++ {
		err := c.doOnce(ctx, method, path, contentType, body, out)
		var ae *Error
		if try == maxRateRetries || !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
			return err
		}
		wait := min(max(ae.RetryAfter, 100*time.Millisecond), maxRetryWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Bounds of the retries after a 429.
const (
	maxRateRetries = 5
	maxRetryWait   = 5 * time.Second
)

func (c *Client) doOnce(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, c.maxBody)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		if out != nil {
			_ = json.Unmarshal(b, out)
		}
		e := newError(resp.StatusCode, b)
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// get is do for a GET without a body.
func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, "", nil, out)
}

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context) (api.StatusResponse, error) {
	var resp api.StatusResponse
	err := c.get(ctx, "/v1/status", &resp)
	return resp, err
}

// Submit posts a batch of transactions as JSON (hex). A refusal of the
// whole batch (HTTP 503 when the mempool is full, 400, ...) returns the
// per-item results that came with it along with the *Error.
func (c *Client) Submit(ctx context.Context, txs [][]byte) (api.SubmitResponse, error) {
	var resp api.SubmitResponse
	err := c.do(ctx, http.MethodPost, "/v1/transactions", "application/json", encodeSubmit(txs), &resp)
	return resp, err
}

// SubmitBinary posts a batch in the binary format (api.ContentTypeBinary:
// the mempool batch encoding), with no hex or JSON per transaction either
// way; the answer lists only the rejected transactions. Errors as Submit.
func (c *Client) SubmitBinary(ctx context.Context, txs [][]byte) (api.SubmitResponse, error) {
	var resp api.SubmitResponse
	err := c.do(ctx, http.MethodPost, "/v1/transactions", api.ContentTypeBinary, mempool.EncodePayload(txs), &resp)
	return resp, err
}

// encodeSubmit builds a JSON submit body by hand: for large batches it is
// several times faster than encoding/json.
func encodeSubmit(txs [][]byte) []byte {
	n := 10
	for _, tx := range txs {
		n += 2*len(tx) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, `{"txs":[`...)
	for i, tx := range txs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, tx)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// Tx reads GET /v1/transactions/{id} (id in hex). A transaction the node
// does not know is an *Error with status 404.
func (c *Client) Tx(ctx context.Context, id string) (api.TxResponse, error) {
	var resp api.TxResponse
	err := c.get(ctx, "/v1/transactions/"+url.PathEscape(id), &resp)
	return resp, err
}

// BlockQuery selects what a block answer includes.
type BlockQuery struct {
	Txs   bool // the transactions themselves (txs=1)
	TxIDs bool // the transactions' IDs (tx_ids=1)
}

// encode is the query string, "" or starting with "?".
func (q BlockQuery) encode() string {
	v := url.Values{}
	if q.Txs {
		v.Set("txs", "1")
	}
	if q.TxIDs {
		v.Set("tx_ids", "1")
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Block reads GET /v1/blocks/{height}.
func (c *Client) Block(ctx context.Context, height uint64, q BlockQuery) (api.BlockResponse, error) {
	var resp api.BlockResponse
	err := c.get(ctx, fmt.Sprintf("/v1/blocks/%d%s", height, q.encode()), &resp)
	return resp, err
}

// State reads GET /v1/state/{hex key}: the key's value in the node's
// executed state, with its proof (Value hex; an absent key is an error
// from the 404).
func (c *Client) State(ctx context.Context, key []byte) (api.StateResponse, error) {
	var resp api.StateResponse
	err := c.get(ctx, "/v1/state/"+hex.EncodeToString(key), &resp)
	return resp, err
}

// Chain reads GET /v1/chain: up to limit finalized blocks from height from,
// with their certificates.
func (c *Client) Chain(ctx context.Context, from uint64, limit int) ([]api.ChainBlockInfo, error) {
	var resp api.ChainResponse
	err := c.get(ctx, fmt.Sprintf("/v1/chain?from=%d&limit=%d", from, limit), &resp)
	return resp.Blocks, err
}

// Evidence reads GET /v1/evidence.
func (c *Client) Evidence(ctx context.Context) (api.EvidenceResponse, error) {
	var resp api.EvidenceResponse
	err := c.get(ctx, "/v1/evidence", &resp)
	return resp, err
}

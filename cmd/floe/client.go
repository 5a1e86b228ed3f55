package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/floe-bft/floe/mempool"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/floe-bft/floe/api"
)

// envNode names the API a client command talks to when --node is not given.
const envNode = "FLOE_NODE"

// defaultNodeURL is where client commands look for a node: $FLOE_NODE, or
// the API address 'floe init' writes by default.
func defaultNodeURL() string {
	if v := os.Getenv(envNode); v != "" {
		return v
	}
	return "http://" + defaultAPIAddr
}

// client talks to one node's API.
type client struct {
	base string
	http *http.Client
}

// newClient accepts "http://host:port", "https://..." or a bare
// "host:port".
func newClient(node string, hc *http.Client) *client {
	base := strings.TrimRight(node, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &client{base: base, http: hc}
}

// apiError is a non-2xx answer, with the API's error message.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg) }

// do sends a request and decodes a JSON answer into out. A non-2xx status
// gives an *apiError, and out is still filled if the body fits it (the
// submit and state endpoints carry details alongside "error").
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	return c.doAs(ctx, method, path, "application/json", body, out)
}

// doAs is do with an explicit request content type.
func (c *client) doAs(ctx context.Context, method, path, contentType string, body []byte, out any) error {
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
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e api.ErrorResponse
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		if out != nil {
			_ = json.Unmarshal(b, out)
		}
		return &apiError{Status: resp.StatusCode, Msg: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// encodeSubmit builds a POST /v1/transactions body by hand: for large
// batches it is several times faster than encoding/json, and the load
// generator's CPU competes with the nodes'.
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

// submit posts a batch. A 503 (nothing accepted, mempool full) still
// returns the per-item results along with the *apiError.
func (c *client) submit(ctx context.Context, txs [][]byte) (api.SubmitResponse, error) {
	var resp api.SubmitResponse
	err := c.do(ctx, http.MethodPost, "/v1/transactions", encodeSubmit(txs), &resp)
	return resp, err
}

// submitBinary posts a batch in the binary format: no hex or JSON per
// transaction either way; the answer lists only rejected transactions.
func (c *client) submitBinary(ctx context.Context, txs [][]byte) (api.SubmitResponse, error) {
	var resp api.SubmitResponse
	err := c.doAs(ctx, http.MethodPost, "/v1/transactions", api.ContentTypeBinary, mempool.EncodePayload(txs), &resp)
	return resp, err
}

func (c *client) tx(ctx context.Context, id string) (api.TxResponse, error) {
	var resp api.TxResponse
	err := c.do(ctx, http.MethodGet, "/v1/transactions/"+id, nil, &resp)
	return resp, err
}

func (c *client) status(ctx context.Context) (api.StatusResponse, error) {
	var resp api.StatusResponse
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &resp)
	return resp, err
}

func (c *client) block(ctx context.Context, height uint64, query string) (api.BlockResponse, error) {
	var resp api.BlockResponse
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/blocks/%d%s", height, query), nil, &resp)
	return resp, err
}

// metric reads one unlabelled series from /metrics; found is false when the
// node does not export it.
func (c *client) metric(ctx context.Context, name string) (value float64, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false, &apiError{Status: resp.StatusCode, Msg: "metrics"}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		if _, err := fmt.Sscan(rest, &value); err != nil {
			return 0, false, fmt.Errorf("metric %s: %q: %w", name, line, err)
		}
		return value, true, nil
	}
	return 0, false, sc.Err()
}

// streamEvent is one server-sent event.
type streamEvent struct {
	Event string
	Data  []byte
}

// stream opens /v1/blocks/stream and calls fn for each event until the
// stream ends, ctx is done or fn returns an error. connected is called once
// the node accepted the subscription (the HTTP answer arrived), so callers
// can order their work after it.
func (c *client) stream(ctx context.Context, query string, connected func(), fn func(streamEvent) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/blocks/stream"+query, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	// No client timeout: the stream is meant to stay open.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &apiError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))}
	}
	if connected != nil {
		connected()
	}
	r := bufio.NewReaderSize(resp.Body, 1<<20)
	var ev streamEvent
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A data line longer than the buffer (a block with many
			// transaction IDs): gather the rest.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if ev.Event != "" || ev.Data != nil {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = streamEvent{}
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			ev.Event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			ev.Data = append(ev.Data, bytes.TrimPrefix(line[len("data:"):], []byte(" "))...)
		}
	}
}

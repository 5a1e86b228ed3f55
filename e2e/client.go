package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/mempool"
)

// client talks to one node's API on the host's loopback. Every request has
// its own deadline: a paused or cut-off node must not stall the runner.
type client struct {
	base string
	http *http.Client
}

// maxResponseBytes bounds what the runner reads from one answer (a chain
// page of 64 full blocks is the largest).
const maxResponseBytes = 256 << 20

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (c *client) get(ctx context.Context, timeout time.Duration, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e api.ErrorResponse
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return &httpError{status: resp.StatusCode, msg: e.Error}
		}
		return &httpError{status: resp.StatusCode, msg: string(body)}
	}
	return json.Unmarshal(body, out)
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.msg) }

func (c *client) status(ctx context.Context) (api.StatusResponse, error) {
	var s api.StatusResponse
	err := c.get(ctx, 2*time.Second, "/v1/status", &s)
	return s, err
}

func (c *client) chain(ctx context.Context, from uint64, limit int) ([]api.ChainBlockInfo, error) {
	var r api.ChainResponse
	err := c.get(ctx, 20*time.Second, fmt.Sprintf("/v1/chain?from=%d&limit=%d", from, limit), &r)
	return r.Blocks, err
}

func (c *client) evidence(ctx context.Context) (api.EvidenceResponse, error) {
	var r api.EvidenceResponse
	err := c.get(ctx, 5*time.Second, "/v1/evidence", &r)
	return r, err
}

// tx looks a transaction up; a 404 is a result (status "unknown"), not an
// error.
func (c *client) tx(ctx context.Context, id string) (api.TxResponse, error) {
	var r api.TxResponse
	err := c.get(ctx, 5*time.Second, "/v1/transactions/"+id, &r)
	if he, ok := err.(*httpError); ok && he.status == http.StatusNotFound {
		return api.TxResponse{ID: id, Status: "unknown"}, nil
	}
	return r, err
}

// submit sends a binary batch (the block payload encoding) and returns the
// indices of the transactions the node rejected.
func (c *client) submit(ctx context.Context, txs [][]byte) (rejected map[int]string, err error) {
	// The binary batch format is the block payload encoding.
	body := mempool.EncodePayload(txs)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/transactions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var r api.SubmitResponse
	if err := c.do(req, &r); err != nil {
		return nil, err
	}
	rejected = map[int]string{}
	for _, res := range r.Results {
		if res.Error != "" {
			rejected[res.Index] = res.Code
		}
	}
	return rejected, nil
}

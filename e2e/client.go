package e2e

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	apiclient "github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// client talks to one node's API on the host's loopback. Every request has
// its own deadline: a paused or cut-off node must not stall the runner.
type client struct {
	c *apiclient.Client
}

// maxResponseBytes bounds what the runner reads from one answer (a chain
// page of 64 full blocks is the largest).
const maxResponseBytes = 256 << 20

func newClient(base string) *client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	return &client{c: apiclient.New(base, apiclient.WithHTTPClient(hc), apiclient.WithMaxResponseBytes(maxResponseBytes))}
}

// within runs call with a deadline of timeout.
func within[T any](ctx context.Context, timeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return call(ctx)
}

func (c *client) status(ctx context.Context) (api.StatusResponse, error) {
	return within(ctx, 2*time.Second, c.c.Status)
}

func (c *client) chain(ctx context.Context, from uint64, limit int) ([]api.ChainBlockInfo, error) {
	return within(ctx, 20*time.Second, func(ctx context.Context) ([]api.ChainBlockInfo, error) { return c.c.Chain(ctx, from, limit) })
}

func (c *client) evidence(ctx context.Context) (api.EvidenceResponse, error) {
	return within(ctx, 5*time.Second, c.c.Evidence)
}

// tx looks a transaction up; a 404 is a result (status "unknown"), not an
// error.
func (c *client) tx(ctx context.Context, id string) (api.TxResponse, error) {
	r, err := within(ctx, 5*time.Second, func(ctx context.Context) (api.TxResponse, error) { return c.c.Tx(ctx, id) })
	if apiclient.IsStatus(err, http.StatusNotFound) {
		return api.TxResponse{ID: id, Status: "unknown"}, nil
	}
	return r, err
}

// submit sends a binary batch and returns the indices of the transactions
// the node rejected.
func (c *client) submit(ctx context.Context, txs [][]byte) (rejected map[int]string, err error) {
	r, err := within(ctx, 5*time.Second, func(ctx context.Context) (api.SubmitResponse, error) { return c.c.SubmitBinary(ctx, txs) })
	if err != nil {
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

// submitEvent posts a service event in its binary encoding.
func (c *client) submitEvent(ctx context.Context, e *epoch.Event) error {
	_, err := within(ctx, 5*time.Second, func(ctx context.Context) (api.ServiceEventResponse, error) { return c.c.SubmitEvent(ctx, e) })
	return err
}

// metric reads one series of the node's metrics; a missing series is an
// error.
func (c *client) metric(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, found, err := c.c.Metric(ctx, name)
	if err == nil && !found {
		err = fmt.Errorf("no series %s", name)
	}
	return v, err
}

// result asks an execution node for its result at height.
func (c *client) result(ctx context.Context, height uint64) (api.ExecutionResultResponse, error) {
	return within(ctx, 5*time.Second, func(ctx context.Context) (api.ExecutionResultResponse, error) {
		return c.c.ExecutionResult(ctx, height)
	})
}

// pack fetches a chunk data pack from an execution node, undecoded,
// with a request signed by auth (a zero PackAuth: unsigned).
func (c *client) pack(ctx context.Context, chunk model.Identifier, auth payload.PackAuth) ([]byte, error) {
	return within(ctx, 10*time.Second, func(ctx context.Context) ([]byte, error) { return c.c.ChunkDataPack(ctx, chunk, auth) })
}

// disagreements lists what a consensus node recorded as disagreeing
// execution results.
func (c *client) disagreements(ctx context.Context) (api.DisagreementsResponse, error) {
	return within(ctx, 5*time.Second, c.c.Disagreements)
}

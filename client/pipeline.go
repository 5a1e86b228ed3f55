package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/mempool"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// ErrWrongCollection: a guarantor answered with a collection whose ID is
// not the one asked for; nothing of it is used.
var ErrWrongCollection = errors.New("collection does not match its ID")

// SubmitCollector hands encoded transactions (collection.Tx) to a
// collector: POST /v1/collector/transactions with the binary batch
// encoding. Errors as SubmitBinary (503 when the collector's pool is full).
func (c *Client) SubmitCollector(ctx context.Context, txs [][]byte) (api.SubmitResponse, error) {
	var resp api.SubmitResponse
	err := c.do(ctx, http.MethodPost, "/v1/collector/transactions", api.ContentTypeBinary, mempool.EncodePayload(txs), &resp)
	return resp, err
}

// CollectorTx asks a collector about one transaction:
// GET /v1/collector/transactions/{id}.
func (c *Client) CollectorTx(ctx context.Context, id model.Identifier) (api.CollectorTxResponse, error) {
	var resp api.CollectorTxResponse
	err := c.get(ctx, "/v1/collector/transactions/"+id.Hex(), &resp)
	return resp, err
}

// Collection fetches a collection from one of its guarantors
// (GET /v1/collections/{id}, the binary collection encoding) and checks it
// against id: a guarantor cannot hand out anything else
// (ErrWrongCollection). A guarantor that does not hold it answers 404.
func (c *Client) Collection(ctx context.Context, id model.Identifier, lim collection.Limits) (*collection.Collection, error) {
	b, err := c.raw(ctx, http.MethodGet, "/v1/collections/"+url.PathEscape(id.Hex()))
	if err != nil {
		return nil, err
	}
	col, err := collection.DecodeCollection(b, lim)
	if err != nil {
		return nil, fmt.Errorf("collection %v from %s: %w", id, c.base, err)
	}
	if col.ID() != id {
		return nil, fmt.Errorf("%w: asked %v, got %v from %s", ErrWrongCollection, id, col.ID(), c.base)
	}
	return col, nil
}

// SubmitGuarantees hands guarantees to a consensus node:
// POST /v1/guarantees with collection.EncodeGuarantees. 503 means its
// pool is full (retry later).
func (c *Client) SubmitGuarantees(ctx context.Context, gs []*collection.Guarantee) (api.GuaranteesResponse, error) {
	var resp api.GuaranteesResponse
	err := c.do(ctx, http.MethodPost, "/v1/guarantees", api.ContentTypeBinary, collection.EncodeGuarantees(gs), &resp)
	return resp, err
}

// SubmitReceipt hands a signed execution receipt to a consensus node:
// POST /v1/receipts with the receipt's encoding.
func (c *Client) SubmitReceipt(ctx context.Context, r *payload.Receipt) error {
	return c.do(ctx, http.MethodPost, "/v1/receipts", api.ContentTypeBinary, r.Encode(), nil)
}

// ExecutionResult asks an execution node for the result it computed for
// the finalized block at height (GET /v1/execution/results/{height}).
func (c *Client) ExecutionResult(ctx context.Context, height uint64) (api.ExecutionResultResponse, error) {
	var resp api.ExecutionResultResponse
	err := c.get(ctx, fmt.Sprintf("/v1/execution/results/%d", height), &resp)
	return resp, err
}

// ExecutionState asks an execution node for the network-wide register
// named key in the end state of executed height (0: its newest), with the
// proof (GET /v1/execution/state/{key}?height=H). Nothing in the answer
// is checked here: verify the proof against a root you trust with
// merkle.Verify(root, state.RegisterID{Key: key}.Encode(), value, proof).
// A height the node has not executed, or whose state it pruned, is an
// *Error with status 404.
func (c *Client) ExecutionState(ctx context.Context, key []byte, height uint64) (api.ExecutionStateResponse, error) {
	return c.ExecutionRegister(ctx, nil, key, height)
}

// ExecutionRegister is ExecutionState for the register (owner, key); an
// empty owner is a network-wide register. The proof is over
// state.RegisterID{Owner: string(owner), Key: string(key)}.Encode().
func (c *Client) ExecutionRegister(ctx context.Context, owner, key []byte, height uint64) (api.ExecutionStateResponse, error) {
	q := url.Values{}
	if height != 0 {
		q.Set("height", strconv.FormatUint(height, 10))
	}
	if len(owner) > 0 {
		q.Set("owner", hex.EncodeToString(owner))
	}
	path := "/v1/execution/state/" + hex.EncodeToString(key)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var resp api.ExecutionStateResponse
	err := c.get(ctx, path, &resp)
	return resp, err
}

// ChunkDataPack fetches a chunk data pack from an execution node (GET
// /v1/execution/packs/{chunk}), undecoded: execution.DecodeChunkDataPack
// reads it and execution.VerifyChunk checks it. Packs are served to
// staked nodes only: auth is the requester's signature for this chunk
// (payload.SignPackRequest); without it the node answers 401, to a node
// not authorized 403.
func (c *Client) ChunkDataPack(ctx context.Context, chunk model.Identifier, auth payload.PackAuth) ([]byte, error) {
	return c.raw(ctx, http.MethodGet, "/v1/execution/packs/"+chunk.Hex(), payload.PackAuthHeader, auth.Header())
}

// Disagreements lists the blocks for which a consensus node's finalized
// chain incorporated disagreeing execution results.
func (c *Client) Disagreements(ctx context.Context) (api.DisagreementsResponse, error) {
	var resp api.DisagreementsResponse
	err := c.get(ctx, "/v1/execution/disagreements", &resp)
	return resp, err
}

// raw sends a request without a body, with headers given as name, value
// pairs, and returns the body of a 2xx answer undecoded (bounded like
// every answer); other statuses give an *Error.
func (c *Client) raw(ctx context.Context, method, path string, headers ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, newError(resp.StatusCode, b)
	}
	return b, nil
}

// ExecutionRegisters asks an execution node for registers in the end
// state of executed height (0: its newest) with one batch proof (POST
// /v1/execution/registers). Nothing is checked here: decode the proof
// with state.DecodeBatchProof, check it against a root you trust with
// state.VerifyBatch, then read the registers with BatchProof.Get.
func (c *Client) ExecutionRegisters(ctx context.Context, height uint64, ids []state.RegisterID) (api.ExecutionRegistersResponse, error) {
	req := api.ExecutionRegistersRequest{Height: height, Registers: make([]api.RegisterRef, len(ids))}
	for i, id := range ids {
		req.Registers[i] = api.RegisterRef{Owner: hex.EncodeToString([]byte(id.Owner)), Key: hex.EncodeToString([]byte(id.Key))}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return api.ExecutionRegistersResponse{}, err
	}
	var resp api.ExecutionRegistersResponse
	err = c.do(ctx, http.MethodPost, "/v1/execution/registers", "application/json", body, &resp)
	return resp, err
}

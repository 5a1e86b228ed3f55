package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// Submitting to an access node of a pipeline network (docs/pipeline.md,
// "The access role"): transactions are collection.Tx envelopes that name
// a recent finalized main-chain block as their reference.

// ErrTxDropped: an access node reports the transaction expired (no
// cluster collected it before its reference block's expiry: resubmit with
// a newer reference) or failed (no collector took it).
var ErrTxDropped = errors.New("transaction expired or failed")

// NewTx encodes a pipeline transaction: body with reference block ref.
// Its ID (what the access node tracks) is collection.Tx.ID, not the hash
// of the bytes.
func NewTx(ref model.Identifier, body []byte) (id model.Identifier, encoded []byte) {
	tx := collection.Tx{Ref: ref, Body: body}
	return tx.ID(), tx.Encode()
}

// LatestRef returns the ID of the node's latest finalized block, the
// reference a new transaction should name.
func (c *Client) LatestRef(ctx context.Context) (model.Identifier, error) {
	var resp api.BlockResponse
	if err := c.get(ctx, "/v1/blocks/latest", &resp); err != nil {
		return model.ZeroID, err
	}
	id, err := model.ParseIdentifier(resp.ID)
	if err != nil {
		return model.ZeroID, fmt.Errorf("latest block ID %q: %w", resp.ID, err)
	}
	return id, nil
}

// SubmitAccess encodes body with the access node's latest finalized block
// as reference, submits it and returns its ID; a refusal is a
// *RejectedError.
func (c *Client) SubmitAccess(ctx context.Context, body []byte) (model.Identifier, error) {
	ref, err := c.LatestRef(ctx)
	if err != nil {
		return model.ZeroID, fmt.Errorf("reference block: %w", err)
	}
	id, tx := NewTx(ref, body)
	resp, err := c.Submit(ctx, [][]byte{tx})
	if len(resp.Results) == 1 && resp.Results[0].Error != "" {
		return id, &RejectedError{ID: id.Hex(), Reason: resp.Results[0].Error}
	}
	if err != nil {
		return id, fmt.Errorf("submit: %w", err)
	}
	return id, nil
}

// WaitStatus polls an access node until the transaction reaches status
// (api.TxCollected, TxFinalized or TxExecuted) or a later one, or ctx
// ends. Expired and failed end the wait with ErrTxDropped.
func (c *Client) WaitStatus(ctx context.Context, id model.Identifier, status string) (api.TxResponse, error) {
	rank := map[string]int{api.TxPending: 1, api.TxCollected: 2, api.TxFinalized: 3, api.TxExecuted: 4}
	want, ok := rank[status]
	if !ok {
		return api.TxResponse{}, fmt.Errorf("cannot wait for status %q", status)
	}
	tick := time.NewTicker(txPollInterval)
	defer tick.Stop()
	for {
		st, err := c.Tx(ctx, id.Hex())
		switch {
		case err == nil && rank[st.Status] >= want:
			return st, nil
		case err == nil && (st.Status == api.TxExpired || st.Status == api.TxFailed):
			return st, fmt.Errorf("%w: %s is %s", ErrTxDropped, id, st.Status)
		case err != nil && !IsStatus(err, http.StatusNotFound) && ctx.Err() == nil:
			return st, fmt.Errorf("status of %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("transaction %s not %s (last status %q): %w", id, status, st.Status, ctx.Err())
		case <-tick.C:
		}
	}
}

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// txPollInterval is how often WaitFinalized asks for a transaction.
const txPollInterval = 100 * time.Millisecond

// RejectedError is the node's refusal of a submitted transaction (invalid,
// duplicate, mempool full), as opposed to a failed request.
type RejectedError struct {
	// ID is the transaction's ID, Reason the node's message.
	ID, Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("transaction %s rejected: %s", e.ID, e.Reason)
}

// SubmitTx submits one transaction and returns its ID (the hex SHA-256 of
// its bytes); a refusal by the node is a *RejectedError.
func (c *Client) SubmitTx(ctx context.Context, tx []byte) (string, error) {
	id := model.Identifier(crypto.Sum(tx)).Hex()
	resp, err := c.Submit(ctx, [][]byte{tx})
	if len(resp.Results) == 1 && resp.Results[0].Error != "" {
		return id, &RejectedError{ID: id, Reason: resp.Results[0].Error}
	}
	if err != nil {
		return id, fmt.Errorf("submit: %w", err)
	}
	return id, nil
}

// WaitFinalized polls a transaction's status until it is finalized or ctx
// ends. A 404 is waited out: it happens briefly when a restarted node has
// forgotten its mempool.
func (c *Client) WaitFinalized(ctx context.Context, id string) (api.TxResponse, error) {
	start := time.Now()
	tick := time.NewTicker(txPollInterval)
	defer tick.Stop()
	for {
		st, err := c.Tx(ctx, id)
		switch {
		case err == nil && st.Status == "finalized":
			return st, nil
		case err != nil && !IsStatus(err, http.StatusNotFound):
			if ctx.Err() == nil {
				return st, fmt.Errorf("status of %s: %w", id, err)
			}
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("transaction %s not finalized after %s (last status %q)", id,
				time.Since(start).Round(time.Millisecond), st.Status)
		case <-tick.C:
		}
	}
}

// WriteFinalized prints where a finalized transaction landed and how it
// executed, took being the wait; a transaction that failed to execute is
// also returned as an error.
func WriteFinalized(w io.Writer, st api.TxResponse, took time.Duration) error {
	var h, idx uint64
	var v model.View
	if st.Height != nil {
		h = *st.Height
	}
	if st.View != nil {
		v = *st.View
	}
	if st.Index != nil {
		idx = uint64(*st.Index)
	}
	ok := st.OK != nil && *st.OK
	result := "ok"
	if !ok {
		result = "failed: " + st.Error
	}
	fmt.Fprintf(w, "finalized at height %d (view %d, index %d) after %s: %s\n", h, v, idx,
		took.Round(time.Millisecond), result)
	if !ok {
		return fmt.Errorf("transaction %s failed: %s", st.ID, st.Error)
	}
	return nil
}

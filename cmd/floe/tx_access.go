package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
)

// sendAccess is 'floe tx send --access': the transaction becomes the body
// of a pipeline envelope referencing the access node's latest finalized
// block, and the wait follows it to executed (docs/pipeline.md, "The
// access role").
func sendAccess(ctx context.Context, out io.Writer, c *client.Client, body []byte, noWait bool) error {
	id, err := c.SubmitAccess(ctx, body)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "submitted", id.Hex())
	if noWait {
		return nil
	}
	start := time.Now()
	st, err := c.WaitStatus(ctx, id, api.TxExecuted)
	if err != nil {
		return err
	}
	s := st.Stages
	fmt.Fprintf(out, "executed after %s: collection %s, finalized at height %d, executed height %d\n",
		time.Since(start).Round(time.Millisecond), s.Collection, s.FinalizedHeight, s.ExecutedHeight)
	return nil
}

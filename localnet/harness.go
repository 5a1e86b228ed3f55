package localnet

import (
	"context"
	"fmt"
	"time"
)

// Harness is what Options.Control gets: the running network, the load's
// measurements in windows, and restarts. Its methods may be called
// concurrently.
type Harness struct {
	nodes []*Node
	tr    *tracker
	gen   *loadGen
}

// Nodes are the network's nodes (validators, then followers).
func (h *Harness) Nodes() []*Node { return h.nodes }

// WindowStats are the load's measurements between two Window calls, from
// node0's block stream.
type WindowStats struct {
	Elapsed     time.Duration
	Blocks      int64   // finalized blocks seen
	FinalizedTx int64   // submitted transactions seen finalized
	P50MS       float64 // their submit-to-finalized latency
	P99MS       float64
	Submitted   int64 // accepted by mempools (whole run so far)
}

// Window returns the measurements since the previous call (or since the
// load started) and starts a new window. A pipeline run measures stages
// instead (Summary.Pipeline): its windows hold only Submitted.
func (h *Harness) Window() WindowStats {
	if h.tr == nil {
		return WindowStats{Submitted: h.gen.submitted.Load()}
	}
	w := h.tr.windowStats()
	w.Submitted = h.gen.submitted.Load()
	return w
}

// Restart SIGKILLs validator i (not node0, which carries the measurements)
// and starts it again at once, the way a crashed process comes back; the
// load skips it until its API answers again (at most timeout). Neither the
// kill nor the new process's start is reported as a crash; a later
// unexpected exit of the new process is. It returns when the API answers.
func (h *Harness) Restart(ctx context.Context, i int, timeout time.Duration) error {
	if h.tr == nil {
		return fmt.Errorf("restart: not supported in a pipeline run yet")
	}
	if i <= 0 || i >= len(h.gen.clients) {
		return fmt.Errorf("restart: node%d is not a validator other than node0", i)
	}
	tn := h.nodes[i]
	h.gen.down(i)
	if err := tn.Kill(); err != nil {
		return err
	}
	if err := tn.Start(); err != nil {
		return err
	}
	if err := WaitReady(ctx, []*Node{tn}, timeout); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	h.gen.dead[i].Store(false)
	return nil
}

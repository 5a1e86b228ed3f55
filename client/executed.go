package client

import (
	"fmt"
	"io"

	"github.com/floe-bft/floe/api"
)

// WriteExecuted prints an executed transaction for people: its status,
// result (the VM's reason if it failed), the gas it used, and its events,
// each with its type, its payload in hex and, for the VM's own events,
// the payload decoded (DescribeEvent). A transaction that failed is also
// returned as an error wrapping ErrTxFailed, so a command exits non-zero.
func WriteExecuted(w io.Writer, st api.TxResponse) error {
	ok, reason, known := TxOutcome(st)
	result := "ok"
	switch {
	case !known:
		result = "unknown (no execution node reported it yet)"
	case !ok:
		result = "failed: " + reason
	}
	fmt.Fprintf(w, "status:   %s\n", st.Status)
	fmt.Fprintf(w, "result:   %s\n", result)
	if x := st.Execution; x != nil {
		fmt.Fprintf(w, "gas used: %d\n", x.Computation)
	}
	if s := st.Stages; s != nil && s.ExecutedHeight > 0 {
		fmt.Fprintf(w, "height:   finalized %d, executed %d\n", s.FinalizedHeight, s.ExecutedHeight)
	}
	events := Events(st)
	fmt.Fprintf(w, "events:   %d\n", len(events))
	for _, e := range events {
		if d := DescribeEvent(e); d != "" {
			fmt.Fprintf(w, "  %s %s (payload %s)\n", e.Type, d, e.Payload)
		} else {
			fmt.Fprintf(w, "  %s payload %s\n", e.Type, orNone(e.Payload))
		}
	}
	switch {
	case !known:
		return fmt.Errorf("%w: %s", ErrOutcomeUnknown, st.ID)
	case !ok:
		return fmt.Errorf("%w: %s", ErrTxFailed, reason)
	}
	return nil
}

func orNone(hex string) string {
	if hex == "" {
		return "(empty)"
	}
	return hex
}

package localnet

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// progress prints the live line.
type progress struct {
	out     io.Writer
	tty     bool
	nodes   []*Node
	tr      *tracker
	gen     *loadGen
	pending *pendingTxs
	start   time.Time
	lastTx  int64
	lastAt  time.Time
	printed bool
}

func (p *progress) line(ctx context.Context) {
	for _, tn := range p.nodes {
		tn.sampleRSS()
	}
	rctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	view, height := "?", "?"
	if st, err := p.nodes[0].Client.Status(rctx); err == nil {
		view, height = strconv.FormatUint(uint64(st.View), 10), strconv.FormatUint(st.FinalizedHeight, 10)
	}
	timeouts := sumTimeouts(rctx, p.nodes)
	snap := p.tr.snapshot()
	now := time.Now()
	since := p.lastAt
	if since.IsZero() {
		since = p.start
	}
	tps := float64(snap.matched-p.lastTx) / now.Sub(since).Seconds()
	p.lastTx, p.lastAt = snap.matched, now
	s := fmt.Sprintf("[%4.0fs] view %s  height %s  %7.0f tx/s finalized  p50 %6.1f ms  p99 %6.1f ms  timeouts %.0f  submitted %d  pending %d",
		now.Sub(p.start).Seconds(), view, height, tps, snap.winP50, snap.winP99, timeouts,
		p.gen.submitted.Load(), p.pending.len())
	if p.tty {
		// Rewrite one line in place on a terminal.
		fmt.Fprintf(p.out, "\r\033[K%s", s)
		p.printed = true
	} else {
		fmt.Fprintln(p.out, s)
	}
}

// clear ends the in-place progress line before other output.
func (p *progress) clear() {
	if p.tty && p.printed {
		fmt.Fprintln(p.out)
	}
}

// isTerminal reports whether w is a character device (a terminal), where
// the progress line can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}

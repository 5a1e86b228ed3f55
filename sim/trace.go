package sim

import (
	"fmt"
	"io"
	"os"
	"time"
)

// TraceOut receives live trace lines when Config.Trace is set.
var TraceOut io.Writer = os.Stderr

// tracer keeps the last traceRing lines for violation reports and, when
// live tracing is on, prints every line.
type tracer struct {
	live bool
	ring []string
	next int
	full bool
}

func newTracer(live bool) *tracer { return &tracer{live: live, ring: make([]string, traceRing)} }

func (t *tracer) add(now time.Duration, format string, args ...any) {
	line := fmt.Sprintf("%10.3fs  ", now.Seconds()) + fmt.Sprintf(format, args...)
	if t.live {
		fmt.Fprintln(TraceOut, line)
	}
	t.ring[t.next] = line
	t.next = (t.next + 1) % len(t.ring)
	if t.next == 0 {
		t.full = true
	}
}

// lines returns the kept lines, oldest first.
func (t *tracer) lines() []string {
	if !t.full {
		return append([]string(nil), t.ring[:t.next]...)
	}
	return append(append([]string(nil), t.ring[t.next:]...), t.ring[:t.next]...)
}

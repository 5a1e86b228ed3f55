package network

import (
	"sync"
	"time"
)

// logInterval is the least time between two log lines of one reason about
// rejected connections. One hostile client produced about 350 unknown-key
// WARN lines per second; a line every 10 s with the count of the others
// says the same thing.
const logInterval = 10 * time.Second

// Reasons for rate-limited log lines. The set is fixed: keying by remote
// address would let an attacker grow the limiter's map.
const (
	logUnknownKeyInbound  = "unknown key inbound"
	logUnknownKeyOutbound = "unknown key outbound"
	logAcceptFailed       = "accept failed"
	logEvicted            = "evicted"
	logRefusedPerSource   = "refused per source"
	logRefusedFull        = "refused full"
)

// logLimiter lets at most one log line per reason through per interval and
// counts the lines it holds back, so the next line can say how many there
// were. It limits only logging: callers count every event in their metrics
// whether or not it is logged.
type logLimiter struct {
	interval time.Duration

	mu      sync.Mutex
	now     func() time.Time // injectable for tests; guarded by mu
	reasons map[string]*logWindow
}

// logWindow is one reason's state.
type logWindow struct {
	last       time.Time // when the last line was let through
	suppressed uint64    // lines held back since then
}

func newLogLimiter(interval time.Duration) *logLimiter {
	return &logLimiter{interval: interval, now: time.Now, reasons: make(map[string]*logWindow)}
}

// setClock replaces the clock (tests).
func (l *logLimiter) setClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// allow reports whether a line for reason may be written now; if so,
// suppressed is the number held back since the previous line of that
// reason.
func (l *logLimiter) allow(reason string) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.reasons[reason]
	if w == nil {
		l.reasons[reason] = &logWindow{last: now}
		return true, 0
	}
	if now.Sub(w.last) < l.interval {
		w.suppressed++
		return false, 0
	}
	suppressed = w.suppressed
	w.last, w.suppressed = now, 0
	return true, suppressed
}

package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// budgets charges clients against per-client token buckets (requests, or
// blocks read), in a bounded table.
type budgets struct {
	perSec float64
	burst  int
	table  *clientTable[*rate.Limiter]
}

// newBudgets returns nil (no limit) when perSec is 0.
func newBudgets(perSec float64, burst, maxClients int) *budgets {
	if perSec <= 0 {
		return nil
	}
	if maxClients <= 0 {
		maxClients = DefaultLimits().MaxClients
	}
	b := &budgets{perSec: perSec, burst: burst}
	b.table = newClientTable(maxClients, func() *rate.Limiter { return rate.NewLimiter(rate.Limit(perSec), burst) })
	return b
}

// charge takes n tokens from client's bucket. When it cannot, nothing is
// taken and retry says when n tokens will be there (n above the burst is
// charged as the burst: such a request could never pass otherwise).
func (b *budgets) charge(client string, n int) (ok bool, retry time.Duration) {
	if b == nil {
		return true, 0
	}
	n = min(n, b.burst)
	lim := b.table.get(client)
	now := time.Now()
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// spend takes n tokens from client's bucket even if that leaves it in
// debt, which later charges wait out: for work already done, whose size
// was only known at the end.
func (b *budgets) spend(client string, n int) {
	if b == nil {
		return
	}
	b.table.get(client).ReserveN(time.Now(), min(n, b.burst))
}

// inDebt reports whether client's bucket is empty or owes tokens, and
// when it will hold one again.
func (b *budgets) inDebt(client string) (bool, time.Duration) {
	if b == nil {
		return false, 0
	}
	t := b.table.get(client).Tokens()
	if t >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - t) / b.perSec * float64(time.Second))
}

// refuse answers a request that admission control turned away: status
// (429 for one client's limits, 503 for the node's), a Retry-After in
// whole seconds, a JSON error naming the limit, and the refusal counted.
func (s *Server) refuse(w http.ResponseWriter, status int, reason string, retry time.Duration, format string, args ...any) {
	s.metrics.Refused(reason)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
	writeError(w, status, fmt.Sprintf(format, args...))
}

// admitSubmit charges a submission of n transactions to the client's
// transaction budget (429) and to the node's (503), before any of them is
// checked; a refused batch changed nothing and may be resent.
func (s *Server) admitSubmit(w http.ResponseWriter, r *http.Request, n int) bool {
	client := clientIP(r)
	if ok, retry := s.submitTxs.charge(client, n); !ok {
		s.refuse(w, http.StatusTooManyRequests, RefusedTxBudget, retry,
			"rate limit: %s may submit %g transactions per second (this batch holds %d); retry later", client, s.limits.SubmitTxRate, n)
		return false
	}
	if ok, retry := s.totalTxs.charge("", n); !ok {
		s.refuse(w, http.StatusServiceUnavailable, RefusedTxTotal, retry,
			"busy: this node takes %g transactions per second from all clients together; retry later", s.limits.TotalSubmitTxRate)
		return false
	}
	return true
}

package bench

import (
	"io"
	"net/http"
	"strconv"
	"sync"
)

// counterSet collects an attack's counters from many goroutines.
type counterSet struct {
	mu sync.Mutex
	m  map[string]int64
}

func newCounterSet() *counterSet { return &counterSet{m: map[string]int64{}} }

func (c *counterSet) add(name string, n int64) {
	c.mu.Lock()
	c.m[name] += n
	c.mu.Unlock()
}

func (c *counterSet) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

// maxOf raises name to v if v is larger (a high-water mark).
func (c *counterSet) maxOf(name string, v int64) {
	c.mu.Lock()
	c.m[name] = max(c.m[name], v)
	c.mu.Unlock()
}

// into copies the counters into row.
func (c *counterSet) into(row *WindowResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		row.Counters[k] = v
	}
}

// answer counts one HTTP exchange under prefix: sent always, then served
// (2xx), refused (429 or 503), failed (no answer) or status_NNN, and
// drains the body so the connection is reused.
func (c *counterSet) answer(prefix string, resp *http.Response, err error) {
	c.add(prefix+"sent", 1)
	if err != nil {
		c.add(prefix+"failed", 1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		c.add(prefix+"served", 1)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		c.add(prefix+"refused", 1)
	default:
		c.add(prefix+"status_"+strconv.Itoa(resp.StatusCode), 1)
	}
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

const (
	// connFloodSlots is how many API connections the flood tries to hold.
	connFloodSlots = 5000
	// connFloodDialRate bounds new connections per second (the first
	// thousands included), so the flood measures the node and not the
	// host's SYN queue.
	connFloodDialRate = 1000
	// probeEvery is how often a fresh legitimate client probes the node.
	probeEvery = time.Second
	// probeTimeout bounds one probe.
	probeTimeout = 3 * time.Second
)

// connFlood: up to connFloodSlots TCP connections to node1's API, spread
// over the attacker's addresses and kept open: half idle (nothing sent),
// half slow-body (a POST whose body trickles in one byte a second). A
// connection the node closes is redialled. Meanwhile, every second, a
// fresh legitimate client (new connection, 127.0.0.1) asks for
// GET /v1/status and must be answered.
func connFlood(ctx context.Context, env *attackEnv, row *WindowResult) error {
	target := env.nodes[attackTarget]
	cs := newCounterSet()
	var open atomic.Int64
	lim := rate.NewLimiter(connFloodDialRate, 100)
	var wg sync.WaitGroup
	for i := 0; i < connFloodSlots; i++ {
		src := env.sources[i%len(env.sources)]
		slow := i%2 == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lim.Wait(ctx) == nil {
				holdConn(ctx, src, target.APIAddr, slow, cs, &open)
				if !sleepCtx(ctx, 100*time.Millisecond) {
					return
				}
			}
		}()
	}
	probes := probeLoop(ctx, target.APIAddr, func() { cs.maxOf("max_open", open.Load()) })
	wg.Wait()
	cs.into(row)
	row.check("fresh client served", probes.failed == 0 && probes.ok > 0,
		"%d/%d GET /v1/status from a fresh connection answered during the flood (slowest %.0f ms)%s",
		probes.ok, probes.ok+probes.failed, probes.maxMS, probes.lastErr)
	return nil
}

// holdConn opens one connection from src and holds it until the node
// closes it or ctx ends, counting what happened.
func holdConn(ctx context.Context, src, addr string, slow bool, cs *counterSet, open *atomic.Int64) {
	c, err := dialFrom(ctx, src, addr)
	if err != nil {
		if ctx.Err() == nil {
			cs.add("dial_failed", 1)
		}
		return
	}
	defer c.Close()
	cs.add("dialed", 1)
	open.Add(1)
	defer open.Add(-1)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if slow {
		go trickle(ctx, c)
	}
	// Whatever the node sends before closing: a refusal (429/503) or, for
	// an idle connection, a timeout answer or nothing.
	line, _ := bufio.NewReader(c).ReadString('\n')
	if ctx.Err() != nil {
		return
	}
	switch {
	case strings.Contains(line, " 429 "):
		cs.add("refused_429", 1)
	case strings.Contains(line, " 503 "):
		cs.add("refused_503", 1)
	case line == "":
		cs.add("closed_silently", 1)
	default:
		cs.add("closed_other", 1)
	}
}

// trickle sends a POST's headers, then its body one byte a second.
func trickle(ctx context.Context, c net.Conn) {
	if _, err := fmt.Fprintf(c, "POST /v1/transactions HTTP/1.1\r\nHost: floe\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.Write([]byte("{")); err != nil {
				return
			}
		}
	}
}

// probeResult counts a legitimate client's probes.
type probeResult struct {
	ok, failed int
	maxMS      float64
	lastErr    string
}

// probeLoop asks addr for GET /v1/status every probeEvery from a new
// connection (127.0.0.1) until ctx ends; tick runs before each probe.
func probeLoop(ctx context.Context, addr string, tick func()) probeResult {
	var r probeResult
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return r
		case <-t.C:
		}
		if tick != nil {
			tick()
		}
		hc := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := hc.Get("http://" + addr + "/v1/status")
		if ctx.Err() != nil {
			if err == nil {
				resp.Body.Close()
			}
			return r
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		if err != nil {
			r.failed++
			r.lastErr = "; last failure: " + err.Error()
			continue
		}
		r.ok++
		r.maxMS = max(r.maxMS, float64(time.Since(start).Microseconds())/1000)
	}
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/floe-bft/floe/client"
)

const (
	// monopolyStreams is how many subscriptions of each kind the attacker
	// tries to hold.
	monopolyStreams = 32
	// refusalWithin: a refused subscription must be answered this fast;
	// slower counts as a held connection.
	refusalWithin = 3 * time.Second
	// firstBlockWithin: a legitimate subscriber must get a block this fast.
	firstBlockWithin = 5 * time.Second
	// streamRetry is the attacker's pause after a refusal.
	streamRetry = 500 * time.Millisecond
)

// streamMonopoly: from one attacker address, monopolyStreams subscriptions
// each to GET /v1/blocks/stream and GET /v1/sync/live on node1, never
// reading them; refused ones are retried. Refusals must be prompt JSON
// 429/503 answers, and a legitimate subscriber (127.0.0.1) must still
// receive a block within firstBlockWithin, probed every two seconds.
func streamMonopoly(ctx context.Context, env *attackEnv, row *WindowResult) error {
	target := env.nodes[attackTarget]
	src := env.sources[0]
	cs := newCounterSet()
	var wg sync.WaitGroup
	for _, route := range []struct{ path, prefix string }{{"/v1/blocks/stream", "blocks_"}, {"/v1/sync/live", "live_"}} {
		for i := 0; i < monopolyStreams; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Transport: &http.Transport{DialContext: sourceDialer(src, 3*time.Second).DialContext,
					DisableKeepAlives: true, ResponseHeaderTimeout: refusalWithin}}
				for ctx.Err() == nil {
					if holdStream(ctx, hc, "http://"+target.APIAddr+route.path, route.prefix, cs) {
						return // held until the end
					}
					sleepCtx(ctx, streamRetry)
				}
			}()
		}
	}
	var got, tried int
	var slowest time.Duration
	var lastErr string
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		d, err := firstBlock(ctx, target.Client)
		if ctx.Err() != nil {
			break
		}
		tried++
		if err != nil {
			lastErr = "; last failure: " + err.Error()
			continue
		}
		got++
		slowest = max(slowest, d)
	}
	wg.Wait()
	cs.into(row)
	row.check("legitimate subscriber served", tried > 0 && got == tried,
		"%d/%d subscriptions from another address got a block within %s (slowest %.0f ms)%s",
		got, tried, firstBlockWithin, float64(slowest.Microseconds())/1000, lastErr)
	bad := cs.get("blocks_held") + cs.get("live_held") + cs.get("blocks_refused_not_json") + cs.get("live_refused_not_json")
	row.check("honest refusals", bad == 0,
		"%d refusals answered with JSON 429/503 within %s; %d held without an answer or not JSON",
		cs.get("blocks_refused")+cs.get("live_refused"), refusalWithin, bad)
	return nil
}

// holdStream opens one subscription. Accepted: it is held, never read,
// until ctx ends (true). Refused or failed: counted, false.
func holdStream(ctx context.Context, hc *http.Client, url, prefix string, cs *counterSet) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		return true
	}
	cs.add(prefix+"sent", 1)
	if err != nil {
		if strings.Contains(err.Error(), "timeout awaiting response headers") {
			cs.add(prefix+"held", 1)
		} else {
			cs.add(prefix+"failed", 1)
		}
		return false
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		cs.add(prefix+"accepted", 1)
		<-ctx.Done()
		return true
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		cs.add(prefix+"refused", 1)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			cs.add(prefix+"refused_not_json", 1)
		}
	default:
		cs.add(fmt.Sprintf("%sstatus_%d", prefix, resp.StatusCode), 1)
	}
	return false
}

// errGotBlock ends a probe subscription at its first block.
var errGotBlock = errors.New("got a block")

// firstBlock subscribes to c's block stream and returns how long the first
// block took to arrive.
func firstBlock(ctx context.Context, c *client.Client) (time.Duration, error) {
	pctx, cancel := context.WithTimeout(ctx, firstBlockWithin)
	defer cancel()
	start := time.Now()
	err := c.Stream(pctx, client.BlockQuery{}, nil, func(ev client.StreamEvent) error {
		if ev.Event == "block" {
			return errGotBlock
		}
		return nil
	})
	if errors.Is(err, errGotBlock) {
		return time.Since(start), nil
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no block within %s", firstBlockWithin)
	}
	return 0, err
}

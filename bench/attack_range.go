package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/time/rate"

	"github.com/floe-bft/floe/ledger"
)

// rangeFloodClients is how many concurrent clients the range flood runs.
const rangeFloodClients = 32

// rangeFlood: rangeFloodClients clients spread over the attacker's
// addresses request full block ranges (GET /v1/sync/range?from=1&count=512)
// and chain reads (GET /v1/chain?from=1&limit=256, the most it serves) from node1 as fast as
// FloodRate allows, ignoring refusals. The expensive-read slots, per-client
// block budgets and request rates must keep consensus unaffected.
func rangeFlood(ctx context.Context, env *attackEnv, row *WindowResult) error {
	target := env.nodes[attackTarget]
	lim := rate.NewLimiter(rate.Limit(env.floodRate), max(env.floodRate/10, 1))
	cs := newCounterSet()
	var wg sync.WaitGroup
	for g := 0; g < rangeFloodClients; g++ {
		hc := sourceHTTPClient(env.sources[g%len(env.sources)], 2, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer hc.CloseIdleConnections()
			for i := 0; ; i++ {
				if lim.Wait(ctx) != nil {
					return
				}
				path, prefix := "/v1/sync/range?from=1&count=512", "range_"
				if i%2 == 1 {
					path, prefix = fmt.Sprintf("/v1/chain?from=1&limit=%d", ledger.MaxChainBlocks), "chain_"
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s%s", target.APIAddr, path), nil)
				resp, err := hc.Do(req)
				if ctx.Err() != nil {
					if err == nil {
						resp.Body.Close()
					}
					return
				}
				cs.answer(prefix, resp, err)
			}
		}()
	}
	wg.Wait()
	cs.into(row)
	served := cs.get("range_served") + cs.get("chain_served")
	row.check("flood ran", cs.get("range_sent") > 0, "%d range and %d chain requests sent to %s, %d served",
		cs.get("range_sent"), cs.get("chain_sent"), target.Name, served)
	return nil
}

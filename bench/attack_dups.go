package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/mempool"
)

const (
	// dupBatch is how many finalized transactions each resubmission
	// carries.
	dupBatch = 200
	// dupClients is how many concurrent resubmitting clients run.
	dupClients = 8
	// dupFinalizeWait bounds the wait for the batch to be finalized.
	dupFinalizeWait = 20 * time.Second
)

// dupFlood: submits dupBatch transactions of its own through node0 (a
// legitimate client), waits until every validator finalized them, then resubmits the
// same batch to every validator from the attacker's addresses, as fast as
// FloodRate allows. Every resubmission must be refused as a duplicate (400,
// code "duplicate") and nothing accepted again. (Governance events are not
// replayed: the suite's testnet has no governance key.)
func dupFlood(ctx context.Context, env *attackEnv, row *WindowResult) error {
	txs := dupTxs(dupBatch)
	ref := env.nodes[0].Client
	if _, err := ref.SubmitBinary(ctx, txs); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("submitting the batch to replay: %w", err)
	}
	// Finalized on every validator, not only node0: a validator a few
	// blocks behind still holds the batch as pending, and answers a
	// resubmission of a pending transaction as accepted (it is, once).
	wctx, cancel := context.WithTimeout(ctx, dupFinalizeWait)
	for _, tn := range env.nodes {
		for _, i := range []int{0, len(txs) - 1} {
			id := crypto.Sum(txs[i])
			if _, err := tn.Client.WaitFinalized(wctx, hex.EncodeToString(id[:])); err != nil {
				cancel()
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("the batch to replay was not finalized on %s: %w", tn.Name, err)
			}
		}
	}
	cancel()
	body := mempool.EncodePayload(txs)
	cs := newCounterSet()
	lim := rate.NewLimiter(rate.Limit(env.floodRate), max(env.floodRate/10, 1))
	var wg sync.WaitGroup
	for g := 0; g < dupClients; g++ {
		hc := sourceHTTPClient(env.sources[g%len(env.sources)], 2, 10*time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer hc.CloseIdleConnections()
			for i := g; lim.Wait(ctx) == nil; i++ {
				tn := env.nodes[i%len(env.nodes)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+tn.APIAddr+"/v1/transactions", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/octet-stream")
				start := time.Now()
				resp, err := hc.Do(req)
				if ctx.Err() != nil {
					if err == nil {
						resp.Body.Close()
					}
					return
				}
				cs.add("sent", 1)
				if err != nil {
					cs.add("failed", 1)
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusBadRequest && strings.Contains(string(b), `"duplicate"`):
					cs.add("refused_duplicate", 1)
					cs.add("duplicate_answer_us_total", time.Since(start).Microseconds())
				case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
					cs.add("refused_rate", 1)
				case resp.StatusCode/100 == 2:
					cs.add("accepted_again", 1) // some transaction was taken again
				default:
					cs.add(fmt.Sprintf("status_%d", resp.StatusCode), 1)
				}
			}
		}()
	}
	wg.Wait()
	cs.into(row)
	row.Counters["batch_txs"] = dupBatch
	if n := cs.get("refused_duplicate"); n > 0 {
		row.Counters["duplicate_answer_us_mean"] = cs.get("duplicate_answer_us_total") / n
	}
	delete(row.Counters, "duplicate_answer_us_total")
	row.check("duplicates refused", cs.get("refused_duplicate") > 0 && cs.get("accepted_again") == 0,
		"%d resubmissions of %d finalized transactions refused as duplicates, %d accepted again",
		cs.get("refused_duplicate"), dupBatch, cs.get("accepted_again"))
	return nil
}

// dupTxs builds n key-value transactions unique to this run.
func dupTxs(n int) [][]byte {
	run := time.Now().UnixNano()
	txs := make([][]byte, n)
	for i := range txs {
		nonce := []byte(fmt.Sprintf("dup-%d-%d", run, i))
		txs[i] = kvstore.EncodeSet([]byte(fmt.Sprintf("attack-dup-%03d", i)), []byte("replayed"), nonce)
	}
	return txs
}

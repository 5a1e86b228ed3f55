package consensus_test

import (
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
)

// BenchmarkFourNodeThroughput pushes 250-byte transactions into four
// in-process nodes (real TLS over loopback, real Pebble, real BLS) and
// measures how fast node 0 executes them. One op is one transaction.
func BenchmarkFourNodeThroughput(b *testing.B) {
	t := &testing.T{}
	tn := newTestnet(t, 4)
	tn.gen.Params.TimeoutMinMS = 1000
	tn.startAll()
	defer tn.stopAll()
	const batch = 1000
	value := make([]byte, 250-kvstore.Overhead-8-8)
	txs := make([][]byte, b.N)
	for i := range txs {
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, uint64(i%100_000))
		nonce := make([]byte, 8)
		rand.Read(nonce)
		txs[i] = kvstore.EncodeSet(key, value, nonce)
	}
	start := tn.nodes[0].Status().ExecutedHeight
	_ = start
	b.ResetTimer()
	began := time.Now()
	sent := 0
	for sent < len(txs) {
		end := min(sent+batch, len(txs))
		res := tn.nodes[(sent/batch)%4].SubmitTxs(txs[sent:end])
		for _, r := range res {
			if r.Error != nil {
				time.Sleep(time.Millisecond) // mempool full: back off
				break
			}
		}
		sent = end
	}
	last := txs[len(txs)-1]
	_ = last
	deadline := time.Now().Add(5 * time.Minute)
	for {
		executed := 0.0
		executed = metric(t, tn.regs[0], "floe_executed_txs_total")
		if int(executed) >= b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(began)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")

}

package consensus_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/floe-bft/floe/collection"
	node "github.com/floe-bft/floe/role/consensus"
)

// BenchmarkOrderGuarantees is the ordering capacity of a pipeline
// network's consensus role: four replicas in process (memory network,
// real BLS: every vote, QC and guarantee signature checked), guarantees of
// a real cluster of four fed as fast as they are ordered, each to one
// node (a quarter to each, concurrently), so that every replica verifies each guarantee once:
// at intake on the node that received it, in Validate on the others. One
// op is one guarantee finalized on node 0. Signing the guarantees is
// outside the timer.
func BenchmarkOrderGuarantees(b *testing.B) {
	pn := newPipeNet(b, 4, 4, 1)
	pn.tune = func(cfg *node.Config) { cfg.GuaranteePoolSize = 50_000 }
	pn.startAll()
	defer pn.stopAll()
	for pn.finalized(0) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	ref, _ := pn.blockAt(b, 0, 1)
	gs := make([]*collection.Guarantee, b.N)
	for i := range gs {
		gs[i] = pn.guarantee(b, randomID(), ref.ID(), pn.chain, pn.full()...)
	}
	start := metric(&testing.T{}, pn.regs[0], "floe_guarantees_included_total")
	cpu0 := processCPU()
	b.ResetTimer()
	began := time.Now()
	// One feeder per node, as collectors hand guarantees to consensus
	// nodes concurrently: a node's pool is its own (guarantees are not
	// gossiped), so each feeder keeps its node's pool full.
	const batch = 100
	errs := make(chan error, len(pn.nodes))
	for k, nd := range pn.nodes {
		var mine []*collection.Guarantee
		for i := k; i < len(gs); i += len(pn.nodes) {
			mine = append(mine, gs[i])
		}
		go func() {
			for sent := 0; sent < len(mine); {
				end := min(sent+batch, len(mine))
				_, err := nd.SubmitGuarantees(context.Background(), mine[sent:end])
				if errors.Is(err, node.ErrGuaranteePoolFull) {
					time.Sleep(5 * time.Millisecond)
					continue // what fitted is pooled; it is answered as known next time
				}
				if err != nil {
					errs <- err
					return
				}
				sent = end
			}
			errs <- nil
		}()
	}
	for range pn.nodes {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for metric(&testing.T{}, pn.regs[0], "floe_guarantees_included_total")-start < float64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %v of %d guarantees finalized after 10 minutes", metric(&testing.T{}, pn.regs[0], "floe_guarantees_included_total")-start, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	// CPU per guarantee per replica (the whole process's CPU, feeders and
	// all four replicas, over four): what one replica on its own machine
	// would spend, so 1/that is one core's ordering capacity.
	perReplica := (processCPU() - cpu0).Seconds() / float64(b.N) / float64(len(pn.nodes))
	b.ReportMetric(perReplica*1e3, "cpu-ms/guarantee/replica")
	b.ReportMetric(1/perReplica, "guarantees/s/core")
	perSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(perSec, "guarantees/s")
	b.ReportMetric(perSec*100, "tx/s@100")
	b.ReportMetric(perSec*1000, "tx/s@1000")
	b.ReportMetric(float64(pn.finalized(0)), "height")
}

// processCPU is the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

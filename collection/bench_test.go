package collection_test

import (
	"fmt"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// BenchmarkSignShare is one guarantor's BLS share: what the signing round
// after finalization costs each member.
func BenchmarkSignShare(b *testing.B) {
	c := newCluster(b, crypto.BLS(), 1)
	col, ref := model.Identifier{1}, mainID(1)
	b.ResetTimer()
	for range b.N {
		if _, err := collection.SignShare(c.keys[0], col, ref, c.chain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyGuarantee is what a consensus node spends on one
// guarantee: aggregate the signers' keys, one BLS verification.
func BenchmarkVerifyGuarantee(b *testing.B) {
	for _, n := range []int{4, 16} {
		b.Run(fmt.Sprintf("signers=%d", n), func(b *testing.B) {
			weights := make([]uint64, n)
			signers := make([]int, n)
			for i := range weights {
				weights[i], signers[i] = 1, i
			}
			c := newCluster(b, crypto.BLS(), weights...)
			g := c.guarantee(b, model.Identifier{1}, mainID(1), signers...)
			b.ResetTimer()
			for range b.N {
				if err := collection.Verify(c.scheme, g, c.chain, c.com); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInclusionCheck is a consensus replica checking a full block of
// guarantees (100, clusters of 4) on one core: the ordering capacity of
// one replica is 100 guarantees per op time, times the transactions per
// collection (see docs/performance.md).
func BenchmarkInclusionCheck(b *testing.B) {
	cl := newCluster(b, crypto.BLS(), 1, 1, 1, 1)
	clusters := clustersOf{cl.chain: cl.com}
	m := collection.Main{Refs: newMain(200, 0), Finalized: 200}
	in := collection.Inclusion{Scheme: crypto.BLS(), Expiry: 100}
	gs := make([]*collection.Guarantee, collection.DefaultMaxGuarantees)
	for i := range gs {
		gs[i] = cl.guarantee(b, crypto.Sum([]byte(fmt.Sprint(i))), mainID(150), 0, 1, 2)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := in.Check(m, clusters, 190, gs, noFork{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(gs))*float64(b.N)/b.Elapsed().Seconds(), "guarantees/s")
}

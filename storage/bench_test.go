package storage

import (
	"encoding/binary"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

const benchBlockSize = 250 << 10

// BenchmarkCommitSynced measures the persist-before-send point as the node
// hits it on every proposal: safety + liveness + one 250 KB block, fsynced.
// Every 10th commit also finalizes a block, as a steady chain does.
func BenchmarkCommitSynced(b *testing.B) {
	p, err := OpenPebble(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	g := genesis()
	if err := p.Init(g); err != nil {
		b.Fatal(err)
	}
	chain := []*model.Block{g.Root}
	final := 0
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer() // building the block hashes 250 KB: not storage's cost
		parent := chain[len(chain)-1]
		blk := child(parent, parent.View+1, benchBlockSize)
		chain = append(chain, blk)
		c := Commit{Safety: safetyAt(blk.View+1, blk), Liveness: livenessAt(blk.View+1, blk), Blocks: []*model.Block{blk}}
		if i%10 == 9 {
			c.Finalized = chain[final+1 : final+2]
			final++
		}
		b.StartTimer()
		if err := p.Commit(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveExecution measures storing one executed block: 1000 state
// writes (32-byte keys, 100-byte values), with and without 1000 results.
func BenchmarkSaveExecution(b *testing.B) {
	for _, withResults := range []bool{false, true} {
		name := "writes=1000"
		if withResults {
			name += ",results=1000"
		}
		b.Run(name, func(b *testing.B) {
			p, err := OpenPebble(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			writes := make([]KV, 1000)
			var results []TxResult
			if withResults {
				results = make([]TxResult, 1000)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := uint64(i + 1)
				for j := range writes {
					k := make([]byte, 32)
					binary.BigEndian.PutUint64(k, uint64(j*7919+i*13)%100_000) // overwrites over time
					writes[j] = KV{Key: k, Value: make([]byte, 100)}
				}
				for j := range results {
					var id model.Identifier
					binary.BigEndian.PutUint64(id[:], h)
					binary.BigEndian.PutUint32(id[8:], uint32(j))
					results[j] = TxResult{ID: id, Height: h, View: model.View(h), Index: uint32(j), OK: true}
				}
				if err := p.SaveExecution(h, [32]byte{byte(i)}, results, writes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package follower

import (
	"testing"

	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/storage"
)

// BenchmarkChainedIngest measures decode + chained validation + storage of
// 512-block ranges into Pebble (b.N ranges of a 4096-block BLS chain).
func BenchmarkChainedIngest(b *testing.B) {
	c := newChain(b, crypto.BLS())
	seg := extend(b, c, c.Root, c.RootQC, 4096)
	var raws [][]byte
	for i := 0; i < len(seg.Blocks); i += MaxRangeBlocks {
		raws = append(raws, EncodeRange(seg.Blocks[i:i+MaxRangeBlocks], seg.CertifyingQC(i+MaxRangeBlocks-1)))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		db, err := storage.OpenPebble(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		st, _ := NewPebbleStore(db, c.Root, c.RootQC)
		e, _ := New(Config{Schedule: StaticSchedule(c.Committee), Scheme: c.Scheme, Root: c.Root, RootQC: c.RootQC, Store: st})
		b.StartTimer()
		for _, raw := range raws {
			blocks, qc, err := DecodeRange(raw, MaxRangeBlocks)
			if err != nil {
				b.Fatal(err)
			}
			if err := e.HandleRange("bench", blocks, qc); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if e.FinalizedHeight() != 4095 {
			b.Fatal(e.FinalizedHeight())
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(4096*b.N)/b.Elapsed().Seconds(), "blocks/s")
}

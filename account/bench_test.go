package account

import (
	"fmt"
	"testing"
)

// BenchmarkVerify: one signature at a time, per algorithm.
func BenchmarkVerify(b *testing.B) {
	for i, c := range algos {
		b.Run(c.name, func(b *testing.B) {
			items := batchItems(b, 1, i, nil)
			for b.Loop() {
				if err := VerifySignature(items[0].Key, items[0].Msg, items[0].Sig); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
		})
	}
}

// BenchmarkVerifyBatch: 64 signatures of one algorithm per call, on 1 and
// 2 workers. ns/op is per call of 64; verifications/s is the throughput.
func BenchmarkVerifyBatch(b *testing.B) {
	const n = 64
	for i, c := range algos {
		items := batchItems(b, n, i, nil)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/n=%d/workers=%d", c.name, n, workers), func(b *testing.B) {
				for b.Loop() {
					for _, err := range VerifyBatch(items, workers) {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "verifications/s")
			})
		}
	}
}

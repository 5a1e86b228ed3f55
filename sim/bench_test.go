package sim_test

import (
	"testing"

	"github.com/floe-bft/floe/sim"
)

// BenchmarkRun measures how fast the real core runs under the simulator:
// one op is a whole 100-view run; views/s is reported per configuration.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  func(seed uint64) sim.Config
	}{
		{"4nodes-happy", func(seed uint64) sim.Config { c := sim.DefaultConfig(); c.Seed = seed; return c }},
		{"4nodes-twins-faults", func(seed uint64) sim.Config { return faulty(4, 1, seed) }},
		{"7nodes-twins-faults", func(seed uint64) sim.Config { return faulty(7, 2, seed) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			views := uint64(0)
			for i := 0; i < b.N; i++ {
				r := sim.Run(bc.cfg(uint64(i + 1)))
				if !r.OK() {
					b.Fatalf("seed %d failed: %v %s", r.Seed, r.SafetyViolations, r.LivenessFailure)
				}
				views += r.MaxView
			}
			b.ReportMetric(float64(views)/b.Elapsed().Seconds(), "views/s")
		})
	}
}

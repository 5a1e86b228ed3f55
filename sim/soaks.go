package sim

import (
	"fmt"
	"time"
)

// Soak is a named simulator configuration run over a range of seeds.
type Soak struct {
	Name  string
	Seeds int
	// Config returns the configuration of one seed.
	Config func(seed uint64) Config
	// MaxFailedViews, when positive, bounds the fraction of views after GST
	// that failed over all the soak's seeds (a per-run bound, Config's
	// MaxFailedViews, is looser: short runs vary).
	MaxFailedViews float64
	// MaxLongRuns, when positive, bounds the fraction of seeds with three
	// or more failed views in a row after GST: each costs a timeout, so a
	// run of them is a stall operators see.
	MaxLongRuns float64
}

// faultMix is the fault mix every random soak starts from: loss, changing
// partitions (partial broadcasts included), crashes with restarts.
func faultMix(nodes int, seed uint64) Config {
	c := DefaultConfig()
	c.Seed, c.Nodes = seed, nodes
	c.Loss, c.Partitions, c.Crashes = 0.05, true, true
	return c
}

// CISoaks is the simulator's default configuration: the suite `floe sim
// suite` and CI run. Each kind of faulty identity (twins, adversaries,
// silent replicas), unequal weights for faulty members too, and weights and
// committees that change across epochs appear in it, and a Twins-style
// scenario search closes it. scale multiplies every seed count.
func CISoaks(scale float64) []Soak {
	n := func(seeds int) int { return max(1, int(float64(seeds)*scale)) }
	random := func(name string, seeds, nodes int, tweak func(*Config)) Soak {
		return Soak{Name: name, Seeds: n(seeds), Config: func(seed uint64) Config {
			c := faultMix(nodes, seed)
			tweak(&c)
			return c
		}}
	}
	return []Soak{
		random("4 nodes, 1 twin", 3000, 4, func(c *Config) { c.Twins = 1 }),
		random("4 nodes, 1 adversary", 3000, 4, func(c *Config) { c.Byzantine = 1 }),
		random("4 nodes, 1 silent from GST", 1500, 4, func(c *Config) { c.Silent = 1 }),
		random("4 nodes, 1 crashed from the start", 500, 4, func(c *Config) { c.Crashed = 1 }),
		random("7 nodes, 2 twins", 500, 7, func(c *Config) { c.Twins = 2; c.Dup = 0.05 }),
		random("7 nodes, 1 twin, 1 adversary, stagger, weighted", 500, 7, func(c *Config) {
			c.Twins, c.Byzantine, c.Stagger, c.Weighted, c.Dup = 1, 1, true, true, 0.05
		}),
		random("7 nodes, 1 adversary, 1 silent, epochs of 5 views with changing weights and members", 500, 7, func(c *Config) {
			c.Byzantine, c.Silent, c.Weighted, c.EpochViews, c.EpochWeights = 1, 1, true, 5, true
		}),
		random("7 nodes, 1 adversary, 1 slow replica (10x link delays)", 300, 7, func(c *Config) { c.Byzantine, c.Slow = 1, 1 }),
		random("10 nodes, 1 twin, 1 adversary, 1 silent, weighted", 200, 10, func(c *Config) {
			c.Twins, c.Byzantine, c.Silent, c.Weighted = 1, 1, 1, true
		}),
		crashedLeaders(4, 1, n(150)),
		crashedLeaders(7, 2, n(80)),
		killedLeaders(7, 2, n(200)),
		killedLeaders(10, 3, n(100)),
		KillUnderLoad(4, 1, n(100)),
		KillUnderLoad(7, 2, n(50)),
		LoadUnderFaults(n(100)),
		ClusterUnderFaults(n(100)),
		ClusterBadLeaders(4, 1, false, n(100)),
		ClusterBadLeaders(7, 2, true, n(40)),
		ClusterTwins(n(40)),
		TwinsSearch(4, 1, 0, 8, n(4000)),
		TwinsSearch(4, 0, 1, 8, n(1000)),
	}
}

// TwinsSearch is the scenario search: scenarios 1..count for a committee of
// nodes with twins twin identities, byzantine adversaries, and rounds
// scenario rounds.
func TwinsSearch(nodes, twins, byzantine, rounds, count int) Soak {
	return Soak{
		Name:  fmt.Sprintf("scenario search: %d nodes, %d twin, %d adversary, %d rounds", nodes, twins, byzantine, rounds),
		Seeds: count,
		Config: func(seed uint64) Config {
			c := DefaultConfig()
			c.Seed, c.Nodes, c.Twins, c.Byzantine = seed, nodes, twins, byzantine
			c.Views = rounds + 20
			c.ScenarioRounds = rounds
			return c
		},
	}
}

// crashedLeaders is the liveness invariant of leader reputation: with
// crashed members (never up) on otherwise healthy links, fewer than 5% of
// the views after GST fail over the soak, and fewer than 10% in any run
// once the reputation window has filled.
func crashedLeaders(nodes, crashed, seeds int) Soak {
	return Soak{
		Name:           fmt.Sprintf("%d nodes, %d crashed from the start, healthy links: < 5%% failed views", nodes, crashed),
		Seeds:          seeds,
		MaxFailedViews: 0.05,
		Config: func(seed uint64) Config {
			c := DefaultConfig()
			c.Seed, c.Nodes, c.Crashed, c.Views = seed, nodes, crashed, 600
			c.MaxFailedViews = 0.10
			return c
		},
	}
}

// killedLeaders is leader reputation's bound on stalls: killed members
// go down at GST on healthy links (they were active until then, so the
// rule must find them by their failures), and few seeds see three failed
// views in a row. Measured on 200 seeds × 300 views with 7 nodes and 2
// killed: 44% of seeds with marking only failed views' leaders (runs up
// to 6), 8% with both suspects of each failed view and clearing; with 10
// nodes and 3 killed, 59% and 26%.
func killedLeaders(nodes, killed, seeds int) Soak {
	bound := 0.15
	if killed > 2 {
		bound = 0.35
	}
	return Soak{
		Name:        fmt.Sprintf("%d nodes, %d killed at GST, healthy links: < %.0f%% of seeds with 3 failed views in a row", nodes, killed, bound*100),
		Seeds:       seeds,
		MaxLongRuns: bound,
		Config: func(seed uint64) Config {
			c := DefaultConfig()
			c.Seed, c.Nodes, c.Silent, c.Views = seed, nodes, killed, 300
			return c
		},
	}
}

// underLoad sets a run under transaction load: 1,000 tx/s offered, blocks
// of up to 500, execution 30 ms behind finality (so proposals park).
func underLoad(c *Config) {
	c.Load, c.MaxBlockTxs, c.ExecLag = 1000, 500, 30*time.Millisecond
}

// KillUnderLoad kills killed of nodes replicas mid-run (at GST, on a
// healthy network) under load: no transaction finalized twice, each one
// finalized within 5 s, and never 3 s without a finalized transaction
// (timeouts start at 150 ms; leader reputation must retire the dead).
func KillUnderLoad(nodes, killed, seeds int) Soak {
	return Soak{
		Name:  fmt.Sprintf("%d nodes under load, %d killed mid-run: no tx twice, none later than 5 s, no 3 s stall", nodes, killed),
		Seeds: seeds,
		Config: func(seed uint64) Config {
			c := DefaultConfig()
			c.Seed, c.Nodes, c.Silent, c.Views = seed, nodes, killed, 400
			underLoad(&c)
			c.TxDeadline, c.MaxTxStall = 5*time.Second, 3*time.Second
			return c
		},
	}
}

// LoadUnderFaults runs load through the random fault mix (loss, changing
// partitions, crash-restarts) with a replica silent from GST: no
// transaction finalized twice, and each one offered after GST finalized
// within 40 s (the backlog of the fault phase drains first).
func LoadUnderFaults(seeds int) Soak {
	return Soak{
		Name:  "4 nodes under load with loss, partitions, crash-restarts, 1 silent from GST: no tx twice, every tx finalized",
		Seeds: seeds,
		Config: func(seed uint64) Config {
			c := faultMix(4, seed)
			c.Silent, c.Views = 1, 300
			underLoad(&c)
			c.TxDeadline = 40 * time.Second
			return c
		},
	}
}

// cluster sets a cluster run (collections.go): load tx/s offered, half of
// them this cluster's, collections of up to 100.
func cluster(c *Config, load int) {
	c.Cluster, c.Load, c.MaxBlockTxs = true, load, 100
}

// ClusterUnderFaults runs a collector cluster's chain through the random
// fault mix: no transaction in two finalized collections (none executed
// twice), every finalized collection within the rules, and every
// transaction offered after GST collected before it expires.
func ClusterUnderFaults(seeds int) Soak {
	return Soak{
		Name:  "cluster chain of 4 under loss, partitions, crash-restarts: no tx executed twice, every tx collected",
		Seeds: seeds,
		Config: func(seed uint64) Config {
			c := faultMix(4, seed)
			c.Views = 300
			cluster(&c, 150)
			c.TxDeadline = 40 * time.Second
			return c
		},
	}
}

// ClusterBadLeaders adds byzantine cluster leaders proposing invalid
// collections (oversize, expired, another cluster's, repeated, reference
// not final): honest replicas refuse each one, the invariants hold, and
// every transaction offered after GST is collected. With faults, on the
// random fault mix at a lower load (failed views cut the block rate).
func ClusterBadLeaders(nodes, bad int, faults bool, seeds int) Soak {
	name := fmt.Sprintf("cluster chain of %d with %d bad leaders: every bad collection refused, no tx executed twice", nodes, bad)
	if faults {
		name += ", under the fault mix"
	}
	return Soak{
		Name:  name,
		Seeds: seeds,
		Config: func(seed uint64) Config {
			c := DefaultConfig()
			c.Seed, c.Nodes = seed, nodes
			cluster(&c, 150)
			c.TxDeadline = 5 * time.Second
			if faults {
				c = faultMix(nodes, seed)
				cluster(&c, 50)
				c.TxDeadline = 40 * time.Second
			}
			c.BadLeaders, c.Views = bad, 300
			return c
		},
	}
}

// ClusterTwins: a twin in a cluster of 4 on the fault mix, at a load the
// block rate left by its failed views carries.
func ClusterTwins(seeds int) Soak {
	return Soak{
		Name:  "cluster chain of 4 with 1 twin under the fault mix: no tx executed twice, every tx collected",
		Seeds: seeds,
		Config: func(seed uint64) Config {
			c := faultMix(4, seed)
			c.Twins, c.Views = 1, 300
			cluster(&c, 50)
			c.TxDeadline = 40 * time.Second
			return c
		},
	}
}

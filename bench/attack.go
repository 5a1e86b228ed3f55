package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/localnet"
)

// 'floe bench attack': the adversarial client suite (docs/security-suite.md).
// One local testnet runs under legitimate load the whole time; the suite
// measures a baseline window, then one window per attack, and compares
// finalization in each with the baseline.

func init() { commands["attack"] = attackCommand }

// The attacks, in the order they run.
var attackNames = []string{"range-flood", "conn-flood", "handshake-hold", "stream-monopoly", "dup-flood"}

// AttackOptions configures a suite run.
type AttackOptions struct {
	Attacks  []string      // names from attackNames, in that order
	Duration time.Duration // per window
	Rate     int           // legitimate tx/s
	Nodes    int
	// NodeBinary is the floe executable the nodes run (empty: this one).
	NodeBinary string
	Dir        string
	// Sources is how many loopback addresses (127.0.0.2, ...) the attacker
	// spreads its connections over; the legitimate load uses the harness's
	// addresses (127.0.0.100 …, localnet/sources.go) and the probes 127.0.0.1.
	Sources int
	// Settle is the pause between windows (attack stopped, load running).
	Settle time.Duration
	// Warmup is the load's run before the baseline window.
	Warmup time.Duration
	// FloodRate bounds the range and duplicate floods' requests per
	// second: the attacker shares the host's CPU with the nodes, and an
	// unpaced loop would measure that instead of the nodes' admission.
	FloodRate int
	// Paired: a baseline window before every attack window and after the
	// last, each attack judged against the mean of the baselines on either
	// side (the host's other work drifts less across the three); false:
	// one baseline first.
	Paired bool
}

const attackUsage = `floe bench attack: the adversarial client suite. Starts one local testnet
of --nodes node processes, drives --rate tx/s of legitimate load through the
nodes' APIs the whole time, and measures finalization (blocks/s seen on
node0's block stream, p99 submit-to-finalized latency, view timeouts summed
over the nodes) in one window per attack (--duration each), each between
two baseline windows of the same length without attack, one before and one
after (--paired=false: one baseline first). Attacks (all aimed at node1, the load's tracker
follows node0), from loopback addresses 127.0.0.2.. so per-address limits
apply to the attacker and not to the legitimate clients (127.0.0.100 …, 127.0.0.1):

  range-flood      32 clients hammering GET /v1/sync/range and /v1/chain
  conn-flood       thousands of idle and slow-body API connections; a fresh
                   client must still be served
  handshake-hold   idle TCP connections to the P2P port that never start TLS
                   (100/s from 32 addresses 127.0.1.x, enough to fill the
                   pending-handshake pool despite the per-address cap);
                   mid-window node2 is SIGKILLed and restarted and must be
                   back (connected to every peer, caught up) within 10 s
  stream-monopoly  block-stream and live-sync subscriptions from one address
                   that are never read; refusals must be JSON 429/503 and a
                   subscriber elsewhere must get a block within 5 s
  dup-flood        resubmitting already-finalized transactions; each must be
                   refused as a duplicate

Criterion (--gate exits non-zero otherwise): in every attack window at least
80 % of its baselines' mean blocks/s, no more view timeouts than the worse
of its baselines had over as long, and every check of the attack passed. See docs/security-suite.md.

`

func attackCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	o, asJSON, gate, gateChecks, err := parseAttackFlags(args, errOut)
	if err != nil {
		return err
	}
	rep, err := RunAttacks(ctx, o, errOut)
	if rep == nil {
		return err
	}
	if asJSON {
		if jerr := json.NewEncoder(out).Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		rep.WriteText(out)
	}
	if err != nil {
		return err
	}
	if gate && !rep.Pass {
		return fmt.Errorf("floe bench attack: criterion not met: %s", strings.Join(rep.Failures(), "; "))
	}
	if gateChecks && !rep.ChecksPass {
		return fmt.Errorf("floe bench attack: checks failed: %s", strings.Join(rep.FailedChecks(), "; "))
	}
	return nil
}

// parseAttackFlags reads the command line into options.
func parseAttackFlags(args []string, errOut io.Writer) (o AttackOptions, asJSON, gate, gateChecks bool, err error) {
	fs := flag.NewFlagSet("floe bench attack", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, attackUsage)
		fs.PrintDefaults()
	}
	attacks := fs.String("attacks", "all", "comma-separated attacks to run, or 'all': "+strings.Join(attackNames, ", "))
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "length of each window (baseline and every attack)")
	fs.IntVar(&o.Rate, "rate", 1000, "legitimate load in transactions per second")
	fs.IntVar(&o.Nodes, "nodes", 4, "validators in the testnet (at least 3: node1 is attacked, node2 restarted)")
	fs.StringVar(&o.NodeBinary, "node-binary", "", "floe executable the nodes run, e.g. an older build for a before/after table (default: this one)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the testnet (default: a fresh temporary directory, removed afterwards)")
	fs.IntVar(&o.Sources, "sources", 8, "loopback addresses the API attacks use (127.0.0.2 ..., at most 97; handshake-hold uses 32 of its own, 127.0.1.x)")
	fs.DurationVar(&o.Settle, "settle", 2*time.Second, "pause between windows")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "load before the baseline window")
	fs.IntVar(&o.FloodRate, "flood-rate", 2000, "requests per second of the range and duplicate floods (the attacker shares this host's CPU with the nodes)")
	fs.BoolVar(&o.Paired, "paired", true, "a baseline window before every attack and after the last, each attack compared with the baselines on either side (false: one baseline first)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	fs.BoolVar(&gate, "gate", false, "exit non-zero if any attack breaks the criterion")
	fs.BoolVar(&gateChecks, "gate-checks", false, "exit non-zero if any attack's checks fail (duplicates refused, honest refusals, legitimate clients served, the restarted member back), whatever the block rate: CI's gate, which a noisy machine cannot trip")
	if err = fs.Parse(args); err != nil {
		return
	}
	if fs.NArg() > 0 {
		err = fmt.Errorf("floe bench attack: unexpected arguments %q", fs.Args())
		return
	}
	if o.Attacks, err = parseAttackList(*attacks); err != nil {
		return
	}
	err = o.validate()
	return
}

// parseAttackList reads --attacks: "all" or names, returned in suite
// order without repeats.
func parseAttackList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" {
		return append([]string(nil), attackNames...), nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if n == "baseline" || attackFuncs[n] == nil {
			return nil, fmt.Errorf("--attacks: unknown attack %q (attacks: %s, or all)", n, strings.Join(attackNames, ", "))
		}
		want[n] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("--attacks: no attack named")
	}
	var out []string
	for _, n := range attackNames {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

func (o *AttackOptions) validate() error {
	switch {
	case o.Duration < time.Second:
		return fmt.Errorf("--duration must be at least 1s")
	case o.Rate < 1:
		return fmt.Errorf("--rate must be positive")
	case o.Nodes < 3 || o.Nodes > localnet.MaxNodes:
		return fmt.Errorf("--nodes must be between 3 and %d", localnet.MaxNodes)
	case o.Sources < 1 || o.Sources > 97:
		// 127.0.0.2..98: below the harness's own client addresses (127.0.0.100 …).
		return fmt.Errorf("--sources must be between 1 and 97")
	case o.FloodRate < 1:
		return fmt.Errorf("--flood-rate must be positive")
	case o.Settle < 0 || o.Warmup < 0:
		return fmt.Errorf("--settle and --warmup must not be negative")
	}
	return nil
}

// attackTarget is the node every attack aims at; restartedNode the one the
// handshake-hold attack restarts. node0 carries the measurements.
const (
	attackTarget  = 1
	restartedNode = 2
)

// RunAttacks runs the suite and returns its report; the error is a failure
// to run it (not an attack breaking the criterion: see AttackReport.Pass).
func RunAttacks(ctx context.Context, o AttackOptions, log io.Writer) (*AttackReport, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	bin := o.NodeBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the floe binary: %w", err)
		}
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "floe-attack-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "tn")
	}
	rep := &AttackReport{Nodes: o.Nodes, Rate: o.Rate, WindowS: o.Duration.Seconds(), NodeBinary: bin}
	logf := func(format string, args ...any) { fmt.Fprintf(log, "attack: "+format+"\n", args...) }
	lo := localnet.Options{
		Binary: bin, Env: config.WithoutOverrides(os.Environ()), Homes: localnet.ConfigHomes{},
		Dir: dir, Nodes: o.Nodes, LogLevel: "info", Rate: o.Rate, TxSize: 250,
		Control: func(ctx context.Context, h *localnet.Harness) error {
			return runWindows(ctx, h, o, rep, logf)
		},
	}
	sum, err := localnet.Run(ctx, lo, io.Discard)
	if sum != nil {
		rep.SubmittedTx, rep.FinalizedTx, rep.Dir = sum.SubmittedTx, sum.FinalizedTx, sum.Dir
	}
	rep.judge()
	return rep, err
}

// runWindows is the suite proper, run inside the testnet (Options.Control).
func runWindows(ctx context.Context, h *localnet.Harness, o AttackOptions, rep *AttackReport, logf func(string, ...any)) error {
	if !sleepCtx(ctx, o.Warmup) {
		return ctx.Err()
	}
	nodes := h.Nodes()[:o.Nodes]
	env := &attackEnv{h: h, runCtx: ctx, nodes: nodes, sources: loopbackSources(o.Sources), logf: logf,
		window: o.Duration, floodRate: o.FloodRate}
	names := windowPlan(o.Attacks, o.Paired)
	for i, name := range names {
		if i > 0 && !sleepCtx(ctx, o.Settle) {
			return ctx.Err()
		}
		logf("window %d/%d: %s for %s", i+1, len(names), name, o.Duration)
		row, err := runWindow(ctx, env, name, o.Duration)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		logf("window %s: %.2f blocks/s, p99 %.0f ms, %d view timeouts", name, row.BlocksPerS, row.P99MS, row.Timeouts)
		rep.Windows = append(rep.Windows, *row)
	}
	return nil
}

// windowPlan is the order of the windows: with paired, a baseline before
// every attack and one after the last, so that every attack lies between
// two baselines; otherwise one baseline first.
func windowPlan(attacks []string, paired bool) []string {
	var names []string
	for i, a := range attacks {
		if paired || i == 0 {
			names = append(names, "baseline")
		}
		names = append(names, a)
	}
	if paired && len(attacks) > 0 {
		names = append(names, "baseline")
	}
	return names
}

// attackEnv is what an attack gets.
type attackEnv struct {
	h         *localnet.Harness
	runCtx    context.Context  // the whole suite's (a window's ends with it)
	nodes     []*localnet.Node // validators
	sources   []string         // attacker source addresses
	logf      func(string, ...any)
	window    time.Duration
	floodRate int
	meas      *measurement
}

// attackFunc runs one attack until ctx ends, filling row's counters and
// checks. It may end the measured part of the window early (env.meas.end),
// e.g. before it restarts a node on purpose.
type attackFunc func(ctx context.Context, env *attackEnv, row *WindowResult) error

var attackFuncs = map[string]attackFunc{
	"baseline":        func(ctx context.Context, _ *attackEnv, _ *WindowResult) error { <-ctx.Done(); return nil },
	"range-flood":     rangeFlood,
	"conn-flood":      connFlood,
	"handshake-hold":  handshakeHold,
	"stream-monopoly": streamMonopoly,
	"dup-flood":       dupFlood,
}

// measurement takes a window's numbers once: when the attack says so or
// when the window ends.
type measurement struct {
	h        *localnet.Harness
	nodes    []*localnet.Node
	row      *WindowResult
	timeouts []float64
	cpu      []time.Duration // per node, -1: unknown
	self     time.Duration   // this process's
	once     sync.Once
}

func (m *measurement) begin(ctx context.Context) {
	m.h.Window() // starts the window
	m.timeouts = nodeTimeouts(ctx, m.nodes)
	m.cpu = nodeCPU(m.nodes)
	m.self = selfCPU()
}

// end records the window's finalization numbers (first call only).
func (m *measurement) end(ctx context.Context) {
	m.once.Do(func() {
		w := m.h.Window()
		m.row.MeasuredS = round2(w.Elapsed.Seconds())
		if w.Elapsed > 0 {
			m.row.BlocksPerS = round2(float64(w.Blocks) / w.Elapsed.Seconds())
			m.row.TxPerS = round2(float64(w.FinalizedTx) / w.Elapsed.Seconds())
		}
		m.row.P50MS, m.row.P99MS = w.P50MS, w.P99MS
		m.row.Timeouts = timeoutDelta(m.timeouts, nodeTimeouts(ctx, m.nodes))
		// CPU used in the window, in cores: the attacked node's and all
		// nodes' (a node restarted meanwhile counts from its start).
		if w.Elapsed > 0 {
			after := nodeCPU(m.nodes)
			var all time.Duration
			for i := range after {
				d := after[i] - m.cpu[i]
				if after[i] < 0 {
					d = 0
				} else if m.cpu[i] < 0 || d < 0 {
					d = after[i]
				}
				all += d
				if i == attackTarget {
					m.row.TargetCores = round2(d.Seconds() / w.Elapsed.Seconds())
				}
			}
			m.row.NodesCores = round2(all.Seconds() / w.Elapsed.Seconds())
			m.row.SuiteCores = round2((selfCPU() - m.self).Seconds() / w.Elapsed.Seconds())
		}
	})
}

// nodeCPU reads every node's CPU time (-1: unknown).
func nodeCPU(nodes []*localnet.Node) []time.Duration {
	out := make([]time.Duration, len(nodes))
	for i, tn := range nodes {
		out[i] = -1
		if d, ok := tn.CPUTime(); ok {
			out[i] = d
		}
	}
	return out
}

func runWindow(ctx context.Context, env *attackEnv, name string, d time.Duration) (*WindowResult, error) {
	row := &WindowResult{Name: name, Counters: map[string]int64{}}
	m := &measurement{h: env.h, nodes: env.nodes, row: row}
	env.meas = m
	m.begin(ctx)
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := attackFuncs[name](wctx, env, row)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	m.end(ctx)
	return row, err
}

// nodeTimeouts reads floe_timeouts_total from every node (-1: unreadable).
func nodeTimeouts(ctx context.Context, nodes []*localnet.Node) []float64 {
	out := make([]float64, len(nodes))
	for i, tn := range nodes {
		out[i] = -1
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if v, ok, err := tn.Client.Metric(rctx, "floe_timeouts_total"); err == nil && ok {
			out[i] = v
		}
		cancel()
	}
	return out
}

// timeoutDelta sums the per-node growth of the timeout counter; a counter
// that went down belongs to a restarted process and counts from zero, an
// unreadable one counts nothing.
func timeoutDelta(before, after []float64) int64 {
	var sum float64
	for i := range after {
		switch {
		case after[i] < 0:
		case i >= len(before) || before[i] < 0 || after[i] < before[i]:
			sum += after[i]
		default:
			sum += after[i] - before[i]
		}
	}
	return int64(math.Round(sum))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

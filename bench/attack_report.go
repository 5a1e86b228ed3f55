package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// MinRatio is the criterion's floor: under attack, at least this share of
// the baseline's finalized blocks per second.
const MinRatio = 0.8

// AttackReport is the outcome of 'floe bench attack' (its --json form).
type AttackReport struct {
	Nodes       int            `json:"nodes"`
	Rate        int            `json:"rate"`
	WindowS     float64        `json:"window_s"`
	NodeBinary  string         `json:"node_binary"`
	Dir         string         `json:"dir,omitempty"`
	SubmittedTx int64          `json:"submitted_tx"`
	FinalizedTx int64          `json:"finalized_tx"`
	Windows     []WindowResult `json:"windows"`
	// Pass: every attack window met the criterion (see judge).
	Pass bool `json:"pass"`
	// ChecksPass: every attack's checks passed, whatever the block rates
	// and timeouts (what timing cannot decide).
	ChecksPass bool `json:"checks_pass"`
}

// WindowResult is one window: the baseline or an attack.
type WindowResult struct {
	Name string `json:"name"`
	// MeasuredS is how long finalization was measured: the whole window,
	// or for handshake-hold the part before the restart.
	MeasuredS  float64 `json:"measured_s"`
	BlocksPerS float64 `json:"blocks_per_s"`
	Ratio      float64 `json:"ratio"` // to the baseline's blocks/s
	TxPerS     float64 `json:"tx_per_s"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	// Timeouts are the timeout objects the nodes signed in the measured
	// part (floe_timeouts_total, summed); AllowedTimeouts what the
	// baseline had over as long.
	Timeouts int64 `json:"view_timeouts"`
	// TargetCores and NodesCores are the CPU the attacked node (node1)
	// and all nodes used in the measured part, in cores (Linux);
	// SuiteCores this process's (load, tracker and attacker), which
	// shares the host with them.
	TargetCores float64 `json:"target_cores"`
	NodesCores  float64 `json:"nodes_cores"`
	SuiteCores  float64 `json:"suite_cores"`

	AllowedTimeouts int64            `json:"allowed_view_timeouts"`
	Counters        map[string]int64 `json:"counters"`
	Checks          []Check          `json:"checks"`
	Pass            bool             `json:"pass"`
	Failures        []string         `json:"failures,omitempty"`
}

// Check is one pass/fail observation of an attack (e.g. "a fresh client
// was served during the flood").
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func (w *WindowResult) check(name string, ok bool, format string, args ...any) {
	w.Checks = append(w.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// judge applies the criterion. An attack window's reference is the
// baseline window just before it and the one just after it, if any (the
// nearest windows named "baseline" on either side): it must reach MinRatio
// of their mean blocks/s, have no more view timeouts than the worse of
// them had over as long, and pass its checks. A baseline fails only if it
// finalized nothing.
func (r *AttackReport) judge() {
	attacks := 0
	for i := range r.Windows {
		w := &r.Windows[i]
		w.Failures = nil
		w.Ratio, w.AllowedTimeouts = 0, 0
		if w.Name == "baseline" {
			w.Ratio = 1
			if w.BlocksPerS <= 0 {
				w.Failures = append(w.Failures, "the baseline finalized nothing")
			}
		} else {
			attacks++
			refs := r.baselinesAround(i)
			var refBPS float64
			for _, b := range refs {
				refBPS += b.BlocksPerS / float64(len(refs))
				if b.MeasuredS > 0 {
					w.AllowedTimeouts = max(w.AllowedTimeouts, int64(math.Ceil(float64(b.Timeouts)*w.MeasuredS/b.MeasuredS)))
				}
			}
			if refBPS > 0 {
				w.Ratio = round2(w.BlocksPerS / refBPS)
			}
			switch {
			case len(refs) == 0:
				w.Failures = append(w.Failures, "no baseline window around it")
			case w.Ratio < MinRatio:
				w.Failures = append(w.Failures, fmt.Sprintf("%.2f blocks/s is %.0f%% of the baseline's %.2f (< %.0f%%)",
					w.BlocksPerS, 100*w.Ratio, refBPS, 100*MinRatio))
			}
			if w.Timeouts > w.AllowedTimeouts {
				w.Failures = append(w.Failures, fmt.Sprintf("%d view timeouts (baseline: %d over as long)", w.Timeouts, w.AllowedTimeouts))
			}
		}
		for _, c := range w.Checks {
			if !c.OK {
				w.Failures = append(w.Failures, c.Name+": "+c.Detail)
			}
		}
		w.Pass = len(w.Failures) == 0
	}
	r.Pass = attacks > 0
	r.ChecksPass = attacks > 0
	for _, w := range r.Windows {
		r.Pass = r.Pass && w.Pass
		for _, c := range w.Checks {
			r.ChecksPass = r.ChecksPass && c.OK
		}
	}
}

// FailedChecks lists the checks that failed, each with its window.
func (r *AttackReport) FailedChecks() []string {
	var out []string
	for _, w := range r.Windows {
		for _, c := range w.Checks {
			if !c.OK {
				out = append(out, w.Name+": "+c.Name+": "+c.Detail)
			}
		}
	}
	return out
}

// baselinesAround returns the nearest baseline windows before and after
// window i (none, one or two).
func (r *AttackReport) baselinesAround(i int) []*WindowResult {
	var out []*WindowResult
	for j := i - 1; j >= 0; j-- {
		if r.Windows[j].Name == "baseline" {
			out = append(out, &r.Windows[j])
			break
		}
	}
	for j := i + 1; j < len(r.Windows); j++ {
		if r.Windows[j].Name == "baseline" {
			out = append(out, &r.Windows[j])
			break
		}
	}
	return out
}

// Failures lists every window's failures, prefixed with its name.
func (r *AttackReport) Failures() []string {
	var out []string
	attacks := 0
	for _, w := range r.Windows {
		if w.Name != "baseline" {
			attacks++
		}
	}
	if attacks == 0 {
		out = append(out, "no attack window was measured")
	}
	for _, w := range r.Windows {
		for _, f := range w.Failures {
			out = append(out, w.Name+": "+f)
		}
	}
	return out
}

// WriteText prints the table, then each window's counters and checks.
func (r *AttackReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nattack suite: %d nodes, %d tx/s legitimate load, %.0fs windows, nodes run %s\n",
		r.Nodes, r.Rate, r.WindowS, r.NodeBinary)
	fmt.Fprintf(w, "%-16s %9s %6s %8s %8s %9s %6s %6s %6s  %s\n", "window", "blocks/s", "ratio", "tx/s", "p99 ms", "timeouts", "node1", "nodes", "suite", "verdict")
	for _, x := range r.Windows {
		verdict := "pass"
		if !x.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%-16s %9.2f %6.2f %8.0f %8.0f %9s %6.2f %6.2f %6.2f  %s\n", x.Name, x.BlocksPerS, x.Ratio, x.TxPerS, x.P99MS,
			fmt.Sprintf("%d/%d", x.Timeouts, x.AllowedTimeouts), x.TargetCores, x.NodesCores, x.SuiteCores, verdict)
	}
	fmt.Fprintln(w, "(ratio: to the mean of the baselines before and after; timeouts: signed in the window / allowed, what the worse of")
	fmt.Fprintln(w, " those baselines had over as long; node1, nodes, suite: CPU cores the attacked node, all nodes and this")
	fmt.Fprintln(w, " process (load, tracker, attacker) used)")
	for _, x := range r.Windows {
		if len(x.Counters) == 0 && len(x.Checks) == 0 && len(x.Failures) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", x.Name)
		if len(x.Counters) > 0 {
			fmt.Fprintf(w, "  counters: %s\n", formatCounters(x.Counters))
		}
		for _, c := range x.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Name, c.Detail)
		}
		for _, f := range x.Failures {
			fmt.Fprintf(w, "  failure: %s\n", f)
		}
	}
	if r.Pass {
		fmt.Fprintln(w, "result: pass")
	} else {
		fmt.Fprintln(w, "result: FAIL")
	}
}

// formatCounters prints counters as name=value, sorted by name.
func formatCounters(c map[string]int64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Violation is one failed check.
type Violation struct {
	Kind   string `json:"kind"`
	Step   int    `json:"step"` // 0: the final check
	Detail string `json:"detail"`
}

// StepReport is what one step did and what it cost.
type StepReport struct {
	Index  int    `json:"step"`
	Action string `json:"action"`
	Target string `json:"target"`
	// Fault is how long the fault was in place.
	Fault time.Duration `json:"-"`
	// Resume is from the heal until some node finalized above the height
	// at the heal; Recovery until every node did. -1: not measured.
	Resume       time.Duration `json:"-"`
	Recovery     time.Duration `json:"-"`
	HeightAtHeal uint64        `json:"height_at_heal"`
	// Throughput of acknowledged transactions and finalized blocks per
	// second in the window before the fault, while it lasted, and in the
	// window after recovery.
	TxBefore     float64 `json:"tx_per_s_before"`
	TxDuring     float64 `json:"tx_per_s_during"`
	TxAfter      float64 `json:"tx_per_s_after"`
	BlocksBefore float64 `json:"blocks_per_s_before"`
	BlocksDuring float64 `json:"blocks_per_s_during"`
	BlocksAfter  float64 `json:"blocks_per_s_after"`
	// StallS is the longest run of whole seconds in which no block was
	// finalized while the fault was in place.
	StallS int `json:"longest_stall_s"`
	// Unacked counts transactions submitted during this step (until the
	// next began) that were never acknowledged finalized by the end.
	Unacked int `json:"unacked_txs"`
	// Mempools are the nodes' mempool sizes after the step's check.
	Mempools string `json:"mempools,omitempty"`
	// Note says what an epoch step did (printed below the table).
	Note string `json:"note,omitempty"`

	began time.Time
}

// MarshalJSON writes durations in milliseconds (-1: not measured).
func (s StepReport) MarshalJSON() ([]byte, error) {
	type plain StepReport
	return json.Marshal(struct {
		plain
		FaultMS    int64 `json:"fault_ms"`
		ResumeMS   int64 `json:"resume_ms"`
		RecoveryMS int64 `json:"recovery_ms"`
	}{plain(s), s.Fault.Milliseconds(), msOrNone(s.Resume), msOrNone(s.Recovery)})
}

func msOrNone(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

// NodeReport describes one node of the run.
type NodeReport struct {
	Name   string `json:"name"`
	IP     string `json:"ip"`
	Faults string `json:"faults,omitempty"`
}

// Report is the outcome of one manifest.
type Report struct {
	Manifest    string        `json:"manifest"`
	Description string        `json:"description,omitempty"`
	Validators  int           `json:"validators"`
	Followers   int           `json:"followers"`
	Compose     string        `json:"compose"`
	Dir         string        `json:"dir"`
	Started     time.Time     `json:"started"`
	Duration    time.Duration `json:"-"`
	DurationS   float64       `json:"duration_s"`
	Nodes       []NodeReport  `json:"nodes"`
	Steps       []StepReport  `json:"steps"`
	// MaxRecoveryMS is the recovery bound; TimeoutMaxMS the longest view
	// timeout, the unit it is meant in.
	MaxRecoveryMS int64 `json:"max_recovery_ms"`
	TimeoutMaxMS  int64 `json:"timeout_max_ms"`

	SubmittedTxs int `json:"submitted_txs"`
	RejectedTxs  int `json:"rejected_txs"`
	FailedTxs    int `json:"failed_txs"`
	AckedTxs     int `json:"acked_txs"`
	// TxsVerifiedOnAllNodes are acknowledged transactions whose block every
	// node was compared against; TxLookups counts sampled API lookups.
	TxsVerifiedOnAllNodes int `json:"txs_verified_on_all_nodes"`
	TxLookups             int `json:"tx_lookups"`
	// FinalMempools lists each node's mempool size at the final check.
	FinalMempools  string `json:"final_mempools,omitempty"`
	FinalHeight    uint64 `json:"final_height"`
	VerifiedBlocks int    `json:"verified_blocks"`
	// Epoch is the newest epoch a finalized block belongs to (the runner
	// follows the epoch schedule through the chain it verifies).
	Epoch uint64 `json:"epoch"`
	// RootMatches counts state roots found equal to another node's at the
	// same height.
	RootMatches int `json:"state_root_matches"`
	// TimestampLeadMS is the most a finalized block's timestamp was ahead
	// of the runner's clock when it was first seen (skewed proposers).
	TimestampLeadMS int64 `json:"timestamp_lead_ms"`

	// Pipeline: the pipeline load's transactions (pipeline networks).
	Pipeline *PipelineReport `json:"pipeline,omitempty"`

	Violations []Violation `json:"violations"`
	// SuppressedViolations were not kept: more than 20 of one kind.
	SuppressedViolations int `json:"suppressed_violations,omitempty"`
	// Expected lists the violation kinds the manifest expects; Passed
	// says whether the run met its expectations.
	Expected []string `json:"expected_violations,omitempty"`
	Passed   bool     `json:"passed"`
	Verdict  string   `json:"verdict"`
}

func (r *Runner) newReport() *Report {
	rep := &Report{Manifest: r.m.Name, Description: r.m.Description, Validators: r.m.Validators,
		Followers: r.m.Followers, Compose: r.dk.ComposeCommand(), Dir: r.dir, Started: r.start, Expected: r.m.Expect.Violations,
		MaxRecoveryMS: r.m.Checks.MaxRecovery.Milliseconds(), TimeoutMaxMS: r.net.Genesis.Params.TimeoutMaxMS}
	if r.pipe != nil {
		rep.Pipeline = &PipelineReport{Clusters: r.net.Clusters, ExecutionCounters: map[string]int64{}}
	}
	for _, nd := range r.net.Nodes {
		rep.Nodes = append(rep.Nodes, NodeReport{Name: nd.Name, IP: nd.IP, Faults: nd.Override.describe()})
	}
	return rep
}

// finishReport fills in totals and the verdict, and writes report.json and
// report.txt into the run directory.
func (r *Runner) finishReport() {
	rep := r.report
	rep.Duration = time.Since(r.start)
	rep.DurationS = rep.Duration.Seconds()
	c := r.ledger.counts()
	rep.SubmittedTxs, rep.RejectedTxs, rep.FailedTxs, rep.AckedTxs = c.Submitted, c.Rejected, c.Failed, c.Acked
	starts := make([]time.Time, len(rep.Steps))
	for i, s := range rep.Steps {
		starts[i] = s.began
	}
	for i, n := range r.ledger.unackedByPeriod(starts) {
		rep.Steps[i].Unacked = n
	}
	if top, ok := r.chain.top(); ok {
		rep.FinalHeight = top
	}
	rep.VerifiedBlocks = r.epochs.verifiedCount()
	rep.Epoch = r.epochs.startedEpoch()
	rep.RootMatches = r.chain.rootMatchCount()
	rep.FinalMempools = r.finalMempools
	if p := rep.Pipeline; p != nil {
		l := r.pipe.ledger
		l.mu.Lock()
		p.Submitted, p.Rejected, p.Failed = l.submitted, l.rejected, l.failed
		p.Executed, p.Expired, p.Dropped, p.Repeats = l.executed, l.expired, l.dropped, l.repeats
		for _, t := range l.txs {
			if !t.settled() {
				p.Unsettled++
			}
		}
		l.mu.Unlock()
	}
	r.mu.Lock()
	rep.TimestampLeadMS = r.maxTimestampLead.Milliseconds()
	rep.Violations = append([]Violation{}, r.violations...)
	rep.SuppressedViolations = r.suppressed
	r.mu.Unlock()
	rep.Passed, rep.Verdict = verdict(rep.Violations, rep.Expected)
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(r.dir, "report.json"), append(b, '\n'), 0o644)
	}
	if f, err := os.Create(filepath.Join(r.dir, "report.txt")); err == nil {
		rep.WriteText(f)
		f.Close()
	}
}

// verdict decides a run: without expectations it passes with no
// violation; with them it passes only if every expected kind was seen and
// nothing else was.
func verdict(vs []Violation, expected []string) (bool, string) {
	seen := map[string]int{}
	for _, v := range vs {
		seen[v.Kind]++
	}
	want := map[string]bool{}
	for _, e := range expected {
		want[e] = true
	}
	var missing, unexpected []string
	for _, e := range expected {
		if seen[e] == 0 {
			missing = append(missing, e)
		}
	}
	for k := range seen {
		if !want[k] {
			unexpected = append(unexpected, k)
		}
	}
	switch {
	case len(expected) == 0 && len(vs) == 0:
		return true, "PASS: no violations"
	case len(expected) == 0:
		return false, fmt.Sprintf("FAIL: %d violations", len(vs))
	case len(missing) > 0:
		return false, "FAIL: expected violations not detected: " + strings.Join(missing, ", ")
	case len(unexpected) > 0:
		return false, "FAIL: unexpected violations: " + strings.Join(unexpected, ", ")
	}
	return true, "PASS: the expected violations were detected (" + strings.Join(expected, ", ") + ")"
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "== e2e %s: %d validators, %d followers, %d steps, %s (%s)\n", rep.Manifest, rep.Validators, rep.Followers, len(rep.Steps),
		rep.Duration.Round(time.Second), rep.Compose)
	if rep.Description != "" {
		fmt.Fprintf(w, "   %s\n", rep.Description)
	}
	if rep.TimeoutMaxMS > 0 {
		fmt.Fprintf(w, "   recovery bound %d ms = %.0f maximal view timeouts (%d ms)\n", rep.MaxRecoveryMS,
			float64(rep.MaxRecoveryMS)/float64(rep.TimeoutMaxMS), rep.TimeoutMaxMS)
	}
	for _, n := range rep.Nodes {
		if n.Faults != "" {
			fmt.Fprintf(w, "   %s (%s): %s\n", n.Name, n.IP, n.Faults)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "step\taction\ttarget\tfault\tresume\trecovery\ttx/s before/during/after\tblocks/s before/during/after\tstall\tunacked\t")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.0f / %.0f / %.0f\t%.1f / %.1f / %.1f\t%ds\t%d\t\n", s.Index, s.Action, s.Target,
			s.Fault.Round(100*time.Millisecond), ms(s.Resume), ms(s.Recovery),
			s.TxBefore, s.TxDuring, s.TxAfter, s.BlocksBefore, s.BlocksDuring, s.BlocksAfter, s.StallS, s.Unacked)
	}
	tw.Flush()
	for _, s := range rep.Steps {
		if s.Note != "" {
			fmt.Fprintf(w, "step %d: %s\n", s.Index, s.Note)
		}
	}
	if rep.FinalMempools != "" {
		fmt.Fprintf(w, "mempools at the end (transactions): %s\n", rep.FinalMempools)
	}
	fmt.Fprintf(w, "transactions: %d submitted, %d rejected, %d failed to submit, %d acknowledged finalized; %d checked on every node's chain, %d lookups\n",
		rep.SubmittedTxs, rep.RejectedTxs, rep.FailedTxs, rep.AckedTxs, rep.TxsVerifiedOnAllNodes, rep.TxLookups)
	if p := rep.Pipeline; p != nil {
		for i, c := range p.Clusters {
			fmt.Fprintf(w, "cluster %d: %s\n", i, strings.Join(c, ","))
		}
		names := make([]string, 0, len(p.ExecutionCounters))
		for n := range p.ExecutionCounters {
			names = append(names, n)
		}
		sort.Strings(names)
		var counters []string
		for _, n := range names {
			counters = append(counters, fmt.Sprintf("%s %d", n, p.ExecutionCounters[n]))
		}
		fmt.Fprintf(w, "pipeline: %d acknowledged by access nodes (%d rejected, %d failed to submit): %d executed, %d expired, %d failed after acceptance, %d never settled; %d repeated executions reported; executed-transaction counters: %s\n",
			p.Submitted, p.Rejected, p.Failed, p.Executed, p.Expired, p.Dropped, p.Unsettled, p.Repeats, strings.Join(counters, ", "))
		if p.Results != nil {
			fmt.Fprintln(w, p.Results.line())
			for _, n := range p.Results.Notes {
				fmt.Fprintf(w, "  results: %s\n", n)
			}
		}
	}
	fmt.Fprintf(w, "chain: height %d, %d blocks verified (certificates, parent links, leaders, timestamps), %d state roots matched across nodes; finalized blocks reached epoch %d; block timestamps up to %d ms ahead of the runner's clock\n",
		rep.FinalHeight, rep.VerifiedBlocks, rep.RootMatches, rep.Epoch, rep.TimestampLeadMS)
	if len(rep.Violations) == 0 {
		fmt.Fprintln(w, "violations: none")
	} else {
		fmt.Fprintf(w, "violations (%d):\n", len(rep.Violations))
		for _, v := range rep.Violations {
			where := fmt.Sprintf("step %d", v.Step)
			if v.Step == 0 {
				where = "final check"
			}
			fmt.Fprintf(w, "  - [%s] %s: %s\n", v.Kind, where, v.Detail)
		}
		if rep.SuppressedViolations > 0 {
			fmt.Fprintf(w, "  (and %d more, not kept: over %d of one kind)\n", rep.SuppressedViolations, maxViolationsPerKind)
		}
	}
	fmt.Fprintln(w, rep.Verdict)
}

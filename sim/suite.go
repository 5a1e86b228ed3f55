package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// SuiteReport is one soak's line of `floe sim suite`, and of its JSON.
type SuiteReport struct {
	Name             string   `json:"name"`
	Seeds            int      `json:"seeds"`
	Views            uint64   `json:"views_simulated"`
	Rules            uint64   `json:"rules_checked"`
	BlocksPerView    float64  `json:"blocks_per_view_after_gst"`
	FailedViews      float64  `json:"failed_view_fraction_after_gst"`
	AdversaryInject  int      `json:"adversary_injected"`
	SafetyViolations int      `json:"safety_violations"`
	LivenessFailures int      `json:"liveness_failures"`
	FailedSeeds      []uint64 `json:"failed_seeds"`
	// AboveFailedViewBound: the soak's failed-view fraction or its share
	// of seeds with long failed runs broke its bound (Soak.MaxFailedViews,
	// Soak.MaxLongRuns), although no single seed failed.
	AboveFailedViewBound bool    `json:"above_failed_view_bound,omitempty"`
	WallTimeS            float64 `json:"wall_time_s"`
}

// SuiteOptions say how RunSuite runs and reports.
type SuiteOptions struct {
	// Parallel is how many seeds run at once.
	Parallel int
	// MinViews fails the suite if fewer views were simulated in all.
	MinViews uint64
	// JSON prints one JSON object at the end instead of a line per soak.
	JSON bool
	// Out receives the report, Log every failing seed with its trace tail
	// and every broken soak bound.
	Out, Log io.Writer
}

// RunSuite runs every soak (seeds 1..Seeds each), reports them and returns
// an error if any seed failed, any soak broke its failed-view bound, or
// fewer than o.MinViews views were simulated.
func RunSuite(soaks []Soak, o SuiteOptions) error {
	var reports []SuiteReport
	var total, rules uint64
	var failed int
	start := time.Now()
	for _, soak := range soaks {
		rep, err := runSoak(soak, o.Parallel, o.Log)
		if err != nil {
			return err
		}
		if rep.AboveFailedViewBound {
			failed++
		}
		total += rep.Views
		rules += rep.Rules
		failed += len(rep.FailedSeeds)
		reports = append(reports, rep)
		if !o.JSON {
			fmt.Fprintf(o.Out, "%-88s %5d seeds %8d views %.3f blocks/view %.3f failed %6.1fs %s\n", rep.Name, rep.Seeds, rep.Views,
				rep.BlocksPerView, rep.FailedViews, rep.WallTimeS, verdict(rep.FailedSeeds, rep.AboveFailedViewBound))
		}
	}
	if o.JSON {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"soaks": reports, "views_simulated": total, "rules_checked": rules,
			"failed_seeds": failed, "wall_time_s": math.Round(time.Since(start).Seconds()*10) / 10}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.Out, "total: %d views simulated, %d rule checks, %d failed seeds, %s\n", total, rules, failed, time.Since(start).Round(time.Second))
	}
	if failed > 0 {
		return fmt.Errorf("%d seeds (or soak bounds) failed", failed)
	}
	if total < o.MinViews {
		return fmt.Errorf("simulated %d views, fewer than --min-views %d", total, o.MinViews)
	}
	return nil
}

// runSoak runs one soak's seeds; a rejected configuration is an error.
func runSoak(soak Soak, parallel int, log io.Writer) (SuiteReport, error) {
	rep := SuiteReport{Name: soak.Name, Seeds: soak.Seeds, FailedSeeds: []uint64{}}
	var views, blocks, failedViews uint64
	longRuns := 0
	t0 := time.Now()
	err := RunSeeds(soak.Config, 1, soak.Seeds, parallel, func(r Result) error {
		if r.Err != "" {
			return fmt.Errorf("%s: seed %d: %s", soak.Name, r.Seed, r.Err)
		}
		rep.Views += r.MaxView
		rep.Rules += r.Rules
		rep.AdversaryInject += r.AdversaryInjected
		rep.SafetyViolations += len(r.SafetyViolations)
		views += r.ViewsAfterGST
		blocks += r.BlocksAfterGST
		failedViews += r.FailedViewsAfterGST
		if r.LongestFailedRun >= 3 {
			longRuns++
		}
		if r.LivenessFailure != "" {
			rep.LivenessFailures++
		}
		if !r.OK() {
			rep.FailedSeeds = append(rep.FailedSeeds, r.Seed)
			fmt.Fprintf(log, "%s: seed %d FAILED: safety=%v liveness=%q\n", soak.Name, r.Seed, r.SafetyViolations, r.LivenessFailure)
			for _, l := range r.Trace[max(0, len(r.Trace)-TraceTail):] {
				fmt.Fprintf(log, "    %s\n", l)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if views > 0 {
		rep.BlocksPerView = math.Round(float64(blocks)/float64(views)*1000) / 1000
		rep.FailedViews = math.Round(float64(failedViews)/float64(views)*1000) / 1000
	}
	if soak.MaxFailedViews > 0 && (views == 0 || float64(failedViews) > soak.MaxFailedViews*float64(views)) {
		fmt.Fprintf(log, "%s: %d of %d views failed after GST, above %.3f\n", soak.Name, failedViews, views, soak.MaxFailedViews)
		rep.AboveFailedViewBound = true
	}
	if soak.MaxLongRuns > 0 && float64(longRuns) > soak.MaxLongRuns*float64(soak.Seeds) {
		fmt.Fprintf(log, "%s: %d of %d seeds had 3 or more failed views in a row after GST, above %.2f\n", soak.Name, longRuns, soak.Seeds, soak.MaxLongRuns)
		rep.AboveFailedViewBound = true
	}
	rep.WallTimeS = math.Round(time.Since(t0).Seconds()*10) / 10
	return rep, nil
}

// verdict is the end of a soak's line.
func verdict(failed []uint64, aboveBound bool) string {
	switch {
	case len(failed) == 0 && !aboveBound:
		return "OK"
	case aboveBound:
		return fmt.Sprintf("FAIL %v (failed views above the bound)", failed)
	}
	return fmt.Sprintf("FAIL %v", failed)
}

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/sim"
)

// suiteReport is one soak's line of `floe sim suite`, and of its JSON.
type suiteReport struct {
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
	// AboveFailedViewBound: the soak's failed-view fraction broke its bound
	// (sim.Soak.MaxFailedViews), although no single seed failed.
	AboveFailedViewBound bool    `json:"above_failed_view_bound,omitempty"`
	WallTimeS            float64 `json:"wall_time_s"`
}

func newSimSuiteCmd() *cobra.Command {
	var (
		scale    float64
		parallel int
		minViews uint64
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "suite",
		Short: "Run the simulator's default configuration: every soak and the Twins-style scenario search",
		Long: `Run the suite of simulator soaks that CI runs (sim.CISoaks): random faults with
twins, adversaries and silent replicas, unequal and changing weights, epochs,
and the Twins-style scenario search. Prints one line per soak and the totals;
a failing seed is printed with the flags that replay it.

Exits with status 1 on any safety violation or liveness failure, or when
fewer than --min-views views were simulated in all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scale <= 0 || parallel < 1 {
				return fmt.Errorf("--scale must be positive and --parallel at least 1")
			}
			out := cmd.OutOrStdout()
			var reports []suiteReport
			var total, rules uint64
			var failed int
			start := time.Now()
			for _, soak := range sim.CISoaks(scale) {
				rep := suiteReport{Name: soak.Name, Seeds: soak.Seeds, FailedSeeds: []uint64{}}
				var views, blocks, failedViews uint64
				t0 := time.Now()
				err := runSeeds(soak.Config, 1, soak.Seeds, parallel, func(r sim.Result) error {
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
					if r.LivenessFailure != "" {
						rep.LivenessFailures++
					}
					if !r.OK() {
						rep.FailedSeeds = append(rep.FailedSeeds, r.Seed)
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: seed %d FAILED: safety=%v liveness=%q\n", soak.Name, r.Seed, r.SafetyViolations, r.LivenessFailure)
						for _, l := range r.Trace[max(0, len(r.Trace)-traceTail):] {
							fmt.Fprintf(cmd.ErrOrStderr(), "    %s\n", l)
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
				if views > 0 {
					rep.BlocksPerView = math.Round(float64(blocks)/float64(views)*1000) / 1000
					rep.FailedViews = math.Round(float64(failedViews)/float64(views)*1000) / 1000
				}
				if soak.MaxFailedViews > 0 && (views == 0 || float64(failedViews) > soak.MaxFailedViews*float64(views)) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d of %d views failed after GST, above %.3f\n", soak.Name, failedViews, views, soak.MaxFailedViews)
					rep.AboveFailedViewBound = true
					failed++
				}
				rep.WallTimeS = math.Round(time.Since(t0).Seconds()*10) / 10
				total += rep.Views
				rules += rep.Rules
				failed += len(rep.FailedSeeds)
				reports = append(reports, rep)
				if !asJSON {
					fmt.Fprintf(out, "%-88s %5d seeds %8d views %.3f blocks/view %.3f failed %6.1fs %s\n", rep.Name, rep.Seeds, rep.Views,
						rep.BlocksPerView, rep.FailedViews, rep.WallTimeS, verdict(rep.FailedSeeds, rep.AboveFailedViewBound))
				}
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"soaks": reports, "views_simulated": total, "rules_checked": rules,
					"failed_seeds": failed, "wall_time_s": math.Round(time.Since(start).Seconds()*10) / 10}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "total: %d views simulated, %d rule checks, %d failed seeds, %s\n", total, rules, failed, time.Since(start).Round(time.Second))
			}
			if failed > 0 {
				return fmt.Errorf("%d seeds (or soak bounds) failed", failed)
			}
			if total < minViews {
				return fmt.Errorf("simulated %d views, fewer than --min-views %d", total, minViews)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&scale, "scale", 1, "multiply every soak's seed count")
	f.IntVar(&parallel, "parallel", runtime.NumCPU(), "seeds run concurrently")
	f.Uint64Var(&minViews, "min-views", 0, "fail if fewer views were simulated in all")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func verdict(failed []uint64, aboveBound bool) string {
	switch {
	case len(failed) == 0 && !aboveBound:
		return "OK"
	case aboveBound:
		return fmt.Sprintf("FAIL %v (failed views above the bound)", failed)
	}
	return fmt.Sprintf("FAIL %v", failed)
}

package sim

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// TraceTail is how many of a failing seed's kept trace lines a report
// shows: enough to see the lead-up to the failure without letting a batch
// with many failures flood the terminal. The replay hint gives the rest.
const TraceTail = 25

// Summary is the totals of a batch of seeds over all its seeds, headed by
// the configuration that ran; it is also what 'floe sim --json' prints.
// It deliberately omits the parallelism so the output depends only on what
// was simulated.
type Summary struct {
	Nodes        int      `json:"nodes"`
	Twins        int      `json:"twins"`
	Views        int      `json:"views"`
	FirstSeed    uint64   `json:"first_seed"`
	Seeds        int      `json:"seeds"`
	Loss         float64  `json:"loss"`
	Dup          float64  `json:"dup"`
	Partitions   bool     `json:"partitions"`
	Crashes      bool     `json:"crashes"`
	Stagger      bool     `json:"stagger"`
	Weighted     bool     `json:"weighted"`
	EpochViews   int      `json:"epoch_views,omitempty"`
	Crypto       string   `json:"crypto"`
	Byzantine    int      `json:"byzantine"`
	Silent       int      `json:"silent"`
	Crashed      int      `json:"crashed"`
	Slow         int      `json:"slow,omitempty"`
	EpochWeights bool     `json:"epoch_weights,omitempty"`
	Inject       []string `json:"inject,omitempty"`
	TwinsRounds  int      `json:"twins_search_rounds,omitempty"`
	Monitors     bool     `json:"monitors"`
	// Load, Cluster and BadLeaders: a run under transaction load, on a
	// collector cluster's chain (collections.go).
	Load       int  `json:"load,omitempty"`
	Cluster    bool `json:"cluster,omitempty"`
	BadLeaders int  `json:"bad_leaders,omitempty"`

	// ViewsSimulated sums the highest view every seed reached.
	ViewsSimulated     uint64  `json:"views_simulated"`
	RulesChecked       uint64  `json:"rules_checked"`
	AdversaryInjected  int     `json:"adversary_injected"`
	AdversaryRejected  int     `json:"adversary_rejected"`
	AdversaryDelivered int     `json:"adversary_delivered"`
	ViewsAfterGST      uint64  `json:"views_after_gst"`
	BlocksAfterGST     uint64  `json:"blocks_after_gst"`
	BlocksPerView      float64 `json:"blocks_per_view_after_gst"`
	FailedViews        uint64  `json:"failed_views_after_gst"`
	FailedViewFraction float64 `json:"failed_view_fraction_after_gst"`
	ViewsPerBlock      float64 `json:"views_per_finalized_block_after_gst"`
	// LongestFailedRun is the longest run of consecutive failed views
	// after GST in any seed; FailedRunsOf3 counts seeds that had a run of
	// three or more (each failed view costs a timeout).
	LongestFailedRun uint64 `json:"longest_failed_run_after_gst"`
	FailedRunsOf3    int    `json:"seeds_with_3_failed_views_in_a_row"`

	MinViewReached      uint64   `json:"min_view_reached"`
	MaxViewReached      uint64   `json:"max_view_reached"`
	FinalizedBlocks     uint64   `json:"finalized_blocks"`
	MinFinalizedPerSeed uint64   `json:"min_finalized_per_seed"`
	Evidence            int      `json:"evidence"`
	SafetyViolations    int      `json:"safety_violations"`
	LivenessFailures    int      `json:"liveness_failures"`
	FailedSeeds         []uint64 `json:"failed_seeds"`
	// Transactions under load: offered, finalized (collected) once,
	// re-offered, expired uncollected; collections finalized; the bad
	// leaders' invalid collections and honest refusals of them.
	TxOffered              uint64  `json:"tx_offered,omitempty"`
	TxFinalized            uint64  `json:"tx_finalized,omitempty"`
	TxResubmitted          uint64  `json:"tx_resubmitted,omitempty"`
	TxExpired              uint64  `json:"tx_expired,omitempty"`
	Collections            uint64  `json:"collections,omitempty"`
	BadCollectionsProposed uint64  `json:"bad_collections_proposed,omitempty"`
	BadCollectionsRefused  uint64  `json:"bad_collections_refused,omitempty"`
	WallTimeS              float64 `json:"wall_time_s"`
}

// Add counts one seed's result.
func (s *Summary) Add(r Result) {
	if s.Seeds == 0 {
		s.MinViewReached, s.MinFinalizedPerSeed = r.MaxView, r.MinFinalizedHeight
	}
	s.Seeds++
	s.MinViewReached = min(s.MinViewReached, r.MaxView)
	s.MaxViewReached = max(s.MaxViewReached, r.MaxView)
	s.FinalizedBlocks += r.FinalizedBlocks
	s.MinFinalizedPerSeed = min(s.MinFinalizedPerSeed, r.MinFinalizedHeight)
	s.Evidence += r.Evidence
	s.ViewsSimulated += r.MaxView
	s.RulesChecked += r.Rules
	s.AdversaryInjected += r.AdversaryInjected
	s.AdversaryRejected += r.AdversaryRejected
	s.AdversaryDelivered += r.AdversaryDelivered
	s.ViewsAfterGST += r.ViewsAfterGST
	s.BlocksAfterGST += r.BlocksAfterGST
	s.FailedViews += r.FailedViewsAfterGST
	s.LongestFailedRun = max(s.LongestFailedRun, r.LongestFailedRun)
	if r.LongestFailedRun >= 3 {
		s.FailedRunsOf3++
	}
	if s.ViewsAfterGST > 0 {
		s.BlocksPerView = math.Round(float64(s.BlocksAfterGST)/float64(s.ViewsAfterGST)*1000) / 1000
		s.FailedViewFraction = math.Round(float64(s.FailedViews)/float64(s.ViewsAfterGST)*1000) / 1000
	}
	if s.BlocksAfterGST > 0 {
		s.ViewsPerBlock = math.Round(float64(s.ViewsAfterGST)/float64(s.BlocksAfterGST)*1000) / 1000
	}
	s.TxOffered += r.TxOffered
	s.TxFinalized += r.TxFinalized
	s.TxResubmitted += r.TxResubmitted
	s.TxExpired += r.TxExpired
	s.Collections += r.Collections
	s.BadCollectionsProposed += r.BadCollectionsProposed
	s.BadCollectionsRefused += r.BadCollectionsRefused
	s.SafetyViolations += len(r.SafetyViolations)
	if r.LivenessFailure != "" {
		s.LivenessFailures++
	}
	if !r.OK() {
		s.FailedSeeds = append(s.FailedSeeds, r.Seed)
	}
}

// WriteText prints the totals for a reader; wall is the batch's wall time.
func (s *Summary) WriteText(w io.Writer, wall time.Duration) {
	status := "OK"
	if len(s.FailedSeeds) > 0 {
		status = fmt.Sprintf("FAIL (seeds %s)", joinSeeds(s.FailedSeeds))
	}
	fmt.Fprintf(w, "\n"+
		"seeds                   %d\n"+
		"views reached           min %d, max %d (target %d)\n"+
		"finalized blocks        %d\n"+
		"min finalized per seed  %d\n"+
		"views simulated         %d\n"+
		"rules checked           %d\n"+
		"adversary messages      %d injected, %d rejected, %d reached a core\n"+
		"blocks per view (GST+)  %.3f\n"+
		"failed views (GST+)     %.3f\n"+
		"views per block (GST+)  %.3f\n"+
		"evidence records        %d\n"+
		"safety violations       %d\n"+
		"liveness failures       %d\n"+
		"wall time               %s\n"+
		"result                  %s\n",
		s.Seeds, s.MinViewReached, s.MaxViewReached, s.Views, s.FinalizedBlocks,
		s.MinFinalizedPerSeed, s.ViewsSimulated, s.RulesChecked, s.AdversaryInjected, s.AdversaryRejected,
		s.AdversaryDelivered, s.BlocksPerView, s.FailedViewFraction, s.ViewsPerBlock, s.Evidence, s.SafetyViolations, s.LivenessFailures,
		wall.Round(time.Millisecond), status)
	if s.Load == 0 {
		return
	}
	fmt.Fprintf(w, "transactions            %d offered, %d finalized once, %d re-offered, %d expired uncollected\n",
		s.TxOffered, s.TxFinalized, s.TxResubmitted, s.TxExpired)
	if s.Cluster {
		fmt.Fprintf(w, "collections             %d finalized; bad leaders' %d proposed, %d refusals\n",
			s.Collections, s.BadCollectionsProposed, s.BadCollectionsRefused)
	}
}

func joinSeeds(seeds []uint64) string {
	strs := make([]string, len(seeds))
	for i, s := range seeds {
		strs[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(strs, ", ")
}

// WriteFailure reports a failing seed: its violations, the tail of its
// trace and replay, the command that reproduces it. An empty replay means
// the run was just traced live: repeating its tail and suggesting a replay
// of the replay would only add noise.
func WriteFailure(w io.Writer, r Result, replay string) {
	fmt.Fprintf(w, "\nseed %d FAILED (max view %d, min finalized height %d)\n",
		r.Seed, r.MaxView, r.MinFinalizedHeight)
	for _, v := range r.SafetyViolations {
		fmt.Fprintf(w, "  safety: %s\n", v)
	}
	if r.LivenessFailure != "" {
		fmt.Fprintf(w, "  liveness: %s\n", r.LivenessFailure)
	}
	if replay == "" {
		return
	}
	if len(r.Trace) > 0 {
		tail := r.Trace[max(0, len(r.Trace)-TraceTail):]
		fmt.Fprintf(w, "  last %d trace lines:\n", len(tail))
		for _, l := range tail {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	fmt.Fprintf(w, "  replay: %s\n", replay)
}

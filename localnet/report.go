package localnet

import (
	"fmt"
	"io"

	"github.com/floe-bft/floe/workload"
)

// WriteText prints the summary for a reader ('floe testnet' without
// --json).
func (s *Summary) WriteText(w io.Writer) {
	note := ""
	if s.Interrupted {
		note = " (interrupted)"
	}
	fmt.Fprintf(w, "\ntestnet summary: %d nodes, %.1fs, rate %s, %d-byte transactions%s\n",
		s.Nodes, s.DurationS, s.Rate, s.TxSize, note)
	fmt.Fprintf(w, "  submitted     %d tx accepted by mempools", s.SubmittedTx)
	if s.RejectedTx+s.FailedTx+s.SkippedTx > 0 {
		fmt.Fprintf(w, " (%d rejected, %d lost to request errors, %d not sent: rate not kept up)",
			s.RejectedTx, s.FailedTx, s.SkippedTx)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  finalized     %d tx in %d blocks: %.1f tx/s (%d not finalized at the end)\n",
		s.FinalizedTx, s.FinalizedBlocks, s.FinalizedTxPerS, s.UnfinalizedTx)
	fmt.Fprintf(w, "  latency       p50 %.1f ms, p99 %.1f ms, mean %.1f ms, max %.1f ms (submit to finalized, %d tx)\n",
		s.LatencyP50MS, s.LatencyP99MS, s.LatencyMeanMS, s.LatencyMaxMS, s.FinalizedTx)
	if s.BlockTx > s.FinalizedTx {
		fmt.Fprintf(w, "  WARNING       blocks held %d transactions, %d more than distinct ones finalized (included twice?)\n",
			s.BlockTx, s.BlockTx-s.FinalizedTx)
	}
	if p := s.Pipeline; p != nil {
		p.writeText(w)
	}
	fmt.Fprintf(w, "  stalls        longest run of seconds with nothing finalized: %d s\n", s.LongestStallS)
	if s.Killed != "" {
		fmt.Fprintf(w, "  kill          %s killed at %.1f s; %.0f tx/s finalized from then on\n", s.Killed, s.KilledAtS, s.FinalizedPerSAfterKill)
	}
	fmt.Fprintf(w, "  chain         height %d, view %d, %.0f view timeouts signed\n", s.FinalHeight, s.View, s.Timeouts)
	fmt.Fprintf(w, "  max RSS       %.1f MB (largest node)\n", s.MaxRSSMB)
	fmt.Fprintf(w, "  directory     %s (logs in nodeN/node.log)\n", s.Dir)
	if s.LastSubmitError != "" {
		fmt.Fprintf(w, "  last submit error: %s\n", s.LastSubmitError)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  ERROR: %s\n", s.Error)
	}
}

// writeText prints a pipeline run's stages, roles and costs.
func (p *PipelineSummary) writeText(w io.Writer) {
	fmt.Fprintf(w, "  pipeline      %d cluster(s) of %d collectors, %d execution, %d access node(s)\n",
		p.Clusters, p.ClusterSize, p.Executors, p.Access)
	if p.App == workload.AppAccounts {
		fmt.Fprintf(w, "  accounts      signed transfers; %d executed with a failed outcome; service account %s, key %s\n",
			p.FailedTx, p.ServiceAccount, p.ServiceKey)
	} else {
		fmt.Fprintf(w, "  application   %s (unsigned key/value writes)\n", p.App)
	}
	for _, name := range stageNames {
		st := p.Stages[name]
		fmt.Fprintf(w, "  %-13s %d tx: p50 %.1f ms, p99 %.1f ms, max %.1f ms after submission\n", name, st.Count, st.P50MS, st.P99MS, st.MaxMS)
	}
	fmt.Fprintf(w, "  collections   %.1f of the load's transactions on average, at most %d; %.2f guarantees per main-chain block\n",
		p.CollectionSizeMean, p.CollectionSizeMax, p.GuaranteesPerBlock)
	if p.ExpiredTx > 0 {
		fmt.Fprintf(w, "  expired       %d tx expired before collection (refused, not lost)\n", p.ExpiredTx)
	}
	if p.RepeatedTx > 0 || p.ExecutionSlots > p.ExecutedTx {
		fmt.Fprintf(w, "  WARNING       %d stage reports repeated; execution ran %d transactions for %d distinct executed\n",
			p.RepeatedTx, p.ExecutionSlots, p.ExecutedTx)
	}
	fmt.Fprintf(w, "  consensus     executed %.0f and holds %.0f transactions (a pipeline's consensus nodes see only guarantees); %.0f block bytes per 1,000 tx\n",
		p.ConsensusExecutedTx, p.ConsensusMempoolTx, p.ConsensusBytesPer1000Tx)
	if p.Executors > 1 {
		fmt.Fprintf(w, "  results       %d execution nodes agree on the result of every height up to %d; consensus recorded %d disagreements\n",
			p.Executors, p.ResultsCompared, p.Disagreements)
	}
	for _, role := range []string{"access", "collection", "consensus", "execution"} {
		if c, ok := p.CPUSeconds[role]; ok {
			fmt.Fprintf(w, "  cpu %-9s %.2f s, %.3f s per 1,000 executed tx\n", role, c, p.CPUSecondsPer1000Tx[role])
		}
	}
}

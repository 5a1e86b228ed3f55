package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/localnet"
)

func init() { commands["ingestion"] = ingestionCommand }

// IngestionOptions configure 'floe bench ingestion'.
type IngestionOptions struct {
	Clusters    []int // k values, one pipeline testnet each
	ClusterSize int
	Duration    time.Duration
	Rate        int // 0: max
	MaxPending  int
	TxSize      int
	Dir         string
}

// IngestionRun is one k's outcome.
type IngestionRun struct {
	Clusters       int     `json:"clusters"`
	ClusterSize    int     `json:"cluster_size"`
	ExecutedTxPerS float64 `json:"executed_tx_per_s"`
	PerClusterTxPS float64 `json:"per_cluster_tx_per_s"`
	// CPU seconds per 1,000 executed transactions, by role.
	CPUPer1000 map[string]float64 `json:"cpu_s_per_1000_tx"`
	// Per-cluster collection CPU per 1,000 of that cluster's transactions
	// is CPUPer1000["collection"] (each collector handles only its
	// cluster's share).
	CollectionSizeMean float64 `json:"collection_size_mean"`
	GuaranteesPerBlock float64 `json:"guarantees_per_block"`
	FinalizedP50MS     float64 `json:"finalized_p50_ms"`
	ExecutedP50MS      float64 `json:"executed_p50_ms"`
	ExecutedP99MS      float64 `json:"executed_p99_ms"`
	Error              string  `json:"error,omitempty"`
}

const ingestionUsage = `floe bench ingestion: per-cluster ingestion of the pipeline. For each k in
--clusters, runs a pipeline testnet (4 consensus nodes, k clusters of
--cluster-size collectors, one execution and one access node) under --rate
for --duration, and reports executed tx/s, tx/s per cluster, and the CPU
seconds each role spent per 1,000 executed transactions. On one machine all
roles share its cores: read the CPU per transaction, not the tx/s, as what
scales (docs/performance.md).
`

func ingestionCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	o := IngestionOptions{}
	var asJSON bool
	var ks, rate string
	fs := flag.NewFlagSet("floe bench ingestion", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, ingestionUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&ks, "clusters", "1,2,4", "cluster counts to run, comma-separated")
	fs.IntVar(&o.ClusterSize, "cluster-size", 1, "collectors per cluster")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "load duration per run")
	fs.StringVar(&rate, "rate", "max", "transactions per second, or 'max'")
	fs.IntVar(&o.MaxPending, "max-pending", 20_000, "with --rate max: most submitted transactions not yet executed")
	fs.IntVar(&o.TxSize, "tx-size", 250, "bytes per transaction")
	fs.StringVar(&o.Dir, "dir", "", "testnet directory (default: a temporary one)")
	fs.BoolVar(&asJSON, "json", false, "print the runs as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 || k > localnet.MaxClusters {
			return fmt.Errorf("--clusters: %q is not a cluster count (1..%d)", s, localnet.MaxClusters)
		}
		o.Clusters = append(o.Clusters, k)
	}
	var err error
	if o.Rate, err = localnet.ParseRate(rate); err != nil {
		return err
	}
	runs, err := RunIngestion(ctx, o, errOut)
	if asJSON {
		if jerr := json.NewEncoder(out).Encode(runs); jerr != nil {
			return jerr
		}
		return err
	}
	fmt.Fprintf(out, "%-8s %-12s %-14s %-10s %-10s %-10s %-10s %-9s %s\n", "clusters", "executed/s", "per cluster/s",
		"access", "collection", "consensus", "execution", "col.size", "executed p50/p99 ms")
	for _, r := range runs {
		c := r.CPUPer1000
		fmt.Fprintf(out, "%-8d %-12.0f %-14.0f %-10.3f %-10.3f %-10.3f %-10.3f %-9.1f %.0f / %.0f %s\n", r.Clusters, r.ExecutedTxPerS,
			r.PerClusterTxPS, c["access"], c["collection"], c["consensus"], c["execution"], r.CollectionSizeMean,
			r.ExecutedP50MS, r.ExecutedP99MS, r.Error)
	}
	fmt.Fprintln(out, "(role columns: CPU seconds per 1,000 executed transactions, all of the role's processes)")
	return err
}

// RunIngestion runs one pipeline testnet per cluster count.
func RunIngestion(ctx context.Context, o IngestionOptions, log io.Writer) ([]IngestionRun, error) {
	if len(o.Clusters) == 0 || o.Duration <= 0 || o.ClusterSize < 1 {
		return nil, errors.New("ingestion: want cluster counts, a positive duration and cluster size")
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the floe binary: %w", err)
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "floe-ingestion-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "tn")
	}
	var runs []IngestionRun
	var errs []error
	for _, k := range o.Clusters {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(log, "ingestion: %d cluster(s) of %d for %v\n", k, o.ClusterSize, o.Duration)
		pl := localnet.DefaultPipeline()
		pl.Clusters, pl.ClusterSize = k, o.ClusterSize
		sum, err := localnet.Run(ctx, localnet.Options{
			Binary: bin, Env: config.WithoutOverrides(os.Environ()), Homes: localnet.ConfigHomes{},
			Dir: dir, Nodes: 4, LogLevel: "warn", Rate: o.Rate, MaxPending: o.MaxPending, TxSize: o.TxSize,
			Duration: o.Duration, Pipeline: &pl,
		}, io.Discard)
		run := IngestionRun{Clusters: k, ClusterSize: o.ClusterSize}
		if err != nil {
			run.Error = err.Error()
			errs = append(errs, fmt.Errorf("%d clusters: %w", k, err))
		}
		if sum != nil && sum.Pipeline != nil {
			p := sum.Pipeline
			run.ExecutedTxPerS = p.ExecutedTxPerS
			run.PerClusterTxPS = round1(p.ExecutedTxPerS / float64(k))
			run.CPUPer1000 = p.CPUSecondsPer1000Tx
			run.CollectionSizeMean = p.CollectionSizeMean
			run.GuaranteesPerBlock = p.GuaranteesPerBlock
			run.FinalizedP50MS = p.Stages["finalized"].P50MS
			run.ExecutedP50MS = p.Stages["executed"].P50MS
			run.ExecutedP99MS = p.Stages["executed"].P99MS
		}
		runs = append(runs, run)
	}
	return runs, errors.Join(errs...)
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

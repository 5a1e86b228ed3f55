package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/internal/testchain"
	"github.com/floe-bft/floe/storage"
)

func init() { benchCommands["follower"] = benchFollower }

type benchFollowerOpts struct {
	blocks, members, workers, rangeBlocks, payloadBytes int
	json                                                bool
}

// benchFollowerReport is the --json output.
type benchFollowerReport struct {
	Blocks       int    `json:"blocks"`
	Members      int    `json:"members"`
	Signers      int    `json:"signers"`
	Scheme       string `json:"scheme"`
	Workers      int    `json:"workers"`
	RangeBlocks  int    `json:"range_blocks"`
	PayloadBytes int    `json:"payload_bytes"`
	Store        string `json:"store"`

	SetupSeconds float64 `json:"setup_s"`

	ChainedSeconds      float64 `json:"chained_s"`
	ChainedBlocksPerS   float64 `json:"chained_blocks_per_s"`
	ChainedQCChecks     uint64  `json:"chained_qc_checks"`
	PerBlockSeconds     float64 `json:"per_block_s"`
	PerBlockBlocksPerS  float64 `json:"per_block_blocks_per_s"`
	PerBlockQCChecks    uint64  `json:"per_block_qc_checks"`
	Speedup             float64 `json:"speedup"`
	FinalizedHeight     uint64  `json:"finalized_height"`
	GOMAXPROCS          int     `json:"gomaxprocs"`
	CertifiedBytesTotal int     `json:"encoded_bytes"`
}

const benchFollowerUsage = `floe bench follower: build a chain of --blocks blocks certified by a real
BLS committee (--members equally weighted members; the smallest supermajority
signs every QC), encode it as sync range answers of --range blocks, and
ingest it twice through the follower engine into a fresh Pebble store:

  chained    hash links along each range plus one QC check (its last block)
  per-block  the certificate of every block checked

Both runs decode the same bytes, use the same worker pool and store every
range in one synced batch; only the validation differs. The run fails if
either does not finalize the whole chain.
`

func benchFollower(args []string) error {
	return runBenchFollowerCmd(context.Background(), args, os.Stdout, os.Stderr)
}

func runBenchFollowerCmd(ctx context.Context, args []string, out, errOut io.Writer) error {
	o := benchFollowerOpts{}
	fs := flag.NewFlagSet("floe bench follower", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, benchFollowerUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.blocks, "blocks", 20000, "certified blocks in the chain")
	fs.IntVar(&o.members, "members", 4, "committee members (BLS keys)")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "follower verification workers")
	fs.IntVar(&o.rangeBlocks, "range", follower.MaxRangeBlocks, "blocks per sync range answer")
	fs.IntVar(&o.payloadBytes, "payload-bytes", 100, "payload bytes per block")
	fs.BoolVar(&o.json, "json", false, "print one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floe bench follower: unexpected arguments %q", fs.Args())
	}
	rep, err := runBenchFollower(ctx, o, errOut)
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "chain: %d blocks, %d-member %s committee (%d sign each QC), %d-byte payloads; built in %.1fs\n",
		rep.Blocks, rep.Members, rep.Scheme, rep.Signers, rep.PayloadBytes, rep.SetupSeconds)
	fmt.Fprintf(out, "chained:   %8.0f blocks/s  (%.2fs, %d QC checks)\n", rep.ChainedBlocksPerS, rep.ChainedSeconds, rep.ChainedQCChecks)
	fmt.Fprintf(out, "per-block: %8.0f blocks/s  (%.2fs, %d QC checks)\n", rep.PerBlockBlocksPerS, rep.PerBlockSeconds, rep.PerBlockQCChecks)
	fmt.Fprintf(out, "speedup:   %.1f×\n", rep.Speedup)
	return nil
}

func runBenchFollower(ctx context.Context, o benchFollowerOpts, log io.Writer) (benchFollowerReport, error) {
	switch {
	case o.blocks < 2:
		return benchFollowerReport{}, fmt.Errorf("--blocks must be at least 2")
	case o.members < 1:
		return benchFollowerReport{}, fmt.Errorf("--members must be positive")
	case o.workers < 1:
		return benchFollowerReport{}, fmt.Errorf("--workers must be positive")
	case o.rangeBlocks < 1 || o.rangeBlocks > follower.MaxRangeBlocks:
		return benchFollowerReport{}, fmt.Errorf("--range must be in 1..%d", follower.MaxRangeBlocks)
	case o.payloadBytes < 0:
		return benchFollowerReport{}, fmt.Errorf("--payload-bytes must not be negative")
	}
	rep := benchFollowerReport{Blocks: o.blocks, Members: o.members, Workers: o.workers, RangeBlocks: o.rangeBlocks,
		PayloadBytes: o.payloadBytes, Store: "pebble", GOMAXPROCS: runtime.GOMAXPROCS(0)}

	start := time.Now()
	fmt.Fprintf(log, "building %d certified blocks with real BLS signatures...\n", o.blocks)
	chain, err := testchain.New(crypto.BLS(), o.members, "bench")
	if err != nil {
		return rep, err
	}
	rep.Scheme, rep.Signers = chain.Scheme.Name(), chain.Signers
	seg, err := chain.Extend(chain.Root, chain.RootQC, o.blocks, func(i int) []byte {
		p := make([]byte, o.payloadBytes)
		for j := range p {
			p[j] = byte(i + j)
		}
		return p
	})
	if err != nil {
		return rep, err
	}
	var ranges [][]byte
	for i := 0; i < len(seg.Blocks); i += o.rangeBlocks {
		end := min(i+o.rangeBlocks, len(seg.Blocks))
		raw := follower.EncodeRange(seg.Blocks[i:end], seg.CertifyingQC(end-1))
		rep.CertifiedBytesTotal += len(raw)
		ranges = append(ranges, raw)
	}
	rep.SetupSeconds = time.Since(start).Seconds()

	want := uint64(o.blocks - 1) // the tip is certified, its parent final
	for _, perBlock := range []bool{false, true} {
		name := "chained"
		if perBlock {
			name = "per-block"
		}
		fmt.Fprintf(log, "ingesting (%s)...\n", name)
		elapsed, checks, height, err := benchIngest(ctx, chain, ranges, o, perBlock)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		if height != want {
			return rep, fmt.Errorf("%s: finalized height %d, want %d", name, height, want)
		}
		rep.FinalizedHeight = height
		rate := float64(o.blocks) / elapsed.Seconds()
		if perBlock {
			rep.PerBlockSeconds, rep.PerBlockBlocksPerS, rep.PerBlockQCChecks = elapsed.Seconds(), rate, checks
		} else {
			rep.ChainedSeconds, rep.ChainedBlocksPerS, rep.ChainedQCChecks = elapsed.Seconds(), rate, checks
		}
	}
	rep.Speedup = rep.ChainedBlocksPerS / rep.PerBlockBlocksPerS
	return rep, nil
}

// benchIngest decodes and feeds every range through a fresh engine on a
// fresh Pebble store, and waits until all were handled.
func benchIngest(ctx context.Context, chain *testchain.Chain, ranges [][]byte, o benchFollowerOpts, perBlock bool) (time.Duration, uint64, uint64, error) {
	dir, err := os.MkdirTemp("", "floe-bench-follower-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	db, err := storage.OpenPebble(dir, storage.WithLogger(quiet))
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	st, err := follower.NewPebbleStore(db, chain.Root, chain.RootQC)
	if err != nil {
		return 0, 0, 0, err
	}
	e, err := follower.New(follower.Config{
		Schedule: follower.StaticSchedule(chain.Committee), Scheme: chain.Scheme,
		Root: chain.Root, RootQC: chain.RootQC, Store: st,
		Workers: o.workers, PerBlockValidation: perBlock,
		// Workers finish ranges out of order; a later range waits detached
		// for the one before it.
		MaxDetached: 4 * o.workers * o.rangeBlocks,
		Logger:      quiet,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	e.Start()
	defer e.Stop()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	done := func(err error) {
		if err != nil {
			mu.Lock()
			firstErr = errors.Join(firstErr, err)
			mu.Unlock()
		}
		wg.Done()
	}
	start := time.Now()
	for _, raw := range ranges {
		blocks, qc, err := follower.DecodeRange(raw, follower.MaxRangeBlocks)
		if err != nil {
			return 0, 0, 0, err
		}
		wg.Add(1)
		if err := e.Submit(ctx, follower.Input{From: "bench", Blocks: blocks, QC: qc, Done: done}); err != nil {
			wg.Done()
			return 0, 0, 0, err
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, 0, 0, firstErr
	}
	return elapsed, e.QCChecks(), e.FinalizedHeight(), e.Err()
}

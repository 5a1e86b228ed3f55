package bench

import (
	"context"
	"errors"
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

// FollowerOptions shape the follower benchmark's chain and engine.
type FollowerOptions struct {
	// Blocks is the chain's length (at least 2), Members its equally
	// weighted committee (the smallest supermajority signs every QC).
	Blocks, Members int
	// Workers are the follower's verification workers.
	Workers int
	// RangeBlocks is the blocks per sync range answer
	// (1..follower.MaxRangeBlocks); PayloadBytes the payload per block.
	RangeBlocks, PayloadBytes int
}

// FollowerReport is what the follower benchmark measured ('floe bench
// follower --json').
type FollowerReport struct {
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

// WriteText prints the report for a reader.
func (r FollowerReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "chain: %d blocks, %d-member %s committee (%d sign each QC), %d-byte payloads; built in %.1fs\n",
		r.Blocks, r.Members, r.Scheme, r.Signers, r.PayloadBytes, r.SetupSeconds)
	fmt.Fprintf(w, "chained:   %8.0f blocks/s  (%.2fs, %d QC checks)\n", r.ChainedBlocksPerS, r.ChainedSeconds, r.ChainedQCChecks)
	fmt.Fprintf(w, "per-block: %8.0f blocks/s  (%.2fs, %d QC checks)\n", r.PerBlockBlocksPerS, r.PerBlockSeconds, r.PerBlockQCChecks)
	fmt.Fprintf(w, "speedup:   %.1f×\n", r.Speedup)
}

// RunFollower builds a chain of o.Blocks blocks certified by a real BLS
// committee, encodes it as sync range answers and ingests it twice through
// the follower engine into a fresh Pebble store, once with chained range
// validation and once checking every block's certificate. Progress goes to
// log. It fails unless both runs finalize the whole chain; errors name the
// 'floe bench follower' flags.
func RunFollower(ctx context.Context, o FollowerOptions, log io.Writer) (FollowerReport, error) {
	switch {
	case o.Blocks < 2:
		return FollowerReport{}, fmt.Errorf("--blocks must be at least 2")
	case o.Members < 1:
		return FollowerReport{}, fmt.Errorf("--members must be positive")
	case o.Workers < 1:
		return FollowerReport{}, fmt.Errorf("--workers must be positive")
	case o.RangeBlocks < 1 || o.RangeBlocks > follower.MaxRangeBlocks:
		return FollowerReport{}, fmt.Errorf("--range must be in 1..%d", follower.MaxRangeBlocks)
	case o.PayloadBytes < 0:
		return FollowerReport{}, fmt.Errorf("--payload-bytes must not be negative")
	}
	rep := FollowerReport{Blocks: o.Blocks, Members: o.Members, Workers: o.Workers, RangeBlocks: o.RangeBlocks,
		PayloadBytes: o.PayloadBytes, Store: "pebble", GOMAXPROCS: runtime.GOMAXPROCS(0)}

	start := time.Now()
	fmt.Fprintf(log, "building %d certified blocks with real BLS signatures...\n", o.Blocks)
	chain, err := testchain.New(crypto.BLS(), o.Members, "bench")
	if err != nil {
		return rep, err
	}
	rep.Scheme, rep.Signers = chain.Scheme.Name(), chain.Signers
	seg, err := chain.Extend(chain.Root, chain.RootQC, o.Blocks, func(i int) []byte {
		p := make([]byte, o.PayloadBytes)
		for j := range p {
			p[j] = byte(i + j)
		}
		return p
	})
	if err != nil {
		return rep, err
	}
	var ranges [][]byte
	for i := 0; i < len(seg.Blocks); i += o.RangeBlocks {
		end := min(i+o.RangeBlocks, len(seg.Blocks))
		raw := follower.EncodeRange(seg.Blocks[i:end], seg.CertifyingQC(end-1))
		rep.CertifiedBytesTotal += len(raw)
		ranges = append(ranges, raw)
	}
	rep.SetupSeconds = time.Since(start).Seconds()

	want := uint64(o.Blocks - 1) // the tip is certified, its parent final
	for _, perBlock := range []bool{false, true} {
		name := "chained"
		if perBlock {
			name = "per-block"
		}
		fmt.Fprintf(log, "ingesting (%s)...\n", name)
		elapsed, checks, height, err := ingest(ctx, chain, ranges, o, perBlock)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", name, err)
		}
		if height != want {
			return rep, fmt.Errorf("%s: finalized height %d, want %d", name, height, want)
		}
		rep.FinalizedHeight = height
		rate := float64(o.Blocks) / elapsed.Seconds()
		if perBlock {
			rep.PerBlockSeconds, rep.PerBlockBlocksPerS, rep.PerBlockQCChecks = elapsed.Seconds(), rate, checks
		} else {
			rep.ChainedSeconds, rep.ChainedBlocksPerS, rep.ChainedQCChecks = elapsed.Seconds(), rate, checks
		}
	}
	rep.Speedup = rep.ChainedBlocksPerS / rep.PerBlockBlocksPerS
	return rep, nil
}

// ingest decodes and feeds every range through a fresh engine on a
// fresh Pebble store, and waits until all were handled.
func ingest(ctx context.Context, chain *testchain.Chain, ranges [][]byte, o FollowerOptions, perBlock bool) (time.Duration, uint64, uint64, error) {
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
		Workers: o.Workers, PerBlockValidation: perBlock,
		// Workers finish ranges out of order; a later range waits detached
		// for the one before it.
		MaxDetached: 4 * o.Workers * o.RangeBlocks,
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

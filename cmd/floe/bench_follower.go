package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/floe-bft/floe/bench"
	"github.com/floe-bft/floe/follower"
)

func init() { benchCommands["follower"] = benchFollower }

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
	var o bench.FollowerOptions
	var asJSON bool
	fs := flag.NewFlagSet("floe bench follower", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, benchFollowerUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.Blocks, "blocks", 20000, "certified blocks in the chain")
	fs.IntVar(&o.Members, "members", 4, "committee members (BLS keys)")
	fs.IntVar(&o.Workers, "workers", runtime.NumCPU(), "follower verification workers")
	fs.IntVar(&o.RangeBlocks, "range", follower.MaxRangeBlocks, "blocks per sync range answer")
	fs.IntVar(&o.PayloadBytes, "payload-bytes", 100, "payload bytes per block")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floe bench follower: unexpected arguments %q", fs.Args())
	}
	rep, err := bench.RunFollower(ctx, o, errOut)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	rep.WriteText(out)
	return nil
}

package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"github.com/floe-bft/floe/follower"
)

// Each benchmark is a small tool of its own with its own flag set
// (`floe bench NAME [flags]`); the registry maps a name to it, and each
// registers itself from its own file, so adding one touches no shared file.
var commands = map[string]func(ctx context.Context, args []string, out, errOut io.Writer) error{
	"follower": followerCommand,
}

// Main runs the benchmark args[0] names with the rest of args as its flags.
func Main(ctx context.Context, args []string, out, errOut io.Writer) error {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		return fmt.Errorf("usage: floe bench NAME [flags]; benchmarks: %s", strings.Join(names, ", "))
	}
	run, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q; benchmarks: %s", args[0], strings.Join(names, ", "))
	}
	return run(ctx, args[1:], out, errOut)
}

const followerUsage = `floe bench follower: build a chain of --blocks blocks certified by a real
BLS committee (--members equally weighted members; the smallest supermajority
signs every QC), encode it as sync range answers of --range blocks, and
ingest it twice through the follower engine into a fresh Pebble store:

  chained    hash links along each range plus one QC check (its last block)
  per-block  the certificate of every block checked

Both runs decode the same bytes, use the same worker pool and store every
range in one synced batch; only the validation differs. The run fails if
either does not finalize the whole chain.
`

func followerCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	var o FollowerOptions
	var asJSON bool
	fs := flag.NewFlagSet("floe bench follower", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(errOut, followerUsage)
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
	rep, err := RunFollower(ctx, o, errOut)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	rep.WriteText(out)
	return nil
}

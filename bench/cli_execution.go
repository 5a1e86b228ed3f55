package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/state"
)

// The execution benchmarks: the parallel executor (blockstm.RunBench) and
// the disk-backed state (state.RunBench). Both packages own their
// measurement; these commands only parse flags and print.
func init() {
	commands["execution"] = executionCommand
	commands["state"] = stateCommand
}

const executionUsage = `floe bench execution: blocks of signed-transfer-like transactions of
--work CPU each (SHA-256, calibrated), executed sequentially and by Block-STM
with each --workers count, at low (--keys), medium (--medium-keys) and full
(one key) contention; every parallel output is checked equal to the
sequential one. Reports tx/s, speedup, runs per transaction and the
projection per core.
`

func executionCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	var c blockstm.BenchConfig
	fs := flag.NewFlagSet("floe bench execution", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, executionUsage); fs.PrintDefaults() }
	fs.IntVar(&c.Txs, "txs", 1000, "transactions per block")
	fs.DurationVar(&c.Work, "work", 50*time.Microsecond, "CPU work per transaction besides its reads and writes")
	fs.IntVar(&c.Keys, "keys", 100_000, "key space of the low-contention blocks")
	fs.IntVar(&c.MediumKeys, "medium-keys", 100, "key space of the medium-contention blocks")
	fs.IntVar(&c.Rounds, "rounds", 5, "blocks per measurement (the median counts)")
	workers := fs.String("workers", "1,2", "comma-separated worker counts to measure")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floe bench execution: unexpected arguments %q", fs.Args())
	}
	for _, w := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			return fmt.Errorf("floe bench execution: --workers %q: %v", *workers, err)
		}
		c.Workers = append(c.Workers, n)
	}
	rep, err := blockstm.RunBench(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	_, err = io.WriteString(out, rep.String())
	return err
}

const stateUsage = `floe bench state: build a register state of --registers registers on
Pebble (in --dir, or a temporary directory removed afterwards), then commit
--commits batches of --batch random updates, pruning old versions as an
execution node does, and measure proofs. Reports updates/s, commit latency,
proof sizes, and the process RSS and Go heap after building and after the
updates: memory stays bounded as the state grows.
`

func stateCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	var c state.BenchConfig
	fs := flag.NewFlagSet("floe bench state", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() { fmt.Fprint(errOut, stateUsage); fs.PrintDefaults() }
	fs.StringVar(&c.Dir, "dir", "", "directory for the store (default: a temporary one, removed afterwards)")
	fs.IntVar(&c.Registers, "registers", 1_000_000, "registers in the state before measuring")
	fs.IntVar(&c.Batch, "batch", 1000, "writes per measured commit")
	fs.IntVar(&c.UpdateCommits, "commits", 200, "measured commits")
	asJSON := fs.Bool("json", false, "print one JSON object")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floe bench state: unexpected arguments %q", fs.Args())
	}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "floe-bench-state-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.Dir = dir
	}
	if !*quiet {
		c.Progress = func(line string) { fmt.Fprintln(errOut, "state:", line) }
	}
	rep, err := state.RunBench(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	_, err = io.WriteString(out, rep.String())
	return err
}

//go:build unix

package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"

	"github.com/floe-bft/floe/bench"
)

func init() { benchCommands["light"] = benchLight }

func benchLight(args []string) error { return runBenchLight(args, os.Stdout) }

func runBenchLight(args []string, out io.Writer) error {
	var o bench.LightOptions
	fs := flag.NewFlagSet("floe bench light", flag.ContinueOnError)
	fs.IntVar(&o.Epochs, "epochs", 52, "epoch transitions to fast-forward through (a committee change each)")
	fs.IntVar(&o.Members, "members", 4, "committee size")
	fs.IntVar(&o.StateProofs, "state-proofs", 32, "state proofs to fetch and verify after fast-forwarding")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := bench.RunLight(context.Background(), o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	res.WriteText(out)
	return nil
}

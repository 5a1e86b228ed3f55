//go:build unix

package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

func init() { commands["light"] = lightCommand }

func lightCommand(ctx context.Context, args []string, out, errOut io.Writer) error {
	var o LightOptions
	fs := flag.NewFlagSet("floe bench light", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.IntVar(&o.Epochs, "epochs", 52, "epoch transitions to fast-forward through (a committee change each)")
	fs.IntVar(&o.Members, "members", 4, "committee size")
	fs.IntVar(&o.StateProofs, "state-proofs", 32, "state proofs to fetch and verify after fast-forwarding")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("floe bench light: unexpected arguments %q", fs.Args())
	}
	res, err := RunLight(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	res.WriteText(out)
	return nil
}

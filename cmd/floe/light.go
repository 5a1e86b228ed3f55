package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/light"
)

func newLightCmd() *cobra.Command {
	var (
		genesisPath, peer, key, keyHex string
		timeout                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "light --genesis FILE --peer URL [--key K]",
		Short: "Follow a chain as a light client: fast-forward epochs from genesis, verify state",
		Long: `Run the light client against one full node. It trusts only the genesis
file (identity table, leader seed, epoch rules, governance keys), asks the
node for each epoch's transition proof in turn, verifies every QC and hash
link against the committee it already knows and adopts the next committee,
printing each epoch it adopts. Then it proves the newest final block the
node can show, and with --key (UTF-8) or --key-hex verifies that key's value
or absence in the state that block commits to.

Any forged or incomplete answer stops it with a non-zero exit status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if genesisPath == "" || peer == "" {
				return fmt.Errorf("--genesis and --peer are required")
			}
			if key != "" && keyHex != "" {
				return fmt.Errorf("give --key or --key-hex, not both")
			}
			k := []byte(key)
			if keyHex != "" {
				var err error
				if k, err = hex.DecodeString(keyHex); err != nil || len(k) == 0 {
					return fmt.Errorf("--key-hex must be non-empty hex")
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return runLight(ctx, cmd.OutOrStdout(), genesisPath, peer, k)
		},
	}
	cmd.Flags().StringVar(&genesisPath, "genesis", "", "genesis file (the only thing trusted)")
	cmd.Flags().StringVar(&peer, "peer", "", "full node API URL, e.g. http://127.0.0.1:8080")
	cmd.Flags().StringVar(&key, "key", "", "application key (UTF-8) to verify at the newest final block")
	cmd.Flags().StringVar(&keyHex, "key-hex", "", "application key (hex) to verify at the newest final block")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return cmd
}

// lightGenesis turns a genesis file into what a light client trusts.
func lightGenesis(path string) (light.Genesis, error) {
	g, err := genesis.Load(path)
	if err != nil {
		return light.Genesis{}, err
	}
	p, err := g.EpochParams()
	if err != nil {
		return light.Genesis{}, err
	}
	ids, seed, err := g.Identities()
	if err != nil {
		return light.Genesis{}, err
	}
	return light.Genesis{Params: p, Identities: ids, Seed: seed}, nil
}

func runLight(ctx context.Context, out io.Writer, genesisPath, peer string, key []byte) error {
	g, err := lightGenesis(genesisPath)
	if err != nil {
		return err
	}
	return runLightClient(ctx, out, g, peer, key)
}

func runLightClient(ctx context.Context, out io.Writer, g light.Genesis, peer string, key []byte) error {
	client, err := light.New(g)
	if err != nil {
		return err
	}
	if !strings.Contains(peer, "://") {
		peer = "http://" + peer
	}
	src := light.NewHTTPSource(peer, &http.Client{Timeout: 30 * time.Second})
	gen := client.Latest()
	fmt.Fprintf(out, "trusted genesis: epoch 0, views %s, %s\n", viewRange(gen), members(gen))
	_, err = client.FastForward(ctx, src, func(s light.Step) {
		e, _ := client.Schedule().Epoch(s.Counter)
		if s.Adopted != nil {
			if s.Extensions > 0 {
				fmt.Fprintf(out, "epoch %d extended %d time(s) (fallback)\n", s.Counter-1, s.Extensions)
			}
			fmt.Fprintf(out, "adopted epoch %d: views %s, %s (setup at height %d, commit at height %d)\n",
				s.Counter, viewRange(e), members(e), s.SetupHeight, s.CommitHeight)
			return
		}
		fmt.Fprintf(out, "epoch %d extended %d time(s) (fallback): views %s\n", s.Counter, s.Extensions, viewRange(e))
	})
	if err != nil {
		return lightFailure(peer, err)
	}
	latest := client.Latest()
	fmt.Fprintf(out, "up to date: epoch %d (views %s), %d bytes fetched\n", latest.Counter, viewRange(latest), src.BytesFetched())
	seg, err := src.Final(ctx, 0)
	if err != nil {
		return lightFailure(peer, err)
	}
	b, err := client.VerifyFinal(seg, 0)
	if err != nil {
		return lightFailure(peer, err)
	}
	fmt.Fprintf(out, "final block: height %d, view %d, id %s, state root %s after height %d\n",
		b.Header.Height, b.Header.View, b.ID.Hex(), b.Header.Result.Root.Hex(), b.Header.Result.Height)
	if len(key) == 0 {
		return nil
	}
	p, err := src.State(ctx, key, 0)
	if err != nil {
		return lightFailure(peer, err)
	}
	r, err := client.VerifyState(p, key, 0)
	if err != nil {
		return lightFailure(peer, err)
	}
	if r.Found() {
		fmt.Fprintf(out, "key %q = %q (verified: state after height %d, final block %d)\n", key, r.Value, r.Height, r.Block.Header.Height)
	} else {
		fmt.Fprintf(out, "key %q is absent (verified: state after height %d, final block %d)\n", key, r.Height, r.Block.Header.Height)
	}
	return nil
}

// lightFailure says plainly whether the peer lied, left something out or
// could not be asked.
func lightFailure(peer string, err error) error {
	switch {
	case errors.Is(err, light.ErrForged):
		return fmt.Errorf("REJECTED forged answer from %s: %w", peer, err)
	case errors.Is(err, light.ErrMalformed):
		return fmt.Errorf("REJECTED malformed answer from %s: %w", peer, err)
	case errors.Is(err, light.ErrIncomplete):
		return fmt.Errorf("REJECTED incomplete answer from %s: %w", peer, err)
	}
	return fmt.Errorf("light client: %w", err)
}

func viewRange(e *epoch.Epoch) string {
	if e.FinalView == epoch.Forever {
		return fmt.Sprintf("%d..", e.FirstView)
	}
	return fmt.Sprintf("%d..%d", e.FirstView, e.FinalView)
}

func members(e *epoch.Epoch) string {
	names := make([]string, len(e.Identities))
	for i, m := range e.Identities {
		names[i] = m.Name
	}
	return fmt.Sprintf("%d members [%s]", len(names), strings.Join(names, " "))
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

func newGenesisCmd() *cobra.Command {
	var (
		chainID, out, seed, when, appState string
		force                              bool
		epochs                             genesis.EpochRules
	)
	params := genesis.DefaultParams()
	params.IdleBlockIntervalMS = genesis.DefaultIdleBlockIntervalMS
	cmd := &cobra.Command{
		Use:   "genesis --chain-id ID --out FILE VALIDATOR_JSON...",
		Short: "Assemble a genesis file from the members' validator.json files",
		Long: `Assemble a genesis file from validator entries (the validator.json that
'floe init' writes, or the "validator" object 'floe keys' prints), one file
per member. Everything is validated before anything is written: every
staking key and its proof of possession, network keys, addresses, weights,
roles, duplicates and the consensus parameters. Members whose entry has no
"role" are consensus members; the collection members are dealt into
--clusters clusters from the leader seed.

Copy the result to DIR/config/genesis.json on every node.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chainID == "" || out == "" {
				return fmt.Errorf("--chain-id and --out are required")
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			var vals []genesis.Validator
			for _, path := range args {
				v, err := genesis.ReadValidator(path)
				if err != nil {
					return err
				}
				vals = append(vals, v)
			}
			g, err := genesis.Build(chainID, vals, params, seed, when)
			if err != nil {
				return err
			}
			if err := epochs.Apply(g); err != nil {
				return err
			}
			if appState != "" {
				if g.AppState, err = kvstore.ReadStateFile(appState); err != nil {
					return err
				}
			}
			if err := g.Save(out); err != nil {
				return err
			}
			com, _, err := g.Committee()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: chain %q, %d validators, committee of %d with total weight %d%s\n",
				out, g.ChainID, len(g.Validators), com.Size(), com.TotalWeight(), rolesNote(g))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&chainID, "chain-id", "", "chain identifier (required)")
	f.StringVar(&out, "out", "", "genesis file to write (required)")
	f.StringVar(&seed, "leader-seed", "", "32-byte hex leader-selection seed (default: random)")
	f.StringVar(&when, "genesis-time", "", "genesis time, RFC 3339 (default: now)")
	f.BoolVar(&force, "force", false, "overwrite FILE if it exists")
	f.StringVar(&appState, "app-state", "", "initial application state: a file 'floe export' wrote (docs/upgrades.md)")

	f.Int64Var(&params.TimeoutMinMS, "timeout-min-ms", params.TimeoutMinMS, "minimum view timeout")
	f.Int64Var(&params.TimeoutMaxMS, "timeout-max-ms", params.TimeoutMaxMS, "maximum view timeout")
	f.Int64Var(&params.BlockIntervalMS, "block-interval-ms", params.BlockIntervalMS, "minimum time between a leader's blocks")
	f.Int64Var(&params.IdleBlockIntervalMS, "idle-block-interval-ms", params.IdleBlockIntervalMS, "how long a leader with nothing to order waits before proposing (0: no idle pacing)")
	f.IntVar(&params.MaxBlockBytes, "max-block-bytes", params.MaxBlockBytes, "largest block payload")
	f.IntVar(&params.MaxBlockTxs, "max-block-txs", params.MaxBlockTxs, "most transactions per block")
	f.IntVar(&params.Clusters, "clusters", 0, "clusters the collection members are dealt into (0: 1 if there are collectors, else 0)")
	f.StringArrayVar(&epochs.Governance, "governance-key", nil, "hex ed25519 public key allowed to sign epoch changes (repeatable; see 'floe governance keygen')")
	f.Uint64Var(&epochs.Views, "epoch-views", 0, "enable epochs of this many views; the next epoch must be committed a quarter of an epoch before the end (0: one epoch forever)")
	f.StringVar(&epochs.Profile, "epoch-profile", "", "epoch rules: 'production' (604800 views, settled 3600 before the end) or 'test' (needs --epoch-views)")
	return cmd
}

// rolesNote counts the members outside the committee and the clusters, for
// a genesis that has any.
func rolesNote(g *genesis.Genesis) string {
	counts := map[string]int{}
	for _, v := range g.Validators {
		if r, err := v.ParsedRole(); err == nil && r != epoch.RoleConsensus {
			counts[r.String()]++
		}
	}
	note := ""
	for _, r := range epoch.Roles()[1:] {
		if n := counts[r.String()]; n > 0 {
			note += fmt.Sprintf(", %d %s", n, r)
		}
	}
	if g.Params.Clusters > 0 {
		note += fmt.Sprintf("; clusters: %d", g.Params.Clusters)
	}
	return note
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/governance"
)

// The governance commands are flags over package governance: the
// operator's side of an epoch change. See docs/cli.md.

func newGovernanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "governance",
		Short: "Epoch changes: governance keys, EpochSetup and EpochCommit events",
		Long: `Change the committee at an epoch boundary. A genesis made with
--epoch-views (or --epoch-profile) and --governance-key lets a holder of one
of those keys schedule the next epoch:

  floe governance keygen --out gov.key              (before genesis)
  floe governance status --node URL
  floe governance setup  --key gov.key --genesis genesis.json --node URL --validators a.json,b.json,...
  floe governance commit --key gov.key --genesis genesis.json --node URL --setup epoch-1-setup.bin

The setup and its commit must both be finalized more than epoch_safety_views
views before the current epoch ends; otherwise the current epoch is extended
(fallback) and the setup must be made again for the new view range.`,
	}
	cmd.AddCommand(newGovernanceKeygenCmd(), newGovernanceStatusCmd(), newGovernanceSetupCmd(), newGovernanceCommitCmd())
	return cmd
}

func newGovernanceKeygenCmd() *cobra.Command {
	var (
		out   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Generate an ed25519 governance key",
		Long: `Write a new ed25519 governance key to FILE (its 32-byte seed in hex, mode
0600) and print the public key in hex, for 'floe genesis --governance-key'.
Keep FILE offline: whoever holds it can change the committee.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			key, err := governance.NewKey()
			if err != nil {
				return err
			}
			if err := governance.SaveKey(out, key); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), governance.PublicKeyHex(key))
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the secret key to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}

// governanceFlags are the flags setup and commit share.
type governanceFlags struct {
	keyPath, genesisPath, nodeURL string
	wait                          time.Duration
}

func (f *governanceFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.keyPath, "key", "", "governance key file from 'floe governance keygen' (required)")
	fs.StringVar(&f.genesisPath, "genesis", "", "the network's genesis.json: chain to sign for, epoch rules, governance keys (required)")
	nodeFlag(fs, &f.nodeURL)
	fs.DurationVar(&f.wait, "wait", 0, "wait up to this long for the event to be finalized (0: return once it is queued)")
}

func (f *governanceFlags) open(cmd *cobra.Command) (*governance.Session, error) {
	return governance.Open(f.keyPath, f.genesisPath, f.nodeURL, cmd.OutOrStdout())
}

func newGovernanceSetupCmd() *cobra.Command {
	var (
		gf governanceFlags
		r  governance.SetupRequest
	)
	cmd := &cobra.Command{
		Use:   "setup --key FILE --genesis FILE --node URL --validators A.json,B.json,...",
		Short: "Propose the next epoch's committee (EpochSetup)",
		Long: `Read the node's status for the newest known epoch (the committed next epoch
if there is one, else the current), build the following epoch — its counter,
first view right after the newest epoch's final view, --views long (default
the genesis epoch_views), the --validators as its identity table in the
order given, and a leader-selection seed (--seed, default random) — sign it
with the governance key for the chain of --genesis, write the signed event
to --out (default epoch-<N>-setup.bin; 'floe governance commit --setup' needs
it) and post it to the node. Prints the queued event's ID.

Everything is checked before anything is posted: the key must be a
governance key of the genesis, every validator entry must be well formed
with a valid proof of possession, no setup may be pending already, and the
node must not be past the safety threshold of the newest epoch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := gf.open(cmd)
			if err != nil {
				return err
			}
			r.Wait = gf.wait
			return s.Setup(cmd.Context(), r)
		},
	}
	gf.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&r.Validators, "validators", nil, "the next committee's validator.json files, comma-separated or repeated (required)")
	f.Uint64Var(&r.Views, "views", 0, "length of the next epoch in views (default: the genesis epoch_views)")
	f.StringVar(&r.SeedHex, "seed", "", "32-byte hex random source of the next epoch: leader selection and clustering (default: random)")
	f.IntVar(&r.Clusters, "clusters", 0, "clusters the next epoch's collection members are dealt into (0: as many as the newest epoch has, within 1..collectors; none without collectors)")
	f.StringVar(&r.Out, "out", "", "file to write the signed setup to (default epoch-<N>-setup.bin)")
	f.BoolVar(&r.Force, "force", false, "overwrite the --out file if it exists")
	return cmd
}

func newGovernanceCommitCmd() *cobra.Command {
	var (
		gf        governanceFlags
		setupPath string
	)
	cmd := &cobra.Command{
		Use:   "commit --key FILE --genesis FILE --node URL --setup FILE",
		Short: "Confirm a finalized EpochSetup (EpochCommit)",
		Long: `Read the signed setup that 'floe governance setup' wrote, check that the
node shows it as the pending setup (with --wait, wait for that first), sign
an EpochCommit naming it and post it. With --wait, also wait until the node
shows the epoch as committed (next_epoch).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := gf.open(cmd)
			if err != nil {
				return err
			}
			return s.Commit(cmd.Context(), setupPath, gf.wait)
		},
	}
	gf.register(cmd)
	cmd.Flags().StringVar(&setupPath, "setup", "", "signed setup written by 'floe governance setup' (required)")
	return cmd
}

func newGovernanceStatusCmd() *cobra.Command {
	var (
		nodeURL string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "status --node URL",
		Short: "Print the node's current epoch, next epoch and pending setup",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := client.New(nodeURL).Status(cctx)
			if err != nil {
				return err
			}
			return governance.WriteStatus(cmd.OutOrStdout(), st, asJSON)
		},
	}
	nodeFlag(cmd.Flags(), &nodeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: chain_id, view, epoch, next_epoch, pending_setup")
	return cmd
}

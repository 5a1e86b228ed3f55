package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/e2e"
	"github.com/floe-bft/floe/genesis"
)

func newE2ECmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "End-to-end tests: container networks under faults (needs Docker)",
		Long: `Run floe networks in Docker containers, one node per container on a private
network, and subject them to faults described by manifests (e2e/manifests/).
See docs/e2e.md.`,
	}
	cmd.AddCommand(newE2ERunCmd(), newE2EGenCmd())
	return cmd
}

func newE2ERunCmd() *cobra.Command {
	var dir, repo string
	var noBuild, keep, asJSON bool
	var lockWait time.Duration
	cmd := &cobra.Command{
		Use:   "run MANIFEST.toml...",
		Short: "Run manifests and report; exit status 1 on any violation",
		Long: `Build the node image (deploy/build.sh --image-only), then for each manifest:
generate the network, start it, keep a transaction load on it, apply the
schedule of faults, check recovery, chains, state, transactions and evidence
after each, and print a report. Runs must be started from the repository
root (or give --repo). Partition steps need root, nsenter and iptables.

The exit status is 0 only if every manifest met its expectations: no
violation, or exactly the expected kinds for manifests with [expect].`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			manifests, err := e2e.LoadManifests(args)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(repo, "deploy", "build.sh")); err != nil && !noBuild {
				return fmt.Errorf("%s is not the repository root (no deploy/build.sh): use --repo or --no-build", repo)
			}
			lock, err := e2e.AcquireLock("floe e2e run "+strings.Join(args, " "), lockWait, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer lock.Release()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := e2e.Options{Dir: dir, Repo: repo, Build: !noBuild, Keep: keep, Progress: cmd.ErrOrStderr()}
			return e2e.RunAll(ctx, manifests, opts, cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "e2e-data", "directory for the runs (one subdirectory per manifest, replaced each run)")
	cmd.Flags().StringVar(&repo, "repo", ".", "repository root (holds deploy/build.sh)")
	cmd.Flags().BoolVar(&noBuild, "no-build", false, "use the existing floe:local image")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the containers running at the end")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON on stdout")
	cmd.Flags().DurationVar(&lockWait, "lock-wait", 30*time.Minute, "how long to wait for another e2e run on this machine (they share Docker) to finish")
	return cmd
}

func newE2EGenCmd() *cobra.Command {
	var dir, subnet, project, chainID string
	var validators, followers, portBase int
	var epochViews uint64
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a container network: node homes, genesis and compose.yaml",
		Long: `Write DIR/compose.yaml, DIR/genesis.json and one home per node (DIR/node0, ...)
for a network of validators in containers of the floe:local image, each with
its own address on a private network and its home as a persistent volume.
--followers K adds K 'floe follow' containers (DIR/follower0, ...; follower j
follows validator j mod N) after the validators' addresses and ports. The
genesis lists a freshly drawn governance key, saved in DIR/governance.key
(for 'floe governance ... --key'); --epoch-views enables epochs.
Then: docker compose -p PROJECT -f DIR/compose.yaml up -d (or docker-compose).
A directory generated before is replaced (a new chain); any other non-empty
directory is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			params := genesis.DefaultParams()
			if epochViews > 0 {
				params.TestEpochs(epochViews)
			}
			net, err := e2e.GenerateNetwork(dir, e2e.NetworkSpec{
				Project: project, ChainID: chainID, Validators: validators, Followers: followers,
				Subnet: subnet, APIPortBase: portBase, Params: params,
				RandomKeys: true,
			})
			if err != nil {
				return err
			}
			return net.WriteSummary(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "deploy/net", "output directory")
	cmd.Flags().IntVar(&validators, "validators", 4, "validators (one container each)")
	cmd.Flags().IntVar(&followers, "followers", 0, "followers ('floe follow' containers, after the validators)")
	cmd.Flags().Uint64Var(&epochViews, "epoch-views", 0, "epochs of this many views (0: one epoch for ever)")
	cmd.Flags().StringVar(&subnet, "subnet", "172.30.0.0/24", "private network; node i gets host address 10+i")
	cmd.Flags().IntVar(&portBase, "api-port-base", 18080, "node i's API is published on 127.0.0.1:BASE+i")
	cmd.Flags().StringVar(&project, "project", "floe", "container name prefix and Docker network name")
	cmd.Flags().StringVar(&chainID, "chain-id", "floe-docker", "chain ID")
	return cmd
}

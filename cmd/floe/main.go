// Command floe is the command-line front end of the floe BFT consensus
// engine. Each subcommand lives in its own file and is attached to the root
// command in newRootCmd, so adding one (testnet, start, keys, ...) touches
// only that file and one line here.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/consensus/model"
)

func main() {
	// Errors are printed here rather than by cobra (SilenceErrors) so that
	// every failure, flag errors included, reaches stderr exactly once and
	// maps to exit status 1.
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "floe:", err)
		os.Exit(1)
	}
}

// newRootCmd builds a fresh command tree. It is a constructor rather than a
// package-level variable so tests can run commands in-process without flag
// state leaking from one run into the next.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:     "floe",
		Short:   "floe BFT consensus engine",
		Version: version(),
		// A failing simulation is a result, not a usage mistake: printing
		// the usage text would bury the report.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Usage is still helpful when the mistake really is in the flags.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		newVersionCmd(),
		newSimCmd(),
		newKeysCmd(),
		newInitCmd(),
		newGenesisCmd(),
		newExportCmd(),
		newGovernanceCmd(),
		newStartCmd(),
		newTxCmd(),
		newAccountCmd(),
		newProgramCmd(),
		newStatusCmd(),
		newTestnetCmd(),
		newBenchCmd(),
		newFollowCmd(),
		newLightCmd(),
		newE2ECmd(),
	)
	rejectStrayArgs(root)
	return root
}

// rejectStrayArgs makes every command that only groups subcommands (e2e,
// governance, tx, ...) fail on an argument that names none of them, such
// as "floe e2e ci.toml" (meant: "floe e2e run ci.toml"): cobra would print
// the help and exit 0, and a script would think the command ran. Without
// arguments they still print their help.
func rejectStrayArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectStrayArgs(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the floe version and the protocol version it speaks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "floe %s (protocol %d)\n", version(), model.ProtocolVersion)
			return err
		},
	}
}

// version is the module version recorded by the Go toolchain at build time.
// Builds from a source tree without a usable version (go run, go test, or no
// VCS information) report "devel".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "devel"
	}
	return info.Main.Version
}

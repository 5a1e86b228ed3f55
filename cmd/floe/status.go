package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/client"
)

func newStatusCmd() *cobra.Command {
	var nodeURL string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print a node's status as JSON",
		Long: `Print the node's status (GET /v1/status) as indented JSON: view, finalized
height and block ID, executed height and state root, whether it is
syncing, the best height its peers report, mempool size, committee and
peers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := client.New(nodeURL).Status(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	nodeFlag(cmd.Flags(), &nodeURL)
	return cmd
}

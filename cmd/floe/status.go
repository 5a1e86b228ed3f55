package main

import (
	"encoding/json"

	"github.com/spf13/cobra"
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
			st, err := newClient(nodeURL, nil).status(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	cmd.Flags().StringVar(&nodeURL, "node", defaultNodeURL(), "node API URL (default $"+envNode+" or http://"+defaultAPIAddr+")")
	return cmd
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
)

func newTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Send and look up transactions",
	}
	cmd.AddCommand(newTxSendCmd(), newTxGetCmd(), newTxCallCmd())
	return cmd
}

func newTxSendCmd() *cobra.Command {
	var (
		nodeURL string
		timeout time.Duration
		noWait  bool
		access  bool
	)
	cmd := &cobra.Command{
		Use:   "send KEY=VALUE",
		Short: "Set a key of the key-value store and wait until it is finalized",
		Long: `Encode a key-value store "set" transaction (with a random nonce, so that
sending the same assignment twice makes two transactions), submit it to the
node, and poll until it is finalized or --timeout passes. Prints the
transaction ID, then the height, view and position of its block and whether
it executed successfully.

Exit status: 0 when finalized and executed successfully; 1 when rejected,
failed or not finalized in time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := kvstore.ParseAssignment(args[0])
			if err != nil {
				return err
			}
			c := client.New(nodeURL)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if access {
				return sendAccess(ctx, cmd.OutOrStdout(), c, tx, noWait)
			}
			id, err := c.SubmitTx(ctx, tx)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "submitted", id)
			if noWait {
				return nil
			}
			start := time.Now()
			st, err := c.WaitFinalized(ctx, id)
			if err != nil {
				return err
			}
			return client.WriteFinalized(cmd.OutOrStdout(), st, time.Since(start))
		},
	}
	f := cmd.Flags()
	nodeFlag(f, &nodeURL)
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up waiting for finalization after this long")
	f.BoolVar(&noWait, "no-wait", false, "print the ID and return once the mempool accepted the transaction")
	f.BoolVar(&access, "access", false, "the node is an access node of a pipeline network: wrap the transaction with its latest block as reference and wait until executed")
	return cmd
}

func newTxGetCmd() *cobra.Command {
	var nodeURL string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Print a transaction's status as JSON",
		Long: `Print what the node knows about a transaction (its ID is the hex SHA-256 of
its bytes, as 'floe tx send' prints): status pending, finalized or unknown,
and for a finalized one its height, view, index in the block and result.
Exit status 1 if the node does not know it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := model.ParseIdentifier(args[0]); err != nil {
				return fmt.Errorf("transaction ID must be 64 hex characters")
			}
			st, err := client.New(nodeURL).Tx(cmd.Context(), args[0])
			if err != nil && !client.IsStatus(err, http.StatusNotFound) {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if perr := enc.Encode(st); perr != nil {
				return perr
			}
			if err != nil {
				return fmt.Errorf("transaction %s is unknown to the node", args[0])
			}
			return nil
		},
	}
	nodeFlag(cmd.Flags(), &nodeURL)
	return cmd
}

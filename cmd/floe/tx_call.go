package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/transaction"
)

func newTxCallCmd() *cobra.Command {
	var (
		tf            txFlags
		acct, keyFile string
	)
	cmd := &cobra.Command{
		Use:   "call PROGRAM.FUNCTION [ARG...] --account ADDR --key FILE",
		Short: "Call a function of a deployed program in a signed transaction",
		Long: `Send a Call transaction: FUNCTION of the program deployed at the address
PROGRAM, with the arguments ARG..., proposed, paid and authorized by
--account (signing with --key, key --key-index): the function acts with
the account's authority (it may read its identity, debit it, use its
storage). An argument is

  0x + 16 hex digits   an address (8 bytes), which must be valid on the chain
  N or u64:N           the decimal N as 8 bytes, little-endian
  hex:BYTES            raw bytes (hex:0a0b, hex: for none)
  str:TEXT             TEXT's UTF-8 bytes

Prints the status, the VM's reason if the call failed, the gas used and
the events (the VM's decoded, the program's as hex). Exit status 1 if
the transaction was refused, dropped or failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args)-1 > transaction.MaxArgs {
				return fmt.Errorf("%d arguments, at most %d", len(args)-1, transaction.MaxArgs)
			}
			_, err := sendAsAccount(cmd, &tf, "--account", acct, keyFile, func(info client.ChainInfo) (transaction.Operation, error) {
				prog, fn, err := client.ParseCallTarget(args[0], info.Chain)
				if err != nil {
					return nil, err
				}
				op := transaction.Call{Program: prog, Function: fn}
				for _, a := range args[1:] {
					b, err := client.ParseCallArg(a, info.Chain)
					if err != nil {
						return nil, err
					}
					op.Args = append(op.Args, b)
				}
				return op, nil
			})
			return err
		},
	}
	f := cmd.Flags()
	tf.register(f, "the signing key")
	f.StringVar(&acct, "account", "", "address of the calling account")
	f.StringVar(&keyFile, "key", "", "key file of the account's signing key")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/transaction"
)

// The wiring the account, program and call commands share: flags, key
// files, and sending one signed transaction to an access node (the logic
// is package client's).

// txFlags are the flags of every command that sends a signed transaction.
type txFlags struct {
	node     string
	keyIndex uint32
	timeout  time.Duration
	gas      uint64
}

// defaultTxTimeout bounds a signed-transaction command: status, accounts,
// submission and the wait until executed (a pipeline network takes a few
// seconds: collection, a finalized block, execution, a finalized result).
const defaultTxTimeout = 60 * time.Second

func (f *txFlags) register(fs *pflag.FlagSet, keyWhat string) {
	nodeFlag(fs, &f.node)
	fs.Uint32Var(&f.keyIndex, "key-index", 0, "index of "+keyWhat+" in its account")
	fs.DurationVar(&f.timeout, "timeout", defaultTxTimeout, "give up after this long (the wait until executed included)")
	fs.Uint64Var(&f.gas, "gas", 0, fmt.Sprintf("gas limit (0: %d, plus %d per byte of code for a deploy)", client.DefaultGasLimit, client.DeployGasPerByte))
}

// context is the command's context bounded by --timeout.
func (f *txFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), f.timeout)
}

// loadKey reads the key file a flag names, saying which flag and what to
// do when it is missing.
func loadKey(flag, path string) (*account.PrivateKey, error) {
	if path == "" {
		return nil, fmt.Errorf("--%s is required (a key file from 'floe account keygen')", flag)
	}
	k, err := account.LoadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--%s: key file %s does not exist (make one with 'floe account keygen --out %s')", flag, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return k, nil
}

// parseAddress parses an address flag or argument on chain: a typo or
// another chain's address is refused with the reason.
func parseAddress(what, s string, chain model.ChainID) (account.Address, error) {
	if s == "" {
		return account.Address{}, fmt.Errorf("%s is required", what)
	}
	a, err := account.ParseAddress(s, chain)
	if err != nil {
		return account.Address{}, fmt.Errorf("%s: %w (a mistyped address, or one of another chain)", what, err)
	}
	return a, nil
}

// sendAsAccount sends the operation build makes (given the node's chain)
// as the account at addr (what names the flag or argument), which
// proposes, pays and authorizes it with the key in keyFile, key
// --key-index.
func sendAsAccount(cmd *cobra.Command, tf *txFlags, what, addr, keyFile string, build func(client.ChainInfo) (transaction.Operation, error)) (api.TxResponse, error) {
	signer, err := loadKey("key", keyFile)
	if err != nil {
		return api.TxResponse{}, err
	}
	ctx, cancel := tf.context(cmd)
	defer cancel()
	c := client.New(tf.node)
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return api.TxResponse{}, err
	}
	a, err := parseAddress(what, addr, info.Chain)
	if err != nil {
		return api.TxResponse{}, err
	}
	op, err := build(info)
	if err != nil {
		return api.TxResponse{}, err
	}
	w := client.Wallet{Address: a, KeyIndex: tf.keyIndex, Key: signer}
	return sendOp(ctx, cmd.OutOrStdout(), c, tf.gas, op, w, w)
}

// sendOp prepares op with the wallets (proposer and payer are payer;
// authorizers as given), sends it, prints its ID, waits until it executed
// and prints the outcome (client.WriteExecuted). It returns the executed
// status, and an error if the transaction was refused, dropped, or
// executed and failed.
func sendOp(ctx context.Context, out io.Writer, c *client.Client, gas uint64, op transaction.Operation, payer client.Wallet, authorizers ...client.Wallet) (api.TxResponse, error) {
	tx, err := c.PrepareWith(ctx, client.TxOptions{GasLimit: gas}, op, payer, payer, authorizers...)
	if err != nil {
		return api.TxResponse{}, err
	}
	id, err := c.SendTransaction(ctx, tx)
	if err != nil {
		return api.TxResponse{}, err
	}
	fmt.Fprintln(out, "submitted", id.Hex())
	st, err := c.WaitExecuted(ctx, id)
	if err != nil {
		return st, err
	}
	return st, client.WriteExecuted(out, st)
}

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/transaction"
)

func newProgramCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "program",
		Short: "Deploy WebAssembly programs into accounts",
	}
	cmd.AddCommand(newProgramDeployCmd())
	return cmd
}

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte("\x00asm")

// readCode reads a program file, refusing one too large for a transaction
// or that is not a WebAssembly binary (a .wat text file, say) before
// anything is sent.
func readCode(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	code, err := io.ReadAll(io.LimitReader(f, transaction.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(code) > transaction.MaxSize {
		return nil, fmt.Errorf("%s is larger than a transaction may be (%d bytes)", path, transaction.MaxSize)
	}
	if !bytes.HasPrefix(code, wasmMagic) {
		return nil, fmt.Errorf("%s is not a WebAssembly binary module (no \\0asm header)", path)
	}
	return code, nil
}

func newProgramDeployCmd() *cobra.Command {
	var (
		tf            txFlags
		acct, keyFile string
	)
	cmd := &cobra.Command{
		Use:   "deploy FILE.wasm --account ADDR --key FILE",
		Short: "Deploy a WebAssembly program into an account",
		Long: `Send a Deploy transaction: the account --account (signing with --key, key
--key-index) gets the program FILE.wasm, replacing any program it had.
The VM validates and compiles the module; the gas limit defaults to
100000 plus 32 per byte of code. Prints the code's SHA-256, which
'floe account show' lists once deployed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := readCode(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "code: %d bytes, sha256 %x\n", len(code), sha256.Sum256(code))
			_, err = sendAsAccount(cmd, &tf, "--account", acct, keyFile, func(client.ChainInfo) (transaction.Operation, error) {
				return transaction.Deploy{Code: code}, nil
			})
			return err
		},
	}
	f := cmd.Flags()
	tf.register(f, "the signing key")
	f.StringVar(&acct, "account", "", "address of the account to deploy into")
	f.StringVar(&keyFile, "key", "", "key file of the account's signing key")
	return cmd
}

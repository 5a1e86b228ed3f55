package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/transaction"
)

func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Account keys, accounts and native token transfers (signed transactions to an access node)",
	}
	keys := &cobra.Command{Use: "keys", Short: "Add or revoke an account's keys"}
	keys.AddCommand(newAccountKeysAddCmd(), newAccountKeysRevokeCmd())
	cmd.AddCommand(newAccountKeygenCmd(), newAccountCreateCmd(), newAccountShowCmd(), keys, newAccountTransferCmd())
	return cmd
}

// parseKeyAlgos maps the keygen flags to the account package's algorithms.
func parseKeyAlgos(algo, hash string) (account.SigAlgo, account.HashAlgo, error) {
	switch strings.ToLower(algo) {
	case "ed25519":
		if hash != "" {
			return 0, 0, fmt.Errorf("--hash is for ecdsa-p256 keys: Ed25519 signs the message itself")
		}
		return account.Ed25519, account.HashNone, nil
	case "ecdsa-p256":
		switch strings.ToLower(hash) {
		case "", "sha3-256":
			return account.ECDSA_P256, account.SHA3_256, nil
		case "sha2-256":
			return account.ECDSA_P256, account.SHA2_256, nil
		}
		return 0, 0, fmt.Errorf("--hash %q: want sha2-256 or sha3-256", hash)
	}
	return 0, 0, fmt.Errorf("--algo %q: want ed25519 or ecdsa-p256", algo)
}

func newAccountKeygenCmd() *cobra.Command {
	var out, algo, hash string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Generate an account key and write it to a key file",
		Long: `Generate an account key pair, write it to FILE (JSON, mode 0600; an
existing file is never overwritten) and print its public key. The key
file is what --key, --payer-key and --new-key of the other account
commands read. Ed25519 is the default; ECDSA P-256 signs SHA3-256 (or
SHA2-256 with --hash sha2-256) digests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			sig, h, err := parseKeyAlgos(algo, hash)
			if err != nil {
				return err
			}
			k, err := account.GenerateKey(sig, h, nil)
			if err != nil {
				return err
			}
			if err := account.SaveKeyFile(out, k); err != nil {
				return err
			}
			pub := k.PublicKey()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "public key: %x\n", pub.PublicKey)
			fmt.Fprintf(w, "algorithm:  %s/%s\n", pub.SigAlgo, pub.HashAlgo)
			fmt.Fprintf(w, "key file:   %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "key file to create")
	f.StringVar(&algo, "algo", "ed25519", "signature algorithm: ed25519 or ecdsa-p256")
	f.StringVar(&hash, "hash", "", "hash of an ecdsa-p256 key: sha2-256 or sha3-256 (default sha3-256)")
	return cmd
}

func newAccountCreateCmd() *cobra.Command {
	var (
		tf                       txFlags
		keyFile, payer, payerKey string
		weight                   uint32
	)
	cmd := &cobra.Command{
		Use:   "create --key NEWKEYFILE --payer ADDR --payer-key FILE",
		Short: "Create an account whose key is NEWKEYFILE's, paid by another account",
		Long: `Send a CreateAccount transaction with the public key of NEWKEYFILE (weight
--weight, 1000 by default: the key alone authorizes the account), proposed
and paid by --payer with its key --payer-key (key --key-index), wait until
it executed and print the new account's address (the VM assigns it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			newKey, err := loadKey("key", keyFile)
			if err != nil {
				return err
			}
			if weight > account.Threshold {
				return fmt.Errorf("--weight %d: at most %d", weight, account.Threshold)
			}
			signer, err := loadKey("payer-key", payerKey)
			if err != nil {
				return err
			}
			ctx, cancel := tf.context(cmd)
			defer cancel()
			c := client.New(tf.node)
			info, err := c.ChainInfo(ctx)
			if err != nil {
				return err
			}
			from, err := parseAddress("--payer", payer, info.Chain)
			if err != nil {
				return err
			}
			pub := newKey.PublicKey()
			pub.Weight = weight
			st, err := sendOp(ctx, cmd.OutOrStdout(), c, tf.gas, transaction.CreateAccount{Keys: []account.Key{pub}},
				client.Wallet{Address: from, KeyIndex: tf.keyIndex, Key: signer})
			if err != nil {
				return err
			}
			a, err := client.CreatedAccount(st)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "address:", a.Hex())
			return nil
		},
	}
	f := cmd.Flags()
	tf.register(f, "the payer's key")
	f.StringVar(&keyFile, "key", "", "key file of the new account's key (from 'floe account keygen')")
	f.StringVar(&payer, "payer", "", "address of the account that pays (and proposes)")
	f.StringVar(&payerKey, "payer-key", "", "key file of the payer's key")
	f.Uint32Var(&weight, "weight", account.Threshold, "weight of the new key (1000 authorizes alone)")
	return cmd
}

func newAccountShowCmd() *cobra.Command {
	var (
		tf     txFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show ADDR",
		Short: "Print an account's balance, keys and program",
		Long: `Print what the access node knows of the account at ADDR: its balance, its
keys (algorithms, weight, sequence number, revoked or not, public key) and
the hash and size of its program, as of the execution result the newest
finalized block carries. --json prints the node's answer as it is. Exit
status 1 if there is no such account.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := tf.context(cmd)
			defer cancel()
			c := client.New(tf.node)
			info, err := c.ChainInfo(ctx)
			if err != nil {
				return err
			}
			a, err := parseAddress("address", args[0], info.Chain)
			if err != nil {
				return err
			}
			resp, err := c.Account(ctx, a)
			if err != nil && !client.IsStatus(err, 404) {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(resp); err != nil {
					return err
				}
			}
			if err != nil || !resp.Exists {
				return fmt.Errorf("%w: %s", client.ErrNoAccount, a)
			}
			if asJSON {
				return nil
			}
			fmt.Fprintf(w, "address: %s\n", resp.Address)
			fmt.Fprintf(w, "balance: %d\n", resp.Balance)
			if resp.CodeHash != "" {
				fmt.Fprintf(w, "program: %s (%d bytes)\n", resp.CodeHash, resp.CodeSize)
			} else {
				fmt.Fprintln(w, "program: none")
			}
			sealed := "not sealed"
			if resp.Sealed {
				sealed = "sealed"
			}
			fmt.Fprintf(w, "state:   executed height %d, in finalized block %d, root %s (%s)\n", resp.Height, resp.BlockHeight, resp.Root, sealed)
			fmt.Fprintf(w, "keys:    %d\n", len(resp.Keys))
			for _, k := range resp.Keys {
				state := ""
				if k.Revoked {
					state = " REVOKED"
				}
				fmt.Fprintf(w, "  %d: %s/%s weight %d seq %d%s %s\n", k.Index, k.SigAlgo, k.HashAlgo, k.Weight, k.SeqNum, state, k.PublicKey)
			}
			return nil
		},
	}
	nodeFlag(cmd.Flags(), &tf.node)
	cmd.Flags().DurationVar(&tf.timeout, "timeout", defaultTxTimeout, "give up after this long")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	return cmd
}

func newAccountKeysAddCmd() *cobra.Command {
	var (
		tf              txFlags
		keyFile, newKey string
		weight          uint32
	)
	cmd := &cobra.Command{
		Use:   "add ADDR --key FILE --new-key FILE",
		Short: "Add NEWKEYFILE's public key to the account at ADDR",
		Long: `Send an AddKey transaction: the account at ADDR (signing with --key, key
--key-index, which must weigh 1000) adds the public key of the key file
--new-key with --weight. The new key's index is printed in the
account.key_added event.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if weight > account.Threshold {
				return fmt.Errorf("--weight %d: at most %d", weight, account.Threshold)
			}
			added, err := loadKey("new-key", newKey)
			if err != nil {
				return err
			}
			pub := added.PublicKey()
			pub.Weight = weight
			_, err = sendAsAccount(cmd, &tf, "address", args[0], keyFile, func(client.ChainInfo) (transaction.Operation, error) {
				return transaction.AddKey{Key: pub}, nil
			})
			return err
		},
	}
	f := cmd.Flags()
	tf.register(f, "the signing key")
	f.StringVar(&keyFile, "key", "", "key file of the account's signing key")
	f.StringVar(&newKey, "new-key", "", "key file of the key to add (from 'floe account keygen')")
	f.Uint32Var(&weight, "weight", account.Threshold, "weight of the new key (1000 authorizes alone)")
	return cmd
}

func newAccountKeysRevokeCmd() *cobra.Command {
	var (
		tf      txFlags
		keyFile string
	)
	cmd := &cobra.Command{
		Use:   "revoke ADDR INDEX --key FILE",
		Short: "Revoke key INDEX of the account at ADDR",
		Long: `Send a RevokeKey transaction: the account at ADDR (signing with --key, key
--key-index) revokes its key INDEX, which can never sign again (its index
stays taken). Revoking the signing key itself is allowed.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := strconv.ParseUint(args[1], 10, 32)
			if err != nil {
				return fmt.Errorf("key index %q: want a number", args[1])
			}
			_, err = sendAsAccount(cmd, &tf, "address", args[0], keyFile, func(client.ChainInfo) (transaction.Operation, error) {
				return transaction.RevokeKey{Index: uint32(i)}, nil
			})
			return err
		},
	}
	f := cmd.Flags()
	tf.register(f, "the signing key")
	f.StringVar(&keyFile, "key", "", "key file of the account's signing key")
	return cmd
}

func newAccountTransferCmd() *cobra.Command {
	var (
		tf            txFlags
		from, keyFile string
	)
	cmd := &cobra.Command{
		Use:   "transfer --from ADDR --key FILE TO AMOUNT",
		Short: "Transfer AMOUNT of the native token from --from to TO",
		Long: `Send a Transfer transaction: --from (signing with --key, key --key-index)
pays AMOUNT native token units to the account TO, and the fee for the gas
used.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := client.ParseAmount(args[1])
			if err != nil {
				return fmt.Errorf("amount: %w", err)
			}
			if amount == 0 {
				return fmt.Errorf("amount: a transfer of 0 is refused")
			}
			_, err = sendAsAccount(cmd, &tf, "--from", from, keyFile, func(info client.ChainInfo) (transaction.Operation, error) {
				to, err := parseAddress("recipient", args[0], info.Chain)
				return transaction.Transfer{To: to, Amount: amount}, err
			})
			return err
		},
	}
	f := cmd.Flags()
	tf.register(f, "the signing key")
	f.StringVar(&from, "from", "", "address of the paying account")
	f.StringVar(&keyFile, "key", "", "key file of --from's signing key")
	return cmd
}

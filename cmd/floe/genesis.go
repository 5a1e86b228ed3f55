package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/genesis"
)

func newGenesisCmd() *cobra.Command {
	var (
		chainID, out, seed, when string
		force                    bool
		epochs                   epochFlags
	)
	params := genesis.DefaultParams()
	params.IdleBlockIntervalMS = genesis.DefaultIdleBlockIntervalMS
	cmd := &cobra.Command{
		Use:   "genesis --chain-id ID --out FILE VALIDATOR_JSON...",
		Short: "Assemble a genesis file from the members' validator.json files",
		Long: `Assemble a genesis file from validator entries (the validator.json that
'floe init' writes, or the "validator" object 'floe keys' prints), one file
per member. Everything is validated before anything is written: every
staking key and its proof of possession, network keys, addresses, weights,
duplicates and the consensus parameters.

Copy the result to DIR/config/genesis.json on every node.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if chainID == "" || out == "" {
				return fmt.Errorf("--chain-id and --out are required")
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			var vals []genesis.Validator
			for _, path := range args {
				v, err := readValidator(path)
				if err != nil {
					return err
				}
				vals = append(vals, v)
			}
			g, err := buildGenesis(chainID, vals, params, seed, when)
			if err != nil {
				return err
			}
			if err := epochs.apply(g); err != nil {
				return err
			}
			if err := g.Save(out); err != nil {
				return err
			}
			var total uint64
			for _, v := range g.Validators {
				total += v.Weight
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: chain %q, %d validators, total weight %d\n",
				out, g.ChainID, len(g.Validators), total)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&chainID, "chain-id", "", "chain identifier (required)")
	f.StringVar(&out, "out", "", "genesis file to write (required)")
	f.StringVar(&seed, "leader-seed", "", "32-byte hex leader-selection seed (default: random)")
	f.StringVar(&when, "genesis-time", "", "genesis time, RFC 3339 (default: now)")
	f.BoolVar(&force, "force", false, "overwrite FILE if it exists")
	f.Int64Var(&params.TimeoutMinMS, "timeout-min-ms", params.TimeoutMinMS, "minimum view timeout")
	f.Int64Var(&params.TimeoutMaxMS, "timeout-max-ms", params.TimeoutMaxMS, "maximum view timeout")
	f.Int64Var(&params.BlockIntervalMS, "block-interval-ms", params.BlockIntervalMS, "minimum time between a leader's blocks")
	f.Int64Var(&params.IdleBlockIntervalMS, "idle-block-interval-ms", params.IdleBlockIntervalMS, "how long a leader with nothing to order waits before proposing (0: no idle pacing)")
	f.IntVar(&params.MaxBlockBytes, "max-block-bytes", params.MaxBlockBytes, "largest block payload")
	f.IntVar(&params.MaxBlockTxs, "max-block-txs", params.MaxBlockTxs, "most transactions per block")
	f.StringArrayVar(&epochs.governance, "governance-key", nil, "hex ed25519 public key allowed to sign epoch changes (repeatable; see 'floe governance keygen')")
	f.Uint64Var(&epochs.views, "epoch-views", 0, "enable epochs of this many views; the next epoch must be committed a quarter of an epoch before the end (0: one epoch forever)")
	f.StringVar(&epochs.profile, "epoch-profile", "", "epoch rules: 'production' (604800 views, settled 3600 before the end) or 'test' (needs --epoch-views)")
	return cmd
}

// epochFlags are genesis's epoch options.
type epochFlags struct {
	governance []string
	views      uint64
	profile    string
}

// apply sets the epoch rules and governance keys and validates them (the
// safety rule of epoch.Params.Validate).
func (e epochFlags) apply(g *genesis.Genesis) error {
	switch e.profile {
	case "production":
		if e.views != 0 {
			return fmt.Errorf("--epoch-profile production fixes the epoch length; drop --epoch-views")
		}
		g.Params.ProductionEpochs()
	case "test":
		if e.views == 0 {
			return fmt.Errorf("--epoch-profile test needs --epoch-views")
		}
		g.Params.TestEpochs(e.views)
	case "":
		if e.views != 0 {
			g.Params.TestEpochs(e.views)
		}
	default:
		return fmt.Errorf("--epoch-profile must be 'production' or 'test', not %q", e.profile)
	}
	switch {
	case g.Params.EpochViews > 0 && len(e.governance) == 0:
		return fmt.Errorf("epochs need at least one --governance-key to schedule the next committee")
	case g.Params.EpochViews == 0 && len(e.governance) > 0:
		return fmt.Errorf("--governance-key needs epochs (--epoch-views or --epoch-profile)")
	}
	seen := map[string]bool{}
	for _, k := range e.governance {
		k = strings.ToLower(strings.TrimSpace(k))
		if b, err := hex.DecodeString(k); err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("--governance-key %q must be %d bytes of hex (the key 'floe governance keygen' prints)", k, ed25519.PublicKeySize)
		}
		if seen[k] {
			return fmt.Errorf("--governance-key %s appears twice", k)
		}
		seen[k] = true
		g.Governance = append(g.Governance, k)
	}
	if _, err := g.EpochParams(); err != nil {
		return fmt.Errorf("invalid epoch rules: %w", err)
	}
	return nil
}

// readValidator reads one member's entry. It accepts a bare validator
// object or the output of 'floe keys' ({"node_id":..., "validator":{...}}),
// and rejects unknown fields so that a wrong file is not half-read.
func readValidator(path string) (genesis.Validator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return genesis.Validator{}, err
	}
	var wrapped struct {
		NodeID    string             `json:"node_id"`
		Validator *genesis.Validator `json:"validator"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wrapped); err == nil && wrapped.Validator != nil {
		return *wrapped.Validator, nil
	}
	var v genesis.Validator
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return genesis.Validator{}, fmt.Errorf("%s: not a validator entry: %w", path, err)
	}
	return v, nil
}

// checkUniqueValidators checks that there are validators and that their
// names, addresses and staking keys are unique: duplicate names or addresses
// would not break consensus but make logs ambiguous and peers dial the
// wrong node.
func checkUniqueValidators(vals []genesis.Validator) error {
	if len(vals) == 0 {
		return fmt.Errorf("no validators")
	}
	names := map[string]bool{}
	addrs := map[string]bool{}
	keys := map[string]bool{}
	for i, v := range vals {
		switch {
		case v.Name == "":
			return fmt.Errorf("validator %d has no name", i)
		case names[v.Name]:
			return fmt.Errorf("validator name %q appears twice", v.Name)
		case addrs[v.Address]:
			return fmt.Errorf("validator %q: address %s is already used by another validator", v.Name, v.Address)
		case keys[v.StakingKey]:
			return fmt.Errorf("validator %q: staking key is already used by another validator", v.Name)
		}
		names[v.Name], addrs[v.Address], keys[v.StakingKey] = true, true, true
	}
	return nil
}

// buildGenesis assembles and fully validates a genesis (see
// checkUniqueValidators).
func buildGenesis(chainID string, vals []genesis.Validator, params genesis.Params, seed, when string) (*genesis.Genesis, error) {
	if err := checkUniqueValidators(vals); err != nil {
		return nil, err
	}
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: chainID, Params: params, Validators: vals}
	if when == "" {
		g.GenesisTime = time.Now().UTC().Truncate(time.Millisecond)
	} else {
		t, err := time.Parse(time.RFC3339, when)
		if err != nil {
			return nil, fmt.Errorf("--genesis-time: %w", err)
		}
		g.GenesisTime = t.UTC()
	}
	if seed == "" {
		s := make([]byte, 32)
		if _, err := rand.Read(s); err != nil {
			return nil, err
		}
		seed = hex.EncodeToString(s)
	}
	g.LeaderSeed = seed
	if _, _, err := g.Committee(); err != nil {
		return nil, fmt.Errorf("invalid genesis: %w", err)
	}
	return g, nil
}

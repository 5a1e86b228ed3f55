package genesis

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Assembling a genesis from the members' entries ('floe genesis'), and the
// identity table of a later committee ('floe governance setup').

// ReadValidator reads one member's entry. It accepts a bare validator
// object or the output of 'floe keys' ({"node_id":..., "validator":{...}}),
// and rejects unknown fields so that a wrong file is not half-read.
func ReadValidator(path string) (Validator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Validator{}, err
	}
	var wrapped struct {
		NodeID    string     `json:"node_id"`
		Validator *Validator `json:"validator"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wrapped); err == nil && wrapped.Validator != nil {
		return *wrapped.Validator, nil
	}
	var v Validator
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return Validator{}, fmt.Errorf("%s: not a validator entry: %w", path, err)
	}
	return v, nil
}

// CheckUnique checks that there are validators and that their
// names, addresses and staking keys are unique: duplicate names or addresses
// would not break consensus but make logs ambiguous and peers dial the
// wrong node.
func CheckUnique(vals []Validator) error {
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

// Build assembles and fully validates a genesis of the current protocol
// version (see CheckUnique): seed is its hex leader seed (empty: random),
// when its RFC 3339 time (empty: now); params.Clusters 0 becomes the
// default cluster count. Errors name 'floe genesis' flags.
func Build(chainID string, vals []Validator, params Params, seed, when string) (*Genesis, error) {
	if err := CheckUnique(vals); err != nil {
		return nil, err
	}
	g := &Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: chainID, Params: params, Validators: vals}
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
	if ids, _, err := g.Identities(); err == nil && g.Params.Clusters == 0 {
		// Written out, so that the file says how its collectors are
		// clustered instead of leaving it to a default.
		g.Params.Clusters = epoch.DefaultClusters(ids)
	}
	if _, _, err := g.Committee(); err != nil {
		return nil, fmt.Errorf("invalid genesis: %w", err)
	}
	return g, nil
}

// IdentitiesOf turns validator entries into an identity table (in order),
// checked as a genesis checks its own. The leader seed only satisfies
// Identities; it is not used.
func IdentitiesOf(vals []Validator) ([]epoch.Identity, error) {
	g := Genesis{ProtocolVersion: model.ProtocolVersion, LeaderSeed: strings.Repeat("00", 32), Validators: vals}
	ids, _, err := g.Identities()
	return ids, err
}

package genesis

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// NodeKeys are a node's secrets: the BLS staking key it signs consensus
// messages with, and the ed25519 network key its connections are
// authenticated with. They are kept apart so the network key can be
// rotated without touching consensus identity.
type NodeKeys struct {
	Staking crypto.PrivateKey
	Network ed25519.PrivateKey
}

// GenerateKeys makes fresh keys from the operating system's randomness.
func GenerateKeys() (*NodeKeys, error) {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return KeysFromSeed(seed)
}

// KeysFromSeed derives both keys from a 32-byte seed (tests, testnets).
func KeysFromSeed(seed []byte) (*NodeKeys, error) {
	stakingSeed := crypto.Sum([]byte("floe-staking"), seed)
	staking, err := crypto.BLS().KeyFromSeed(stakingSeed[:])
	if err != nil {
		return nil, err
	}
	netSeed := crypto.Sum([]byte("floe-network"), seed)
	return &NodeKeys{Staking: staking, Network: ed25519.NewKeyFromSeed(netSeed[:])}, nil
}

// NodeID is the identity the keys give a node: the hash of its staking key.
func (k *NodeKeys) NodeID() model.NodeID { return crypto.Sum(k.Staking.PublicKey().Bytes()) }

// DefaultName names a node after its ID, which is unique per key: what
// 'floe init' and 'floe keys' call a validator not given a name.
func (k *NodeKeys) DefaultName() string { return "node-" + k.NodeID().String() }

// Validator describes these keys for a genesis file (weight and address
// filled in by the caller).
func (k *NodeKeys) Validator(name, address string, weight uint64) (Validator, error) {
	pop, err := k.Staking.ProvePossession()
	if err != nil {
		return Validator{}, err
	}
	return Validator{
		Name:       name,
		Weight:     weight,
		StakingKey: hex.EncodeToString(k.Staking.PublicKey().Bytes()),
		Possession: hex.EncodeToString(pop),
		NetworkKey: hex.EncodeToString(k.Network.Public().(ed25519.PublicKey)),
		Address:    address,
	}, nil
}

type keysFile struct {
	NodeID  string `json:"node_id"`
	Staking string `json:"staking_private_key"`
	Network string `json:"network_private_key_seed"`
}

// Save writes the keys to path, readable by the owner only.
func (k *NodeKeys) Save(path string) error {
	b, err := json.MarshalIndent(keysFile{
		NodeID:  k.NodeID().Hex(),
		Staking: hex.EncodeToString(k.Staking.Bytes()),
		Network: hex.EncodeToString(k.Network.Seed()),
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// LoadKeys reads keys written by Save.
func LoadKeys(path string) (*NodeKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f keysFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	sk, err := hex.DecodeString(f.Staking)
	if err != nil {
		return nil, fmt.Errorf("keys file %s: staking key: %w", path, err)
	}
	staking, err := crypto.BLS().DecodePrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("keys file %s: staking key: %w", path, err)
	}
	ns, err := hex.DecodeString(f.Network)
	if err != nil || len(ns) != ed25519.SeedSize {
		return nil, fmt.Errorf("keys file %s: network key seed must be %d hex bytes", path, ed25519.SeedSize)
	}
	k := &NodeKeys{Staking: staking, Network: ed25519.NewKeyFromSeed(ns)}
	if f.NodeID != "" && f.NodeID != k.NodeID().Hex() {
		return nil, fmt.Errorf("keys file %s: node_id does not match the staking key", path)
	}
	return k, nil
}

package genesis

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/account"
)

// Accounts makes a pipeline network a platform of accounts: execution
// nodes run signed transactions on the accounts VM (package fvm), and
// the genesis state holds these accounts. Without it they run the
// key/value application (a benchmark application: unsigned writes).
type Accounts struct {
	// GasPrice is what one gas unit costs in native token units (0: the
	// VM's default).
	GasPrice uint64 `json:"gas_price,omitempty"`
	// Service is the service account (index 1).
	Service AccountSpec `json:"service"`
	// Accounts are created at genesis in order, indexes 2, 3, ...
	Accounts []AccountSpec `json:"accounts,omitempty"`
}

// AccountSpec is a genesis account: its keys and native token balance.
type AccountSpec struct {
	Keys    []KeySpec `json:"keys"`
	Balance uint64    `json:"balance"`
}

// KeySpec is an account key in the genesis file.
type KeySpec struct {
	PublicKey string `json:"public_key"` // hex
	SigAlgo   string `json:"sig_algo"`   // account.SigAlgo.String
	HashAlgo  string `json:"hash_algo"`  // account.HashAlgo.String
	Weight    uint32 `json:"weight"`
}

// MaxGenesisAccounts bounds the accounts a genesis file creates.
const MaxGenesisAccounts = 100_000

// ErrAccounts marks an invalid accounts section.
var ErrAccounts = errors.New("genesis: invalid accounts")

// KeySpecOf is the genesis form of key k (weight included).
func KeySpecOf(k account.Key) KeySpec {
	return KeySpec{PublicKey: hex.EncodeToString(k.PublicKey), SigAlgo: k.SigAlgo.String(), HashAlgo: k.HashAlgo.String(), Weight: k.Weight}
}

// Key decodes and validates the key.
func (s KeySpec) Key() (account.Key, error) {
	pub, err := hex.DecodeString(s.PublicKey)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: public key is not hex", ErrAccounts)
	}
	sa, err := account.ParseSigAlgo(s.SigAlgo)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: %v", ErrAccounts, err)
	}
	ha, err := account.ParseHashAlgo(s.HashAlgo)
	if err != nil {
		return account.Key{}, fmt.Errorf("%w: %v", ErrAccounts, err)
	}
	k := account.Key{PublicKey: pub, SigAlgo: sa, HashAlgo: ha, Weight: s.Weight}
	if err := k.Validate(); err != nil {
		return account.Key{}, fmt.Errorf("%w: %v", ErrAccounts, err)
	}
	return k, nil
}

// DecodedKeys decodes the account's keys.
func (s AccountSpec) DecodedKeys() ([]account.Key, error) {
	if len(s.Keys) == 0 {
		return nil, fmt.Errorf("%w: an account without keys", ErrAccounts)
	}
	keys := make([]account.Key, len(s.Keys))
	for i, ks := range s.Keys {
		k, err := ks.Key()
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys[i] = k
	}
	return keys, nil
}

// Check validates the section: every key decodes, within the bounds.
func (a *Accounts) Check() error {
	if len(a.Accounts) > MaxGenesisAccounts {
		return fmt.Errorf("%w: %d accounts, at most %d", ErrAccounts, len(a.Accounts), MaxGenesisAccounts)
	}
	if _, err := a.Service.DecodedKeys(); err != nil {
		return fmt.Errorf("service account: %w", err)
	}
	for i, s := range a.Accounts {
		if _, err := s.DecodedKeys(); err != nil {
			return fmt.Errorf("account %d: %w", i, err)
		}
	}
	return nil
}

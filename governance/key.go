// Package governance is the operator's side of an epoch change: a holder of
// a governance key named in genesis proposes the next epoch's committee
// (Session.Setup, an EpochSetup event), waits until a finalized block
// carries it, then confirms it (Session.Commit, an EpochCommit). Both
// events are signed here, offline-style, and posted to any participant's
// API, which gossips them to the committee. 'floe governance' is flags over
// this package; its error messages name that command's flags. See
// docs/cli.md and docs/epochs.md.
package governance

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// NewKey draws a fresh governance key.
func NewKey() (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	return key, err
}

// SaveKey writes the key's seed in hex, readable by the owner only (also
// when an existing file is overwritten: the key can change the committee).
func SaveKey(path string, key ed25519.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(key.Seed())); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadKey reads a key written by SaveKey.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not a governance key file (want %d bytes of hex, as 'floe governance keygen' writes)", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// PublicKeyHex is the public governance key as the genesis file lists it.
func PublicKeyHex(k ed25519.PrivateKey) string {
	return hex.EncodeToString(k.Public().(ed25519.PublicKey))
}

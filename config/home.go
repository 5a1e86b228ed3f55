package config

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/floe-bft/floe/genesis"
)

// InitOptions say what Init writes into a home directory.
type InitOptions struct {
	// Name is the validator's name; empty: the keys' DefaultName.
	Name string
	// P2P is the address peers dial (it goes into the genesis entry).
	P2P string
	// API and Debug are the listen addresses floe.toml gets (empty
	// disables that listener).
	API, Debug string
	// APIURL is the base URL other roles reach this node's API at (the
	// genesis entry's "api"); empty: http://API when API names a host
	// other than an unspecified address, else none.
	APIURL string
	// LogLevel is floe.toml's log level (empty: info).
	LogLevel string
	// Weight is the voting weight in the genesis entry.
	Weight uint64
	// Role is the member's role in the genesis entry ("consensus",
	// "collection", "execution" or "access"; empty: consensus).
	Role string
	// Force overwrites existing keys and configuration.
	Force bool
	// Keys are the node's keys; nil: fresh ones. Testnets pass
	// deterministic keys.
	Keys *genesis.NodeKeys
}

// Init creates a node's home directory (keys, floe.toml, validator.json
// and the data directory) and returns its public validator entry. Existing
// keys are never overwritten without o.Force: they are the node's identity.
func Init(home string, o InitOptions) (genesis.Validator, error) {
	cfgDir := filepath.Join(home, Dir)
	keysPath := filepath.Join(cfgDir, KeysFile)
	if err := CheckNoClobber(keysPath, o.Force); err != nil {
		return genesis.Validator{}, err
	}
	if o.P2P == "" {
		return genesis.Validator{}, fmt.Errorf("--p2p must not be empty: peers need an address to dial")
	}
	role, err := genesis.Validator{Role: o.Role}.ParsedRole()
	if err != nil {
		return genesis.Validator{}, fmt.Errorf("--role: %w", err)
	}
	// Owner-only: the config directory holds the secret keys.
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return genesis.Validator{}, err
	}
	if err := os.MkdirAll(filepath.Join(home, DataDir), 0o700); err != nil {
		return genesis.Validator{}, err
	}
	keys := o.Keys
	if keys == nil {
		if keys, err = genesis.GenerateKeys(); err != nil {
			return genesis.Validator{}, err
		}
	}
	name := o.Name
	if name == "" {
		name = keys.DefaultName()
	}
	v, err := keys.Validator(name, o.P2P, o.Weight)
	if err != nil {
		return genesis.Validator{}, err
	}
	v.Role = role.String()
	v.API = o.APIURL
	if v.API == "" {
		v.API = advertisedAPI(o.API)
	}
	if err := keys.Save(keysPath); err != nil {
		return genesis.Validator{}, err
	}
	// Save keeps the mode of an existing file; make sure a forced
	// rewrite does not leave old, looser permissions behind.
	if err := os.Chmod(keysPath, 0o600); err != nil {
		return genesis.Validator{}, err
	}
	if err := writeConfig(filepath.Join(cfgDir, File), role.String(), "", o.API, o.Debug, o.LogLevel); err != nil {
		return genesis.Validator{}, err
	}
	if err := WriteJSON(filepath.Join(cfgDir, ValidatorFile), v); err != nil {
		return genesis.Validator{}, err
	}
	return v, nil
}

// advertisedAPI is the URL of an API listening on addr when addr names
// a host others can dial ("" for none or an unspecified address such as
// 0.0.0.0:8080).
func advertisedAPI(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return "http://" + addr
}

// InitFollower writes a follower's home: floe.toml only, with the API
// address and log level (a follower has no keys and no peer-to-peer
// listener).
func InitFollower(home, api, logLevel string) error {
	cfgDir := filepath.Join(home, Dir)
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return err
	}
	return WriteDefault(filepath.Join(cfgDir, File), "", api, "", logLevel)
}

// WriteJSON writes v as indented JSON with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ExistsError is CheckNoClobber's refusal.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s exists; refusing to overwrite it (use --force)", e.Path)
}

// CheckNoClobber refuses, with an *ExistsError, to overwrite a file unless
// forced: losing a key file loses a validator's identity.
func CheckNoClobber(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return &ExistsError{Path: path}
	} else if !os.IsNotExist(err) {
		return err
	}
	return nil
}

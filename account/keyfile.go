package account

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// keyFile is the JSON form of a private key on disk.
type keyFile struct {
	SigAlgo    string `json:"sig_algo"`
	HashAlgo   string `json:"hash_algo"`
	PrivateKey string `json:"private_key"`
	// PublicKey is for people (and a consistency check on load).
	PublicKey string `json:"public_key,omitempty"`
}

// maxKeyFileSize bounds what LoadKeyFile reads; a key file is ~300 bytes.
const maxKeyFileSize = 4096

// SaveKeyFile writes k to a new file at path, readable by its owner only
// (0600). It refuses to overwrite an existing file: a lost private key
// cannot be recovered.
func SaveKeyFile(path string, k *PrivateKey) error {
	b, err := json.MarshalIndent(keyFile{
		SigAlgo:    k.sigAlgo.String(),
		HashAlgo:   k.hashAlgo.String(),
		PrivateKey: hex.EncodeToString(k.Bytes()),
		PublicKey:  hex.EncodeToString(k.pub),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("%w: write %s: %w", ErrKeyFile, path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%w: sync %s: %w", ErrKeyFile, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: close %s: %w", ErrKeyFile, path, err)
	}
	return nil
}

// LoadKeyFile reads a key written by SaveKeyFile. A missing file's error
// also wraps fs.ErrNotExist. Like ssh, it refuses a
// file that others can read or write: the key may already be leaked.
func LoadKeyFile(path string) (*PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has permissions %v; want 0600 (chmod 600 %s)", ErrKeyFile, path, perm, path)
	}
	if st.Size() > maxKeyFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, above %d", ErrKeyFile, path, st.Size(), maxKeyFileSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	var kf keyFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, path, err)
	}
	algo, err := ParseSigAlgo(kf.SigAlgo)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	hash, err := ParseHashAlgo(kf.HashAlgo)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	raw, err := hex.DecodeString(kf.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: private_key: %v", ErrKeyFile, path, err)
	}
	k, err := NewPrivateKey(algo, hash, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	if kf.PublicKey != "" && kf.PublicKey != hex.EncodeToString(k.pub) {
		return nil, fmt.Errorf("%w: %s: public_key does not match private_key", ErrKeyFile, path)
	}
	return k, nil
}

package kvstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// StateFormat names the state file's format. It is versioned apart from
// the protocol on purpose: the file is how a network moves to a new
// protocol version (docs/upgrades.md), so the next version's build must
// read what this one exports.
const StateFormat = "floe-kvstore-state/1"

// MaxStateFileBytes bounds a state file read whole into memory.
const MaxStateFileBytes = 1 << 30

// ErrBadState marks a state file that is malformed, of another format, or
// whose entries do not hash to the root it names.
var ErrBadState = errors.New("bad state file")

// StateFile is the application state of a network at one executed height:
// what `floe export` writes and a genesis file carries as its initial
// state (`floe genesis --app-state`).
type StateFile struct {
	Format  string `json:"format"`
	ChainID string `json:"chain_id"` // the network it was exported from
	Height  uint64 `json:"height"`   // its executed height at export
	Root    string `json:"root"`     // hex state root of Entries
	// Entries are hex key/value pairs in ascending key order, each key
	// once.
	Entries []StateEntry `json:"entries"`
}

// StateEntry is one key and its value, hex.
type StateEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// NewStateFile collects the state iterate yields (keys in ascending order,
// as storage.AppStore.Iterate yields them) and checks that it hashes to
// root, the state root recorded for height.
func NewStateFile(chainID string, height uint64, root [32]byte, iterate func(yield func(key, value []byte) error) error) (*StateFile, error) {
	f := &StateFile{Format: StateFormat, ChainID: chainID, Height: height, Root: hex.EncodeToString(root[:]), Entries: []StateEntry{}}
	err := iterate(func(k, v []byte) error {
		f.Entries = append(f.Entries, StateEntry{Key: hex.EncodeToString(k), Value: hex.EncodeToString(v)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("the stored state does not match its recorded root: %w", err)
	}
	return f, nil
}

// ReadStateFile reads and checks a state file (Check).
func ReadStateFile(path string) (*StateFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close() // read only: a close error loses nothing
	// The size first, so an oversized file is refused before it is read;
	// the limited read still bounds what is not a regular file.
	if fi, err := fh.Stat(); err != nil {
		return nil, err
	} else if fi.Mode().IsRegular() && fi.Size() > MaxStateFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadState, path, MaxStateFileBytes)
	}
	raw, err := io.ReadAll(io.LimitReader(fh, MaxStateFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxStateFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadState, path, MaxStateFileBytes)
	}
	var f StateFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, path, err)
	}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Write writes the file as JSON.
func (f *StateFile) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(f)
}

// WriteFile writes the file as JSON to path, whole or not at all: it
// goes to a temporary file in the same directory, synced, then renamed,
// so a failed or interrupted export never leaves a truncated state file
// behind for an operator to build a genesis from.
func (f *StateFile) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // already failed; the first error is the one to report
			_ = os.Remove(tmp.Name()) // best effort: the error above says what went wrong
		}
	}()
	// CreateTemp makes it 0600; the state is the chain's public data, read
	// as the genesis it goes into is.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// RootHash is the root the file names (checked by Check).
func (f *StateFile) RootHash() ([32]byte, error) {
	var root [32]byte
	b, err := hex.DecodeString(f.Root)
	if err != nil || len(b) != len(root) {
		return root, fmt.Errorf("%w: root %q is not 32 hex bytes", ErrBadState, f.Root)
	}
	copy(root[:], b)
	return root, nil
}

// Check verifies the format, every entry (hex, within the store's limits,
// keys strictly ascending) and that the entries hash to Root: a file
// edited or cut short is refused whole.
func (f *StateFile) Check() error {
	if f.Format != StateFormat {
		return fmt.Errorf("%w: format %q, this build reads %q", ErrBadState, f.Format, StateFormat)
	}
	want, err := f.RootHash()
	if err != nil {
		return err
	}
	s, err := New(f.Iterate)
	if err != nil {
		return err
	}
	if got := s.Root(); got != want {
		return fmt.Errorf("%w: its %d entries hash to root %x, the file names %x", ErrBadState, len(f.Entries), got, want)
	}
	return nil
}

// Iterate yields the entries in order, decoded, checking each.
func (f *StateFile) Iterate(yield func(key, value []byte) error) error {
	var prev []byte
	for i, e := range f.Entries {
		k, kerr := hex.DecodeString(e.Key)
		v, verr := hex.DecodeString(e.Value)
		switch {
		case kerr != nil || verr != nil:
			return fmt.Errorf("%w: entry %d is not hex", ErrBadState, i)
		case len(k) == 0 || len(k) > MaxKeySize || len(v) == 0 || len(v) > MaxValueSize:
			return fmt.Errorf("%w: entry %d has a %d-byte key and a %d-byte value", ErrBadState, i, len(k), len(v))
		case prev != nil && bytes.Compare(prev, k) >= 0:
			return fmt.Errorf("%w: entry %d is out of order or repeats a key", ErrBadState, i)
		}
		if err := yield(k, v); err != nil {
			return err
		}
		prev = k
	}
	return nil
}

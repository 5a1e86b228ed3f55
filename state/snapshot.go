package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floe-bft/floe/app/merkle"
)

// Errors of state sync.
var (
	// ErrInvalidSnapshot: a snapshot chunk that does not decode, or whose
	// registers are out of path order, duplicated, or deletes.
	ErrInvalidSnapshot = errors.New("invalid state snapshot")
	// ErrSnapshotRoot: the imported registers do not hash to the expected
	// root; nothing of them is kept.
	ErrSnapshotRoot = errors.New("state snapshot does not match the expected root")
	// ErrNotEmpty: an import into a store that already has versions.
	ErrNotEmpty = errors.New("state store not empty")
)

// MaxSnapshotChunkSize bounds an encoded snapshot chunk (a chunk holds at
// least one register, and a register at most MaxValueSize).
const MaxSnapshotChunkSize = 16 << 20

// SnapshotChunks streams every register of version, in path order, to fn
// in chunks of about maxBytes (encoded; at least one register each). It
// reads a consistent view of the database taken at the start, so commits
// and pruning may run meanwhile, and holds one chunk in memory at a time.
func (s *Store) SnapshotChunks(version uint64, maxBytes int, fn func(chunk []Write) error) error {
	s.mu.RLock()
	if _, err := s.rootOf(version); err != nil {
		s.mu.RUnlock()
		return err
	}
	// The iterator reads the database as of now: what a later Prune
	// deletes stays visible to it.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixValue}, UpperBound: []byte{prefixValue + 1}})
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	defer it.Close()
	var chunk []Write
	size := 4
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) != 41 {
			return corrupt("value key", fmt.Errorf("%d bytes", len(k)))
		}
		var path merkle.Hash
		copy(path[:], k[1:33])
		if it.SeekGE(valueKey(&path, version)) && bytes.Equal(it.Key()[1:33], path[:]) {
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("state: snapshot: %w", err)
			}
			id, value, err := decodeRecord(v)
			if err != nil {
				return corrupt("value record", err)
			}
			if value != nil {
				chunk = append(chunk, Write{ID: id, Value: value})
				size += chunkEntrySize(id, value)
			}
		}
		if size >= maxBytes && len(chunk) > 0 {
			if err := fn(chunk); err != nil {
				return err
			}
			chunk, size = nil, 4
		}
		// The next path: no record has version 0, whose inverse is all ones.
		ok = it.SeekGE(valueKey(&path, 0))
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: snapshot: %w", err)
	}
	if len(chunk) > 0 {
		return fn(chunk)
	}
	return nil
}

func chunkEntrySize(id RegisterID, value []byte) int {
	return 2 + len(id.Encode()) + 4 + len(value)
}

// EncodeSnapshotChunk is a chunk's wire form: u32 count, then for each
// register u16 length, RegisterID.Encode(), u32 length, value.
func EncodeSnapshotChunk(chunk []Write) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(chunk)))
	for _, w := range chunk {
		enc := w.ID.Encode()
		out = binary.BigEndian.AppendUint16(out, uint16(len(enc)))
		out = append(out, enc...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(w.Value)))
		out = append(out, w.Value...)
	}
	return out
}

// DecodeSnapshotChunk decodes EncodeSnapshotChunk's output (at most
// MaxSnapshotChunkSize bytes); errors wrap ErrInvalidSnapshot. Order is
// checked by the importer.
func DecodeSnapshotChunk(b []byte) ([]Write, error) {
	if len(b) > MaxSnapshotChunkSize {
		return nil, fmt.Errorf("%w: chunk of %d bytes, at most %d", ErrInvalidSnapshot, len(b), MaxSnapshotChunkSize)
	}
	d := &pdecoder{b: b}
	n := d.u32()
	if d.err == nil && uint64(n)*10 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d registers in %d bytes", ErrInvalidSnapshot, n, len(b))
	}
	out := make([]Write, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		idBytes := d.bytes(int(d.u16()))
		value := d.bytes(int(d.u32()))
		if d.err != nil {
			break
		}
		id, err := DecodeRegisterID(idBytes)
		if err == nil && len(value) == 0 {
			err = fmt.Errorf("empty value")
		}
		if err == nil {
			err = CheckValue(value)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: register %d: %v", ErrInvalidSnapshot, i, err)
		}
		out = append(out, Write{ID: id, Value: bytes.Clone(value)})
	}
	if d.err == nil && d.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrInvalidSnapshot, len(b)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSnapshot, d.err)
	}
	return out, nil
}

// Importer builds a store from a snapshot's chunks (state sync): Add each
// chunk in order, then Finish, which checks the root. Memory is one chunk
// plus the page cache: the tree is built on disk as chunks arrive.
type Importer struct {
	s        *Store
	version  uint64
	expected merkle.Hash
	root     child
	last     merkle.Hash
	started  bool
	failed   error
}

// NewImporter opens the store in dir (which must hold no version; the
// leftovers of an interrupted import are cleared) to import version with
// expectedRoot.
func NewImporter(dir string, opts Options, version uint64, expectedRoot merkle.Hash) (*Importer, error) {
	if version == 0 {
		return nil, fmt.Errorf("%w: import of version 0", ErrUnknownVersion)
	}
	s, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	if v, _ := s.Latest(); v != 0 {
		_ = s.Close()
		return nil, fmt.Errorf("%w: latest version %d", ErrNotEmpty, v)
	}
	if err := s.clear(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return &Importer{s: s, version: version, expected: expectedRoot}, nil
}

// clear deletes everything but the layout record.
func (s *Store) clear() error {
	if err := s.db.DeleteRange([]byte{prefixNode}, []byte{prefixValue + 1}, pebble.Sync); err != nil {
		return fmt.Errorf("state: clear: %w", err)
	}
	return nil
}

// Add imports the next chunk: registers in strictly increasing path order
// (across chunks too), no deletes.
func (im *Importer) Add(chunk []Write) error {
	if im.failed != nil {
		return im.failed
	}
	ops := make([]op, 0, len(chunk))
	for i := range chunk {
		w := &chunk[i]
		if err := w.ID.Check(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSnapshot, err)
		}
		if w.Value == nil {
			return fmt.Errorf("%w: a delete of %v", ErrInvalidSnapshot, w.ID)
		}
		if err := CheckValue(w.Value); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSnapshot, err)
		}
		path := w.ID.Path()
		if im.started && bytes.Compare(path[:], im.last[:]) <= 0 {
			return fmt.Errorf("%w: %v out of path order", ErrInvalidSnapshot, w.ID)
		}
		im.last, im.started = path, true
		ops = append(ops, op{key: path, value: merkle.ValueHash(w.Value), version: im.version, id: w.ID, raw: w.Value})
	}
	if len(ops) == 0 {
		return nil
	}
	s := im.s
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tw := &treeWriter{s: s, version: im.version, batch: s.db.NewBatch()}
	defer tw.batch.Close()
	var zero merkle.Hash
	root, err := tw.update(im.root, 0, &zero, ops)
	if err == nil {
		err = tw.batch.Commit(pebble.NoSync)
	}
	if err != nil {
		im.failed = fmt.Errorf("state: import: %w", err)
		return im.failed
	}
	for _, w := range tw.written {
		s.cache.add(w.key, w.p)
	}
	im.root = root
	return nil
}

// Finish checks the imported root and, if it is the expected one, makes
// the version the store's only one and returns the store. Otherwise it
// deletes what was imported, closes the store and returns
// ErrSnapshotRoot.
func (im *Importer) Finish() (*Store, error) {
	s := im.s
	if im.failed != nil {
		_ = im.Abort()
		return nil, im.failed
	}
	if got := im.root.hash(); got != im.expected {
		_ = im.Abort()
		return nil, fmt.Errorf("%w: built %x, expected %x", ErrSnapshotRoot, got, im.expected)
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	batch.Set(rootKey(im.version), encodeChild(nil, &im.root), nil)
	batch.Set([]byte{keyLatest}, u64(im.version), nil)
	batch.Set([]byte{keyOldest}, u64(im.version), nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		_ = im.Abort()
		return nil, fmt.Errorf("state: import: %w", err)
	}
	s.mu.Lock()
	s.latest, s.latestRoot, s.oldest = im.version, im.root, im.version
	s.mu.Unlock()
	return s, nil
}

// Abort deletes what was imported and closes the store.
func (im *Importer) Abort() error {
	err := im.s.clear()
	if cerr := im.s.Close(); err == nil {
		err = cerr
	}
	return err
}

// Import builds a store in dir from the chunks next returns (io.EOF after
// the last) and checks it against expectedRoot; see Importer.
func Import(dir string, opts Options, version uint64, expectedRoot merkle.Hash, next func() ([]Write, error)) (*Store, error) {
	im, err := NewImporter(dir, opts, version, expectedRoot)
	if err != nil {
		return nil, err
	}
	for {
		chunk, err := next()
		if errors.Is(err, io.EOF) {
			return im.Finish()
		}
		if err == nil {
			err = im.Add(chunk)
		}
		if err != nil {
			_ = im.Abort()
			return nil, err
		}
	}
}

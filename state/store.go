package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floe-bft/floe/app/merkle"
)

// Errors of the store. Reads of a version report which of the first two
// applies; any other read error is a storage failure.
var (
	// ErrVersionPruned: the version is older than the retention window.
	ErrVersionPruned = errors.New("state version pruned")
	// ErrUnknownVersion: the version was never committed (above the latest,
	// or skipped by the caller's numbering).
	ErrUnknownVersion = errors.New("unknown state version")
	// ErrVersionOrder: Commit's version is not above the latest.
	ErrVersionOrder = errors.New("state version not above the latest")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("state store closed")
)

// Key layout of the store's own Pebble database. Integers are big-endian
// so that byte order is numeric order.
//
//	'F'                                  -> layout version (8)
//	'M'                                  -> latest version (8)
//	'O'                                  -> oldest retained version (8)
//	'C'                                  -> stale index empty below this version (8)
//	'R' | version(8)                     -> root child (encodeChild)
//	'N' | depth(1) | prefix | version(8) -> page; prefix = ceil(depth/2) bytes
//	'V' | path(32) | ^version(8)         -> u16 len | RegisterID.Encode() | value; empty = deleted
//	'S' | since(8) | class(1) | key      -> (empty): key is not needed by versions ≥ since
//
// Values are keyed by path and inverted version so that the value of a
// register at version v is the first key at or after 'V'|path|^v: one seek.
// The stale index 'S' is ordered by the version that made a key obsolete,
// so pruning below v reads a prefix of it. Class 0 (superseded pages and
// values) sorts before class 1 (tombstones), so a tombstone is never
// removed before the older value it hides.
const (
	keyLayout   = 'F'
	keyLatest   = 'M'
	keyOldest   = 'O'
	keyCleared  = 'C'
	prefixRoot  = 'R'
	prefixNode  = 'N'
	prefixValue = 'V'
	prefixStale = 'S'

	staleSuperseded = 0
	staleTombstone  = 1

	layoutVersion = 1
)

func rootKey(v uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefixRoot}, v) }

func nodeKey(depth int, prefix *merkle.Hash, version uint64) []byte {
	n := (depth + 1) / 2
	k := make([]byte, 0, 2+n+8)
	k = append(k, prefixNode, byte(depth))
	k = append(k, prefix[:n]...)
	if depth&1 == 1 {
		k[len(k)-1] &= 0xf0
	}
	return binary.BigEndian.AppendUint64(k, version)
}

func valueKey(path *merkle.Hash, version uint64) []byte {
	k := make([]byte, 0, 41)
	k = append(k, prefixValue)
	k = append(k, path[:]...)
	return binary.BigEndian.AppendUint64(k, ^version)
}

func staleKey(since uint64, class byte, key []byte) []byte {
	k := make([]byte, 0, 10+len(key))
	k = binary.BigEndian.AppendUint64(append(k, prefixStale), since)
	k = append(k, class)
	return append(k, key...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Options configure a store. Zero values take the defaults.
type Options struct {
	// CacheBytes is Pebble's block cache (default 64 MiB).
	CacheBytes int64
	// NodeCacheBytes bounds the cache of decoded pages (default 64 MiB,
	// about 24,000 pages: the top four levels of a 10^7-register tree are
	// 4,369 pages).
	NodeCacheBytes int64
	// MemTableBytes is the size of one Pebble memtable (default 16 MiB; at
	// most four exist).
	MemTableBytes uint64
	// Sync makes every Commit durable before it returns (an fsync of
	// Pebble's WAL). Without it a crash may lose the last commits, but
	// never leaves a version half-written: reopening finds the last
	// version whose batch reached the WAL, complete. The execution node
	// that re-executes from its last persisted version can run unsynced.
	Sync bool
	// InMemory keeps everything in memory (tests): dir is ignored.
	InMemory bool

	fs vfs.FS // tests: a crashable in-memory file system
}

func (o *Options) withDefaults() {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 64 << 20
	}
	if o.NodeCacheBytes <= 0 {
		o.NodeCacheBytes = 64 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 16 << 20
	}
}

// Store is a versioned sparse Merkle state on its own Pebble database. It
// is safe for concurrent use: Commit, Prune and Import are serialized
// among themselves; reads of any retained version run concurrently with
// them.
type Store struct {
	db    *pebble.DB
	cache *pageCache
	sync  bool

	// writeMu serializes Commit and the import; pruneMu serializes Prune.
	writeMu sync.Mutex
	pruneMu sync.Mutex
	// cleared (guarded by pruneMu): the stale index holds nothing with a
	// since below it. pruneBatchKeys: the bound of one deletion batch.
	cleared        uint64
	pruneBatchKeys int

	// mu guards the fields below. A read holds it shared for its whole
	// duration, so pruning (which holds it exclusively while it moves
	// oldest and while it applies each deletion batch) never deletes what
	// a running read of a retained version uses.
	mu         sync.RWMutex
	latest     uint64
	latestRoot child
	oldest     uint64
	closed     bool
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.withDefaults()
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                opts.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		MaxOpenFiles:                256,
		FormatMajorVersion:          pebble.FormatNewest,
		CompactionConcurrencyRange:  func() (int, int) { return 1, 2 },
		Logger:                      quietLogger{},
	}
	for i := range po.Levels {
		// Hashes and values are high-entropy: compression saves little.
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if opts.InMemory {
		po.FS = vfs.NewMem()
		dir = ""
	}
	if opts.fs != nil {
		po.FS = opts.fs
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	s := &Store{db: db, sync: opts.Sync, cache: newPageCache(int(opts.NodeCacheBytes / pageBytes)), pruneBatchKeys: pruneBatchKeys}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// OpenMemory opens an empty store held in memory (tests and tools).
func OpenMemory() (*Store, error) { return Open("", Options{InMemory: true}) }

// quietLogger drops Pebble's routine messages; errors surface as errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

func (s *Store) load() error {
	layout, ok, err := s.getU64([]byte{keyLayout})
	if err != nil {
		return err
	}
	if !ok {
		return s.db.Set([]byte{keyLayout}, u64(layoutVersion), pebble.Sync)
	}
	if layout != layoutVersion {
		return fmt.Errorf("state: layout version %d, this build reads %d", layout, layoutVersion)
	}
	if s.latest, _, err = s.getU64([]byte{keyLatest}); err != nil {
		return err
	}
	if s.oldest, _, err = s.getU64([]byte{keyOldest}); err != nil {
		return err
	}
	if s.cleared, _, err = s.getU64([]byte{keyCleared}); err != nil {
		return err
	}
	if s.latest > 0 {
		if s.latestRoot, err = s.readRoot(s.latest); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) getU64(key []byte) (uint64, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("state: read %q: %w", key[:1], err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, corrupt(fmt.Sprintf("record %q", key[:1]), fmt.Errorf("%d bytes", len(v)))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// readRoot reads the root child of a committed version.
func (s *Store) readRoot(v uint64) (child, error) {
	if v == 0 {
		return child{}, nil
	}
	b, closer, err := s.db.Get(rootKey(v))
	if errors.Is(err, pebble.ErrNotFound) {
		return child{}, fmt.Errorf("%w: %d", ErrUnknownVersion, v)
	}
	if err != nil {
		return child{}, fmt.Errorf("state: read root %d: %w", v, err)
	}
	defer closer.Close()
	c, rest, err := decodeChild(b)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d trailing bytes", len(rest))
	}
	if err != nil {
		return child{}, corrupt(fmt.Sprintf("root of version %d", v), err)
	}
	return c, nil
}

// Close closes the store; reads and commits after it return ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// Latest returns the latest committed version and its root (0 and
// merkle.Empty for a new store).
func (s *Store) Latest() (uint64, merkle.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.latest, s.latestRoot.hash()
}

// Oldest returns the oldest retained version: reads of versions below it
// return ErrVersionPruned.
func (s *Store) Oldest() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.oldest
}

// rootOf returns the root child of version v; the caller holds mu shared.
func (s *Store) rootOf(v uint64) (child, error) {
	switch {
	case s.closed:
		return child{}, ErrClosed
	case v < s.oldest:
		return child{}, fmt.Errorf("%w: %d (oldest retained %d)", ErrVersionPruned, v, s.oldest)
	case v > s.latest:
		return child{}, fmt.Errorf("%w: %d (latest %d)", ErrUnknownVersion, v, s.latest)
	case v == s.latest:
		return s.latestRoot, nil
	}
	return s.readRoot(v)
}

// Root returns the root of a retained version.
func (s *Store) Root(version uint64) (merkle.Hash, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, err := s.rootOf(version)
	if err != nil {
		return merkle.Hash{}, err
	}
	return c.hash(), nil
}

// Get returns the value of id at version, nil if absent.
func (s *Store) Get(version uint64, id RegisterID) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.rootOf(version); err != nil {
		return nil, err
	}
	r, err := s.newRecordReader()
	if err != nil {
		return nil, err
	}
	defer r.close()
	path := id.Path()
	rec, err := r.at(&path, version)
	if err != nil || rec.value == nil {
		return nil, err
	}
	if rec.id != id {
		return nil, corrupt("value record", fmt.Errorf("path of %v holds %v", id, rec.id))
	}
	return rec.value, nil
}

// Reader returns a Reader of one version. Its reads fail with
// ErrVersionPruned once the version is pruned.
func (s *Store) Reader(version uint64) Reader { return versionReader{s, version} }

type versionReader struct {
	s *Store
	v uint64
}

func (r versionReader) Get(id RegisterID) ([]byte, error) { return r.s.Get(r.v, id) }

// record is a stored value record; value nil = deleted.
type record struct {
	version uint64
	id      RegisterID
	value   []byte
}

func encodeRecord(id RegisterID, value []byte) []byte {
	if value == nil {
		return []byte{}
	}
	enc := id.Encode()
	out := make([]byte, 0, 2+len(enc)+len(value))
	out = binary.BigEndian.AppendUint16(out, uint16(len(enc)))
	out = append(out, enc...)
	return append(out, value...)
}

func decodeRecord(b []byte) (RegisterID, []byte, error) {
	if len(b) == 0 {
		return RegisterID{}, nil, nil
	}
	if len(b) < 2 {
		return RegisterID{}, nil, fmt.Errorf("truncated")
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n+1 {
		return RegisterID{}, nil, fmt.Errorf("truncated")
	}
	id, err := DecodeRegisterID(b[2 : 2+n])
	if err != nil {
		return RegisterID{}, nil, err
	}
	return id, bytes.Clone(b[2+n:]), nil
}

// recordReader seeks value records with one iterator (reused across the
// seeks of one operation).
type recordReader struct{ it *pebble.Iterator }

func (s *Store) newRecordReader() (*recordReader, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixValue},
		UpperBound: []byte{prefixValue + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("state: iterator: %w", err)
	}
	return &recordReader{it}, nil
}

// close closes the iterator once: Pebble pools closed iterators across
// databases, so a second Close would corrupt one in use elsewhere.
func (r *recordReader) close() {
	if r.it != nil {
		_ = r.it.Close()
		r.it = nil
	}
}

// at returns the newest record of path at or below version; a zero
// record (value nil, version 0) if there is none.
func (r *recordReader) at(path *merkle.Hash, version uint64) (record, error) {
	key := valueKey(path, version)
	if !r.it.SeekGE(key) {
		return record{}, r.it.Error()
	}
	k := r.it.Key()
	if len(k) != 41 || !bytes.Equal(k[1:33], path[:]) {
		return record{}, nil
	}
	v, err := r.it.ValueAndErr()
	if err != nil {
		return record{}, fmt.Errorf("state: read value: %w", err)
	}
	id, value, err := decodeRecord(v)
	if err != nil {
		return record{}, corrupt("value record", err)
	}
	if value != nil && id.Path() != *path {
		return record{}, corrupt("value record", fmt.Errorf("%v stored under another path", id))
	}
	return record{version: ^binary.BigEndian.Uint64(k[33:]), id: id, value: value}, nil
}

// loadPage returns the page of (depth, prefix, version), from the cache
// or the database.
func (s *Store) loadPage(depth int, prefix *merkle.Hash, version uint64) (*page, []byte, error) {
	key := nodeKey(depth, prefix, version)
	if p := s.cache.get(key); p != nil {
		return p, key, nil
	}
	b, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil, corrupt("tree", fmt.Errorf("missing page at depth %d, version %d", depth, version))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("state: read page: %w", err)
	}
	p, err := decodePage(b)
	closer.Close()
	if err != nil {
		return nil, nil, corrupt(fmt.Sprintf("page at depth %d, version %d", depth, version), err)
	}
	s.cache.add(key, p)
	return p, key, nil
}

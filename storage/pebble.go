package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
)

// Key layout. Every key starts with a one-byte prefix naming its record
// type, so each type is a contiguous key range that can be iterated alone.
// Integers in keys are big-endian so that byte order is numeric order.
//
//	'b' | blockID(32)             -> model.Block.Encode()
//	'h' | height(8)               -> blockID(32)          finalized chain
//	'p' | view(8) | blockID(32)   -> (empty)              blocks above the root, not finalized
//	'r'                           -> rootID(32) | height(8) | view(8)   last finalized block
//	's'                           -> safety.Data.Encode()
//	'l'                           -> pacemaker.Data.Encode()
//	't' | txID(32)                -> TxResult (without ID)
//	'm' | height(8)               -> state root(32)       after executing height
//	'e'                           -> executed height(8)
//	'a' | app key                 -> app value
//	'V'                           -> layout version(8)
//
// The 'p' index exists so that LoadState and pruning touch only the few
// blocks above the root, never the whole (ever-growing) finalized chain. The
// root record carries height and view so that Commit checks its input
// without decoding the root block.
const (
	prefixBlock     = 'b'
	prefixHeight    = 'h'
	prefixPending   = 'p'
	keyRoot         = 'r'
	keySafety       = 's'
	keyLiveness     = 'l'
	prefixTxResult  = 't'
	prefixStateRoot = 'm'
	keyExecuted     = 'e'
	prefixApp       = 'a'
	keyVersion      = 'V'
	keyEpochs       = 'E'
)

// layoutVersion is bumped on any incompatible change of the key layout or a
// record encoding (version 2: block headers carry their chain ID; version
// 3: headers no longer carry the execution result; version 4: the stored
// epoch state's identities carry roles and its epochs clusters);
// OpenPebble refuses a store written with another one.
const layoutVersion = 4

func blockKey(id model.Identifier) []byte { return append([]byte{prefixBlock}, id[:]...) }

func heightKey(h uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefixHeight}, h) }

func pendingKey(v model.View, id model.Identifier) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 41), prefixPending), uint64(v))
	return append(k, id[:]...)
}

func idBytes(id model.Identifier) []byte { return id[:] }

func txKey(id model.Identifier) []byte { return append([]byte{prefixTxResult}, id[:]...) }

func stateRootKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixStateRoot}, h)
}

func appKey(k []byte) []byte { return append([]byte{prefixApp}, k...) }

// PebbleOption adjusts OpenPebble.
type PebbleOption func(*pebbleConfig)

type pebbleConfig struct {
	cacheSize    int64
	memTableSize uint64
	logger       *slog.Logger
	readOnly     bool
}

// ReadOnly opens an existing store without writing to it (`floe export`
// reads a stopped node's directory): a directory that is not a store of
// this layout is refused rather than initialized, and every write fails.
func ReadOnly() PebbleOption {
	return func(c *pebbleConfig) { c.readOnly = true }
}

// WithCacheSize sets the block cache size in bytes (default 64 MiB).
func WithCacheSize(bytes int64) PebbleOption {
	return func(c *pebbleConfig) { c.cacheSize = bytes }
}

// WithMemTableSize sets the memtable size in bytes (default 16 MiB). Up to
// four exist at once (one filling, the others queued for flushing).
func WithMemTableSize(bytes uint64) PebbleOption {
	return func(c *pebbleConfig) { c.memTableSize = bytes }
}

// WithLogger sends Pebble's messages to l: its routine ones (WAL recovery,
// compactions) at debug level, errors at error level. The default is
// slog.Default().
func WithLogger(l *slog.Logger) PebbleOption {
	return func(c *pebbleConfig) { c.logger = l }
}

// slogAdapter is a pebble.Logger. Pebble logs routine events at info level
// on every open; a node's log should not carry them by default.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Infof(format string, args ...any) {
	a.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (a slogAdapter) Errorf(format string, args ...any) {
	a.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf must not return: Pebble calls it on unrecoverable internal errors.
func (a slogAdapter) Fatalf(format string, args ...any) {
	a.Errorf(format, args...)
	pebble.DefaultLogger.Fatalf(format, args...)
}

// Pebble is the node's store: ConsensusStore and AppStore on one embedded
// Pebble database. It is safe for concurrent use; writes are serialized.
type Pebble struct {
	db *pebble.DB // consensus state and the chain: WAL, synced commits
	// app holds execution results and application state, without a WAL:
	// after a crash it is a consistent but possibly older prefix, and the
	// node re-executes finalized blocks from the executed height it finds.
	// Skipping the WAL halves what execution writes.
	app *pebble.DB

	// writeMu serializes Commit, Init and SaveExecution: each reads what it
	// checks its input against, then writes one batch.
	writeMu sync.Mutex
	// closeMu turns use after Close into ErrClosed instead of a Pebble panic.
	closeMu sync.RWMutex
	closed  bool
	// readOnly: opened with ReadOnly, so Close has nothing to flush (and
	// Pebble refuses a flush of a read-only database).
	readOnly bool
}

// OpenPebble opens (creating if needed) the store in dir.
//
// Defaults are sized for a small machine: a 64 MiB block cache and at most
// four 16 MiB memtables bound Pebble's own memory to roughly 130 MiB
// whatever the load, and one compaction at a time (two only when behind)
// leaves the cores to consensus and execution. Four small memtables rather than two of 32 MiB:
// same ceiling, but a burst of writes (a catch-up, a big block) must outrun
// three flushes instead of one before writes stall, and a stall delays
// Commit, hence votes.
func OpenPebble(dir string, opts ...PebbleOption) (*Pebble, error) {
	cfg := pebbleConfig{cacheSize: 64 << 20, memTableSize: 16 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	cache := pebble.NewCache(cfg.cacheSize)
	// The DB takes its own reference; ours is only needed until Open returns.
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                cfg.memTableSize,
		MemTableStopWritesThreshold: 4,
		MaxOpenFiles:                256,
		FormatMajorVersion:          pebble.FormatNewest,
		// One compaction normally; a second only when compaction falls
		// behind, since a backlog ends in a stall, and a stall delays votes.
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		// Room for bursts before L0 stops writes (default 12); reads of
		// recent data cost a little more while L0 is deep.
		L0StopWritesThreshold: 24,
		// The write load is append-mostly (blocks, results) plus overwrites
		// of a bounded key space (state): compacting L0 less eagerly and a
		// larger base level cut compaction CPU, which under load was a third
		// of a node's time; reads are rare (sync, API) and tolerate the
		// extra read amplification.
		L0CompactionThreshold:     8,
		L0CompactionFileThreshold: 1000,
		LBaseMaxBytes:             256 << 20,
		Logger:                    slogAdapter{cfg.logger},
		// A stall delays Commit, hence votes and proposals: operators must
		// see it to size the machine or the options.
		EventListener: &pebble.EventListener{
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				cfg.logger.Warn("pebble: write stall", "reason", info.Reason)
			},
		},
	}
	// Block payloads and state values are mostly high-entropy (keys,
	// nonces, hashes): compressing them costs CPU on every flush and
	// compaction and saves little.
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		// Point lookups of absent keys are on the hot path: every
		// submitted transaction is looked up among the finalized ones.
		// Without filters each miss searches every L0 file (up to 24 with
		// the lazy compaction above) and every level; a 10-bit bloom
		// filter answers most misses from memory for ~1.2 bytes per key.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	po.ReadOnly = cfg.readOnly
	if cfg.readOnly {
		if _, err := os.Stat(filepath.Join(dir, "consensus")); err != nil {
			return nil, fmt.Errorf("storage: open %s read-only: %w", dir, err)
		}
	}
	db, err := pebble.Open(filepath.Join(dir, "consensus"), po)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	ao := po.Clone()
	ao.DisableWAL = true
	// Half-size memtables for the application database: it takes results
	// per block and state in periodic flushes, and a node's memory budget
	// (Go heap + both databases' memtables + the shared cache) must stay
	// under 500 MB at full load.
	ao.MemTableSize = cfg.memTableSize / 2
	app, err := pebble.Open(filepath.Join(dir, "app"), ao)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	p := &Pebble{db: db, app: app, readOnly: cfg.readOnly}
	if err := p.checkVersion(cfg.readOnly); err != nil {
		_ = db.Close()
		_ = app.Close()
		return nil, err
	}
	return p, nil
}

func (p *Pebble) checkVersion(readOnly bool) error {
	err := p.get([]byte{keyVersion}, func(v []byte) error {
		if len(v) != 8 {
			return corrupt("layout version", fmt.Errorf("%d bytes", len(v)))
		}
		if got := binary.BigEndian.Uint64(v); got != layoutVersion {
			return fmt.Errorf("%w: the data directory has layout version %d, this build reads %d (protocol version %d); a node moves to a new version with a new data directory: docs/upgrades.md",
				ErrVersion, got, layoutVersion, model.ProtocolVersion)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) && !readOnly {
		return p.db.Set([]byte{keyVersion}, binary.BigEndian.AppendUint64(nil, layoutVersion), pebble.Sync)
	}
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: the data directory records no layout version", ErrVersion)
	}
	return err
}

// Close closes the database. Later calls return ErrClosed.
func (p *Pebble) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.closed = true
	// Without a WAL, what is still in the application's memtables would be
	// lost; flushing makes a clean stop lose nothing.
	var ferr error
	if !p.readOnly {
		ferr = p.app.Flush()
	}
	aerr := p.app.Close()
	return errors.Join(ferr, aerr, p.db.Close())
}

// begin guards a read against Close; the returned function ends it.
func (p *Pebble) begin() (func(), error) {
	p.closeMu.RLock()
	if p.closed {
		p.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return p.closeMu.RUnlock, nil
}

// get calls fn with the value of key, valid only during the call (decoding
// in place saves a copy of every block read). A missing key is ErrNotFound.
func (p *Pebble) get(key []byte, fn func(v []byte) error) error { return getFrom(p.db, key, fn) }

// getApp is get on the application database.
func (p *Pebble) getApp(key []byte, fn func(v []byte) error) error { return getFrom(p.app, key, fn) }

func getFrom(db *pebble.DB, key []byte, fn func(v []byte) error) error {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("storage: read: %w", err)
	}
	defer closer.Close()
	return fn(v)
}

// scan calls fn for every key in [lower, upper), in order.
func (p *Pebble) scan(lower, upper []byte, fn func(k, v []byte) error) error {
	return scanIn(p.db, lower, upper, fn)
}

func scanIn(db *pebble.DB, lower, upper []byte, fn func(k, v []byte) error) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("storage: iterate: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("storage: iterate: %w", err)
	}
	return nil
}

// upperBound is the first key after every key starting with prefix.
func upperBound(prefix []byte) []byte {
	ub := append([]byte(nil), prefix...)
	for i := len(ub) - 1; i >= 0; i-- {
		if ub[i] != 0xff {
			ub[i]++
			return ub[:i+1]
		}
	}
	return nil // prefix is all 0xff: no upper bound
}

func (p *Pebble) rootInfo() (rootInfo, error) {
	var ri rootInfo
	err := p.get([]byte{keyRoot}, func(v []byte) (err error) {
		ri, err = decodeRootInfo(v)
		return err
	})
	return ri, err
}

func (p *Pebble) block(id model.Identifier) (*model.Block, error) {
	var b *model.Block
	err := p.get(blockKey(id), func(v []byte) (err error) {
		b, err = decodeStoredBlock(id, v)
		return err
	})
	return b, err
}

// indexed reads a block another record points to: if it is missing, the
// store is corrupt, not merely incomplete.
func (p *Pebble) indexed(id model.Identifier, what string) (*model.Block, error) {
	b, err := p.block(id)
	if errors.Is(err, ErrNotFound) {
		return nil, corrupt(what, fmt.Errorf("block %v missing", id))
	}
	return b, err
}

// Init stores the genesis (or snapshot) state: the root block indexed at
// its height, safety and liveness data, and any blocks above the root.
func (p *Pebble) Init(st consensus.State) error {
	if err := checkState(st); err != nil {
		return err
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	done, err := p.begin()
	if err != nil {
		return err
	}
	defer done()
	switch _, err := p.rootInfo(); {
	case err == nil:
		return invalid("store already initialized")
	case !errors.Is(err, ErrNotFound):
		return err
	}
	// Set and Delete on an unindexed batch cannot fail, hence the ignored
	// errors here and below; only Commit can.
	batch := p.db.NewBatch()
	defer batch.Close()
	root := st.Root
	_ = batch.Set(blockKey(root.ID()), root.Encode(), nil)
	_ = batch.Set(heightKey(root.Height), idBytes(root.ID()), nil)
	_ = batch.Set([]byte{keyRoot}, infoOf(root).encode(), nil)
	_ = batch.Set([]byte{keySafety}, st.Safety.Encode(), nil)
	_ = batch.Set([]byte{keyLiveness}, st.Liveness.Encode(), nil)
	for _, b := range st.Blocks {
		_ = batch.Set(blockKey(b.ID()), b.Encode(), nil)
		_ = batch.Set(pendingKey(b.View, b.ID()), nil, nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("storage: init: %w", err)
	}
	return nil
}

// Commit writes c in one batch and fsyncs it before returning: this is the
// point after which the node may send what it signed under c.
//
// Finalized blocks are indexed by height and the last becomes the root.
// Blocks at or below the new root's view that were not finalized can never
// be finalized any more, so they are deleted (and new ones not stored);
// finalized blocks are kept forever because sync serves them.
func (p *Pebble) Commit(c Commit) error {
	if c.Empty() {
		return nil
	}
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	done, err := p.begin()
	if err != nil {
		return err
	}
	defer done()
	old, err := p.rootInfo()
	if errors.Is(err, ErrNotFound) {
		return invalid("commit to an uninitialized store")
	}
	if err != nil {
		return err
	}
	root, err := checkCommit(old, c)
	if err != nil {
		return err
	}

	batch := p.db.NewBatch()
	defer batch.Close()
	if c.Safety != nil {
		_ = batch.Set([]byte{keySafety}, c.Safety.Encode(), nil)
	}
	if c.Liveness != nil {
		_ = batch.Set([]byte{keyLiveness}, c.Liveness.Encode(), nil)
	}
	if c.Epochs != nil {
		_ = batch.Set([]byte{keyEpochs}, c.Epochs, nil)
	}
	final := make(map[model.Identifier]bool, len(c.Finalized))
	for _, b := range c.Finalized {
		final[b.ID()] = true
	}
	// stored: finalized blocks already on disk as pending blocks; they are
	// not rewritten (blocks can be large).
	stored := make(map[model.Identifier]bool, len(c.Finalized))
	if root != old {
		_ = batch.Set([]byte{keyRoot}, root.encode(), nil)
		// Prune: every pending block of a view up to the new root's either
		// was just finalized (keep the block, drop the index entry) or can
		// never be finalized (drop both).
		lower := []byte{prefixPending}
		upper := upperBound(lower)
		if root.View < math.MaxUint64 {
			upper = pendingKey(root.View+1, model.ZeroID)
		}
		err := p.scan(lower, upper, func(k, _ []byte) error {
			if len(k) != 41 {
				return corrupt("pending index", fmt.Errorf("key of %d bytes", len(k)))
			}
			id := model.Identifier(k[9:])
			_ = batch.Delete(k, nil)
			if final[id] {
				stored[id] = true
			} else {
				_ = batch.Delete(blockKey(id), nil)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, b := range c.Finalized {
		if !stored[b.ID()] {
			_ = batch.Set(blockKey(b.ID()), b.Encode(), nil)
		}
		_ = batch.Set(heightKey(b.Height), idBytes(b.ID()), nil)
	}
	for _, b := range c.Blocks {
		if b.View <= root.View {
			continue // finalized (stored above) or dead
		}
		_ = batch.Set(blockKey(b.ID()), b.Encode(), nil)
		_ = batch.Set(pendingKey(b.View, b.ID()), nil, nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}

// LoadState returns the root block, the stored blocks above it (ordered by
// view, then ID), and the safety and liveness data. It returns false, and no
// error, if the store has never been initialized.
// EpochState returns the encoded epoch state last committed, or ErrNotFound.
func (p *Pebble) EpochState() ([]byte, error) {
	done, err := p.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	var out []byte
	err = p.get([]byte{keyEpochs}, func(v []byte) error {
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

func (p *Pebble) LoadState() (consensus.State, bool, error) {
	done, err := p.begin()
	if err != nil {
		return consensus.State{}, false, err
	}
	defer done()
	ri, err := p.rootInfo()
	if errors.Is(err, ErrNotFound) {
		return consensus.State{}, false, nil
	}
	if err != nil {
		return consensus.State{}, false, err
	}
	var st consensus.State
	if st.Root, err = p.indexed(ri.ID, "root"); err != nil {
		return consensus.State{}, false, err
	}
	if st.Root.Height != ri.Height || st.Root.View != ri.View {
		return consensus.State{}, false, corrupt("root", fmt.Errorf("record says height %d view %d, block has %d, %d",
			ri.Height, ri.View, st.Root.Height, st.Root.View))
	}
	lower := []byte{prefixPending}
	err = p.scan(lower, upperBound(lower), func(k, _ []byte) error {
		if len(k) != 41 {
			return corrupt("pending index", fmt.Errorf("key of %d bytes", len(k)))
		}
		id := model.Identifier(k[9:])
		view := model.View(binary.BigEndian.Uint64(k[1:9]))
		b, err := p.indexed(id, "pending index")
		if err != nil {
			return err
		}
		if b.View != view || b.View <= ri.View {
			return corrupt("pending index", fmt.Errorf("block %v of view %d indexed at view %d, root view %d", id, b.View, view, ri.View))
		}
		st.Blocks = append(st.Blocks, b)
		return nil
	})
	if err != nil {
		return consensus.State{}, false, err
	}
	if err := p.get([]byte{keySafety}, func(v []byte) (err error) {
		st.Safety, err = decodeSafety(v)
		return err
	}); err != nil {
		return consensus.State{}, false, missingIsCorrupt(err, "safety data")
	}
	if err := p.get([]byte{keyLiveness}, func(v []byte) (err error) {
		st.Liveness, err = decodeLiveness(v)
		return err
	}); err != nil {
		return consensus.State{}, false, missingIsCorrupt(err, "liveness data")
	}
	return st, true, nil
}

// missingIsCorrupt: a record every initialized store has is missing.
func missingIsCorrupt(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return corrupt(what, errors.New("missing"))
	}
	return err
}

// Block returns any stored block by ID.
func (p *Pebble) Block(id model.Identifier) (*model.Block, error) {
	done, err := p.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return p.block(id)
}

func (p *Pebble) finalizedID(height uint64) (model.Identifier, error) {
	var id model.Identifier
	err := p.get(heightKey(height), func(v []byte) error {
		if len(v) != len(id) {
			return corrupt(fmt.Sprintf("height index %d", height), fmt.Errorf("%d bytes", len(v)))
		}
		copy(id[:], v)
		return nil
	})
	return id, err
}

func (p *Pebble) finalizedBlock(height uint64, id model.Identifier) (*model.Block, error) {
	b, err := p.indexed(id, fmt.Sprintf("height index %d", height))
	if err != nil {
		return nil, err
	}
	if b.Height != height {
		return nil, corrupt(fmt.Sprintf("height index %d", height), fmt.Errorf("block %v has height %d", id, b.Height))
	}
	return b, nil
}

// FinalizedByHeight returns the finalized block at height.
func (p *Pebble) FinalizedByHeight(height uint64) (*model.Block, error) {
	done, err := p.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := p.finalizedID(height)
	if err != nil {
		return nil, err
	}
	return p.finalizedBlock(height, id)
}

// FinalizedHeight is the height of the last finalized block (ErrNotFound
// before Init).
func (p *Pebble) FinalizedHeight() (uint64, error) {
	done, err := p.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	ri, err := p.rootInfo()
	return ri.Height, err
}

// FinalizedRange returns the finalized blocks of heights from..to
// (inclusive), oldest first, at most maxBlocks of them: a sync request is
// answered in bounded memory whatever it asks for. Heights above the last
// finalized one are simply not returned (from above it gives an empty
// result); heights below the store's first (a snapshot root) give
// ErrNotFound.
func (p *Pebble) FinalizedRange(from, to uint64, maxBlocks int) ([]*model.Block, error) {
	if maxBlocks <= 0 {
		return nil, invalid("range of at most %d blocks", maxBlocks)
	}
	done, err := p.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	ri, err := p.rootInfo()
	if err != nil {
		return nil, err
	}
	if from > to || from > ri.Height {
		return nil, nil
	}
	to = min(to, ri.Height)
	if to-from >= uint64(maxBlocks) {
		to = from + uint64(maxBlocks) - 1
	}
	upper := upperBound([]byte{prefixHeight})
	if to < math.MaxUint64 {
		upper = heightKey(to + 1)
	}
	var ids []model.Identifier
	next := from
	err = p.scan(heightKey(from), upper, func(k, v []byte) error {
		if len(k) != 9 || len(v) != 32 {
			return corrupt("height index", fmt.Errorf("key of %d bytes, value of %d", len(k), len(v)))
		}
		h := binary.BigEndian.Uint64(k[1:])
		if h != next {
			if next == from {
				return fmt.Errorf("%w: height %d is below the first stored height %d", ErrNotFound, from, h)
			}
			return corrupt("height index", fmt.Errorf("height %d missing", next))
		}
		next++
		ids = append(ids, model.Identifier(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if next-1 != to {
		if next == from {
			return nil, fmt.Errorf("%w: height %d is below the first stored height", ErrNotFound, from)
		}
		return nil, corrupt("height index", fmt.Errorf("height %d missing", next))
	}
	out := make([]*model.Block, 0, len(ids))
	for i, id := range ids {
		b, err := p.finalizedBlock(from+uint64(i), id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ExecutedHeight is the last height whose results are stored; 0 if nothing
// was ever executed.
func (p *Pebble) ExecutedHeight() (uint64, error) {
	done, err := p.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	return p.executedHeight()
}

func (p *Pebble) executedHeight() (uint64, error) {
	var h uint64
	err := p.getApp([]byte{keyExecuted}, func(v []byte) error {
		if len(v) != 8 {
			return corrupt("executed height", fmt.Errorf("%d bytes", len(v)))
		}
		h = binary.BigEndian.Uint64(v)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return h, err
}

// SaveExecution stores the results and state writes of height with the new
// executed height and state root, in one atomic batch. It is not synced:
// after a crash the node re-executes from the stored executed height, and
// execution is deterministic, so a lost batch is recomputed identically.
// Heights must increase (ErrInvalid otherwise).
func (p *Pebble) SaveExecution(height uint64, root [32]byte, results []TxResult, writes []KV) error {
	return p.saveExecuted(height, root, results, writes, true)
}

// SaveResults stores results and the state root of height in one batch,
// leaving the executed height alone (see AppStore).
func (p *Pebble) SaveResults(height uint64, root [32]byte, results []TxResult) error {
	return p.saveExecuted(height, root, results, nil, false)
}

// saveExecuted writes one height's results, state writes and root in one
// unsynced batch, and moves the executed height if asked to.
func (p *Pebble) saveExecuted(height uint64, root [32]byte, results []TxResult, writes []KV, moveExecuted bool) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	done, err := p.begin()
	if err != nil {
		return err
	}
	defer done()
	executed, err := p.executedHeight()
	if err != nil {
		return err
	}
	if err := checkExecution(executed, height); err != nil {
		return err
	}
	batch := p.app.NewBatch()
	defer batch.Close()
	for _, r := range results {
		_ = batch.Set(txKey(r.ID), encodeTxResult(clampResult(r)), nil)
	}
	for _, w := range writes {
		if w.Value == nil {
			_ = batch.Delete(appKey(w.Key), nil)
		} else {
			_ = batch.Set(appKey(w.Key), w.Value, nil)
		}
	}
	_ = batch.Set(stateRootKey(height), root[:], nil)
	if moveExecuted {
		_ = batch.Set([]byte{keyExecuted}, binary.BigEndian.AppendUint64(nil, height), nil)
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("storage: save execution of height %d: %w", height, err)
	}
	return nil
}

// SaveGenesisState stores the initial state (see AppStore) in one batch,
// flushed: the application database has no WAL.
func (p *Pebble) SaveGenesisState(root [32]byte, writes []KV) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	done, err := p.begin()
	if err != nil {
		return err
	}
	defer done()
	if err := p.checkGenesisState(); err != nil {
		return err
	}
	batch := p.app.NewBatch()
	defer batch.Close()
	for _, w := range writes {
		if w.Value == nil {
			return invalid("initial state with a deleted key")
		}
		_ = batch.Set(appKey(w.Key), w.Value, nil)
	}
	_ = batch.Set(stateRootKey(0), root[:], nil)
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("storage: save the initial state: %w", err)
	}
	if err := p.app.Flush(); err != nil {
		return fmt.Errorf("storage: flush the initial state: %w", err)
	}
	return nil
}

func (p *Pebble) checkGenesisState() error {
	executed, err := p.executedHeight()
	if err != nil {
		return err
	}
	if executed > 0 {
		return invalid("initial state after executing height %d", executed)
	}
	err = p.getApp(stateRootKey(0), func([]byte) error { return nil })
	switch {
	case err == nil:
		return invalid("initial state saved twice")
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return err
}

// TxResult looks a transaction up by ID.
func (p *Pebble) TxResult(id model.Identifier) (TxResult, error) {
	done, err := p.begin()
	if err != nil {
		return TxResult{}, err
	}
	defer done()
	var t TxResult
	err = p.getApp(txKey(id), func(v []byte) (err error) {
		t, err = decodeTxResult(id, v)
		return err
	})
	return t, err
}

// StateRoot returns the state root recorded after executing height.
func (p *Pebble) StateRoot(height uint64) ([32]byte, error) {
	done, err := p.begin()
	if err != nil {
		return [32]byte{}, err
	}
	defer done()
	var root [32]byte
	err = p.getApp(stateRootKey(height), func(v []byte) error {
		if len(v) != len(root) {
			return corrupt(fmt.Sprintf("state root %d", height), fmt.Errorf("%d bytes", len(v)))
		}
		copy(root[:], v)
		return nil
	})
	return root, err
}

// Get reads an application key; the returned slice belongs to the caller.
func (p *Pebble) Get(key []byte) ([]byte, error) {
	done, err := p.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	var out []byte
	err = p.getApp(appKey(key), func(v []byte) error {
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// Iterate calls fn for every application key in key order, over a
// consistent snapshot; key and value are copies fn may keep. fn must not
// call Close (the iteration holds the store open).
func (p *Pebble) Iterate(fn func(key, value []byte) error) error {
	done, err := p.begin()
	if err != nil {
		return err
	}
	defer done()
	lower := []byte{prefixApp}
	return scanIn(p.app, lower, upperBound(lower), func(k, v []byte) error {
		return fn(append([]byte{}, k[1:]...), append([]byte{}, v...))
	})
}

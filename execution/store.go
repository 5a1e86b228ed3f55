package execution

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/storage"
)

// Store keeps what an execution node executed, beside its state: per
// height the result (and, under a test fault, the one it published
// instead), per transaction its outcome, per chunk its data pack, and the
// newest executed height with its state version. One synced batch per
// block, written after the block's state versions: a block counts as
// executed once its batch is durable.
type Store struct {
	db *pebble.DB
}

// Key prefixes.
const (
	keyExecuted  = 'x' // → height, state version
	keyResult    = 'r' // height → true result, end version
	keyPublished = 'b' // height → published result (test faults only)
	keyTx        = 't' // tx ID → outcome
	keyPack      = 'p' // chunk ID → data pack
	keyPackAt    = 'P' // height ‖ chunk index → chunk ID (pruning)
)

// ErrNotFound: nothing stored under the key (a height not executed, a
// transaction not executed here, a pack pruned or never made).
var ErrNotFound = storage.ErrNotFound

// OpenStore opens (or creates) the store in dir; dir "" keeps it in
// memory (tests).
func OpenStore(dir string) (*Store, error) {
	opts := &pebble.Options{Logger: quietLogger{}}
	if dir == "" {
		opts.FS = vfs.NewMem()
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("execution store: %w", err)
	}
	return &Store{db: db}, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func heightKey(prefix byte, h uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefix}, h) }

func idKey(prefix byte, id model.Identifier) []byte { return append([]byte{prefix}, id[:]...) }

func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Executed is the newest executed height and the state version of its
// end state; ok false before the first block (the caller starts from the
// genesis result).
func (s *Store) Executed() (height, version uint64, ok bool, err error) {
	v, err := s.get([]byte{keyExecuted})
	if errors.Is(err, ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	if len(v) != 16 {
		return 0, 0, false, fmt.Errorf("%w: executed marker of %d bytes", storage.ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true, nil
}

// Result is the result this node computed for height, with the state
// version of its end state.
func (s *Store) Result(height uint64) (*payload.ExecutionResult, uint64, error) {
	v, err := s.get(heightKey(keyResult, height))
	if err != nil {
		return nil, 0, err
	}
	if len(v) < 8 {
		return nil, 0, fmt.Errorf("%w: result record of %d bytes", storage.ErrCorrupt, len(v))
	}
	r, err := payload.DecodeExecutionResult(v[8:])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: result of height %d: %v", storage.ErrCorrupt, height, err)
	}
	return r, binary.BigEndian.Uint64(v), nil
}

// Published is the result this node signed for height: its own result,
// unless a test fault made it publish another.
func (s *Store) Published(height uint64) (*payload.ExecutionResult, error) {
	v, err := s.get(heightKey(keyPublished, height))
	if errors.Is(err, ErrNotFound) {
		r, _, err := s.Result(height)
		return r, err
	}
	if err != nil {
		return nil, err
	}
	r, err := payload.DecodeExecutionResult(v)
	if err != nil {
		return nil, fmt.Errorf("%w: published result of height %d: %v", storage.ErrCorrupt, height, err)
	}
	return r, nil
}

// Save records an executed block durably: its result (and the published
// one when it differs), the outcomes, the packs, and the executed marker.
func (s *Store) Save(x *Executed, published *payload.ExecutionResult) error {
	b := s.db.NewBatch()
	defer b.Close()
	h := x.Result.Height
	rec := binary.BigEndian.AppendUint64(nil, x.EndVersion)
	if err := b.Set(heightKey(keyResult, h), append(rec, x.Result.Encode()...), nil); err != nil {
		return err
	}
	if published != nil && published.ID() != x.Result.ID() {
		if err := b.Set(heightKey(keyPublished, h), published.Encode(), nil); err != nil {
			return err
		}
	}
	resultID := x.Result.ID()
	for i := range x.Txs {
		if err := b.Set(idKey(keyTx, x.Txs[i].ID), encodeOutcome(&x.Txs[i], resultID), nil); err != nil {
			return err
		}
	}
	for i, p := range x.Packs {
		if err := b.Set(idKey(keyPack, p.ChunkID), p.Encode(), nil); err != nil {
			return err
		}
		at := binary.BigEndian.AppendUint16(heightKey(keyPackAt, h), uint16(i))
		if err := b.Set(at, p.ChunkID[:], nil); err != nil {
			return err
		}
	}
	marker := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, h), x.EndVersion)
	if err := b.Set([]byte{keyExecuted}, marker, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// ClearExecuted forgets the executed marker (durably): the node then
// starts from the genesis result, as one that executed nothing. State
// sync clears it before it replaces the state.
func (s *Store) ClearExecuted() error {
	return s.db.Delete([]byte{keyExecuted}, pebble.Sync)
}

// SaveSynced records a result whose state was imported (state sync) as
// this node's own at height r.Height, with the state version holding it.
// The node has no outcomes or packs of that height: it did not execute it.
func (s *Store) SaveSynced(r *payload.ExecutionResult, version uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	rec := binary.BigEndian.AppendUint64(nil, version)
	if err := b.Set(heightKey(keyResult, r.Height), append(rec, r.Encode()...), nil); err != nil {
		return err
	}
	if err := b.Delete(heightKey(keyPublished, r.Height), nil); err != nil {
		return err
	}
	marker := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.Height), version)
	if err := b.Set([]byte{keyExecuted}, marker, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// StoredTx is a transaction's outcome with the result it belongs to.
type StoredTx struct {
	TxOutcome
	Result model.Identifier
}

// Tx returns a transaction's outcome.
func (s *Store) Tx(id model.Identifier) (StoredTx, error) {
	v, err := s.get(idKey(keyTx, id))
	if err != nil {
		return StoredTx{}, err
	}
	return decodeOutcome(id, v)
}

// Pack returns a data pack's encoding.
func (s *Store) Pack(chunk model.Identifier) ([]byte, error) { return s.get(idKey(keyPack, chunk)) }

// PrunePacks deletes the data packs of heights below below. It runs
// online: one batch per call, beside execution.
func (s *Store) PrunePacks(below uint64) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: heightKey(keyPackAt, 0), UpperBound: heightKey(keyPackAt, below)})
	if err != nil {
		return 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		var id model.Identifier
		copy(id[:], it.Value())
		if err := b.Delete(idKey(keyPack, id), nil); err != nil {
			_ = it.Close()
			return 0, err
		}
		if err := b.Delete(append([]byte(nil), it.Key()...), nil); err != nil {
			_ = it.Close()
			return 0, err
		}
		n++
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	return n, b.Commit(pebble.NoSync)
}

// maxOutcomeEvents bounds the events decoded with one outcome.
const maxOutcomeEvents = 1 << 12

func encodeOutcome(o *TxOutcome, result model.Identifier) []byte {
	w := codec.NewWriter(64)
	w.Fixed(result[:])
	w.Uint64(o.Height)
	w.Uint16(o.Chunk)
	w.Uint32(o.Index)
	w.Bool(o.OK)
	w.Bytes16([]byte(o.Error))
	w.Uint64(o.Computation)
	writeEvents(w, o.Events)
	return w.Bytes()
}

func decodeOutcome(id model.Identifier, b []byte) (StoredTx, error) {
	r := codec.NewReader(b)
	st := StoredTx{TxOutcome: TxOutcome{ID: id}}
	r.Fixed(st.Result[:])
	st.Height = r.Uint64()
	st.Chunk = r.Uint16()
	st.Index = r.Uint32()
	st.OK = r.Bool()
	st.Error = string(r.Bytes16(1<<16-1, "error"))
	st.Computation = r.Uint64()
	st.Events = readEvents(r, maxOutcomeEvents)
	if err := r.Done(); err != nil {
		return StoredTx{}, fmt.Errorf("%w: outcome of %v: %v", storage.ErrCorrupt, id, err)
	}
	return st, nil
}

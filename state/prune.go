package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// pruneBatchKeys bounds one deletion batch of Prune: commits and reads
// interleave with pruning at this granularity.
const pruneBatchKeys = 4096

// Prune drops every version below `below` (which must not exceed the
// latest): their reads fail with ErrVersionPruned from now on, and the
// pages and values only they needed are deleted. It runs online: the
// retention mark moves first (waiting for running reads of those versions
// to finish), then deletions proceed in batches of at most 4,096 keys
// without blocking commits or reads of retained versions, which never
// touch what is deleted. A crash midway leaves garbage that the next
// Prune removes.
func (s *Store) Prune(below uint64) error {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if below > s.latest {
		latest := s.latest
		s.mu.Unlock()
		return fmt.Errorf("%w: prune below %d, latest %d", ErrUnknownVersion, below, latest)
	}
	if below > s.oldest {
		if err := s.db.Set([]byte{keyOldest}, u64(below), pebble.NoSync); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("state: prune: %w", err)
		}
		s.oldest = below
	}
	below = s.oldest
	s.mu.Unlock()
	if below < s.cleared {
		return nil
	}

	// A key stale since v is needed by versions below v only.
	upper := binary.BigEndian.AppendUint64([]byte{prefixStale}, below+1)
	// Each batch starts after the last key of the one before, so that no
	// batch iterates over the deletion markers its predecessors left.
	lower := binary.BigEndian.AppendUint64([]byte{prefixStale}, s.cleared)
	for lower != nil {
		var err error
		if lower, err = s.pruneBatch(lower, upper); err != nil {
			return err
		}
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := batch.DeleteRange(rootKey(0), rootKey(below), nil); err != nil {
		return fmt.Errorf("state: prune roots: %w", err)
	}
	// The next Prune starts its scan of the stale index here: the deletion
	// markers below it would otherwise be skipped again until compacted.
	if err := batch.Set([]byte{keyCleared}, u64(below+1), nil); err != nil {
		return err
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: prune: %w", err)
	}
	s.cleared = below + 1
	return nil
}

// pruneBatch deletes up to pruneBatchKeys stale keys in [lower, upper)
// of the stale index, in index order (so a tombstone goes after the values
// it hides), and returns where the next batch starts (nil: none left).
func (s *Store) pruneBatch(lower, upper []byte) ([]byte, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("state: prune: %w", err)
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	var pages [][]byte
	var next []byte
	n := 0
	for ok := it.First(); ok && n < s.pruneBatchKeys; ok = it.Next() {
		k := it.Key()
		if len(k) < 11 {
			_ = it.Close()
			return nil, corrupt("stale index", fmt.Errorf("key of %d bytes", len(k)))
		}
		target := bytes.Clone(k[10:])
		if err := batch.Delete(target, nil); err != nil {
			_ = it.Close()
			return nil, err
		}
		if err := batch.Delete(k, nil); err != nil {
			_ = it.Close()
			return nil, err
		}
		next = append(append(next[:0], k...), 0) // the smallest key after k
		if target[0] == prefixNode {
			pages = append(pages, target)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("state: prune: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return nil, fmt.Errorf("state: prune: %w", err)
	}
	for _, k := range pages {
		s.cache.remove(k)
	}
	if n < s.pruneBatchKeys {
		return nil, nil
	}
	return next, nil
}

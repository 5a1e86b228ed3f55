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

	// A key stale since v is needed by versions below v only.
	upper := binary.BigEndian.AppendUint64([]byte{prefixStale}, below+1)
	for {
		done, err := s.pruneBatch(upper)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if err := s.db.DeleteRange(rootKey(0), rootKey(below), pebble.NoSync); err != nil {
		return fmt.Errorf("state: prune roots: %w", err)
	}
	return nil
}

// pruneBatch deletes up to pruneBatchKeys stale keys below upper in the
// stale index, in index order (so a tombstone goes after the values it
// hides), and reports whether none are left.
func (s *Store) pruneBatch(upper []byte) (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixStale}, UpperBound: upper})
	if err != nil {
		return false, fmt.Errorf("state: prune: %w", err)
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	var pages [][]byte
	n := 0
	for ok := it.First(); ok && n < pruneBatchKeys; ok = it.Next() {
		k := it.Key()
		if len(k) < 11 {
			_ = it.Close()
			return false, corrupt("stale index", fmt.Errorf("key of %d bytes", len(k)))
		}
		target := bytes.Clone(k[10:])
		if err := batch.Delete(target, nil); err != nil {
			_ = it.Close()
			return false, err
		}
		if err := batch.Delete(k, nil); err != nil {
			_ = it.Close()
			return false, err
		}
		if target[0] == prefixNode {
			pages = append(pages, target)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("state: prune: %w", err)
	}
	if n == 0 {
		return true, nil
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return false, fmt.Errorf("state: prune: %w", err)
	}
	for _, k := range pages {
		s.cache.remove(k)
	}
	return n < pruneBatchKeys, nil
}

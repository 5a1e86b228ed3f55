package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Flush makes every committed version durable (an fsync of the write-ahead
// log), for a store opened without Options.Sync: its owner flushes before
// it records, elsewhere, that a version exists.
func (s *Store) Flush() error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return s.db.LogData(nil, pebble.Sync)
}

// Rollback makes version to the latest again, forgetting the versions
// committed after it: what an execution node does after a crash left
// versions of a block it had not finished recording. It removes their
// roots and their entries in the stale index (so pruning never frees what
// version to still needs); the pages and value records they wrote stay
// as unreachable garbage until the same versions are committed again,
// which writes the same keys. A caller that re-commits those versions with
// different writes must not rely on this: Get of a register only the
// forgotten version wrote would find its record (the execution node
// re-executes the same finalized block deterministically, so its
// re-commits are identical). to must be retained (not pruned).
func (s *Store) Rollback(to uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case to < s.oldest:
		return fmt.Errorf("%w: roll back to %d (oldest retained %d)", ErrVersionPruned, to, s.oldest)
	case to > s.latest:
		return fmt.Errorf("%w: roll back to %d (latest %d)", ErrUnknownVersion, to, s.latest)
	case to == s.latest:
		return nil
	}
	root := child{}
	if to > 0 {
		var err error
		if root, err = s.readRoot(to); err != nil {
			return err
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(rootKey(to+1), rootKey(s.latest+1), nil); err != nil {
		return err
	}
	if err := b.DeleteRange(staleKey(to+1, 0, nil), staleKey(s.latest+1, 0, nil), nil); err != nil {
		return err
	}
	if err := b.Set([]byte{keyLatest}, u64(to), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("state: roll back to version %d: %w", to, err)
	}
	s.latest, s.latestRoot = to, root
	return nil
}

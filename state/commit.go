package state

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/floe-bft/floe/app/merkle"
)

// op is one change of a commit, by path: set the register id to raw
// (value = its hash), or delete it (del). version is the version of the
// value record of a leaf (ops also carry existing leaves through build).
type op struct {
	key     merkle.Hash
	value   merkle.Hash
	del     bool
	version uint64
	id      RegisterID
	raw     []byte
}

// treeWriter applies sorted changes to the paged tree and collects what
// they write into one Pebble batch.
type treeWriter struct {
	s       *Store
	version uint64
	batch   *pebble.Batch
	// stale: record replaced pages in the stale index. The import writes
	// every page under its one version and overwrites in place instead.
	stale   bool
	written []writtenPage
}

type writtenPage struct {
	key []byte
	p   *page
}

// Commit applies writes on top of the latest version and makes version
// (which must be above it) the new latest; it returns the new root.
// Writes may come in any order; the last write of a register wins; a nil
// value deletes and deleting an absent register changes nothing. Every
// write is validated before anything is touched (errors wrap
// ErrInvalidRegister). The version is written as one Pebble batch, synced
// if Options.Sync: after a crash the store reopens at the previous
// version or at this one, never in between.
func (s *Store) Commit(version uint64, writes []Write) (merkle.Hash, error) {
	for i := range writes {
		if err := writes[i].ID.Check(); err != nil {
			return merkle.Hash{}, fmt.Errorf("write %d: %w", i, err)
		}
		if err := CheckValue(writes[i].Value); err != nil {
			return merkle.Hash{}, fmt.Errorf("write %d (%v): %w", i, writes[i].ID, err)
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	latest, root, closed := s.latest, s.latestRoot, s.closed
	s.mu.RUnlock()
	if closed {
		return merkle.Hash{}, ErrClosed
	}
	if version <= latest {
		return merkle.Hash{}, fmt.Errorf("%w: commit %d, latest %d", ErrVersionOrder, version, latest)
	}

	type change struct {
		path merkle.Hash
		w    *Write
	}
	changes := make([]change, len(writes))
	for i := range writes {
		changes[i] = change{writes[i].ID.Path(), &writes[i]}
	}
	// Stable: equal paths keep slice order, so the last one is the winner.
	slices.SortStableFunc(changes, func(a, b change) int { return bytes.Compare(a.path[:], b.path[:]) })

	tw := &treeWriter{s: s, version: version, batch: s.db.NewBatch(), stale: true}
	defer tw.batch.Close()
	ops := make([]op, 0, len(changes))
	for i := range changes {
		c := &changes[i]
		if i+1 < len(changes) && changes[i+1].path == c.path {
			continue
		}
		o := op{key: c.path, del: c.w.Value == nil, id: c.w.ID, raw: c.w.Value, version: version}
		if !o.del {
			o.value = merkle.ValueHash(c.w.Value)
		}
		ops = append(ops, o)
	}

	var err error
	newRoot := root
	if len(ops) > 0 {
		var zero merkle.Hash
		if newRoot, err = tw.update(root, 0, &zero, ops); err != nil {
			return merkle.Hash{}, err
		}
	}
	tw.batch.Set(rootKey(version), encodeChild(nil, &newRoot), nil)
	tw.batch.Set([]byte{keyLatest}, u64(version), nil)
	opt := pebble.NoSync
	if s.sync {
		opt = pebble.Sync
	}
	if err := tw.batch.Commit(opt); err != nil {
		return merkle.Hash{}, fmt.Errorf("state: commit version %d: %w", version, err)
	}
	for _, w := range tw.written {
		s.cache.add(w.key, w.p)
	}
	s.mu.Lock()
	s.latest, s.latestRoot = version, newRoot
	s.mu.Unlock()
	return newRoot.hash(), nil
}

// update applies ops (sorted, distinct paths, non-empty, all sharing the
// subtree's first depth nibbles, which prefix holds) to the subtree c and
// returns what replaces it.
func (tw *treeWriter) update(c child, depth int, prefix *merkle.Hash, ops []op) (child, error) {
	switch c.kind {
	case kindEmpty:
		sets := make([]op, 0, len(ops))
		for i := range ops {
			if !ops[i].del { // a delete here is of an absent register: nothing
				tw.put(&ops[i])
				sets = append(sets, ops[i])
			}
		}
		return tw.build(depth, prefix, sets), nil

	case kindLeaf:
		for i := range ops {
			o := &ops[i]
			if o.key == c.a {
				tw.supersede(&c)
			}
			switch {
			case !o.del:
				tw.put(o)
			case o.key == c.a:
				tw.tombstone(o)
			}
		}
		if len(ops) == 1 && ops[0].key == c.a {
			if ops[0].del {
				return child{}, nil
			}
			return child{kind: kindLeaf, version: tw.version, a: c.a, b: ops[0].value}, nil
		}
		// Merge the existing leaf into the sets unless an op overrides it.
		old := op{key: c.a, value: c.b, version: c.version}
		sets := make([]op, 0, len(ops)+1)
		placed := false
		for _, o := range ops {
			if !placed {
				if cmp := bytes.Compare(old.key[:], o.key[:]); cmp < 0 {
					sets = append(sets, old)
					placed = true
				} else if cmp == 0 {
					placed = true
				}
			}
			if !o.del {
				sets = append(sets, o)
			}
		}
		if !placed {
			sets = append(sets, old)
		}
		return tw.build(depth, prefix, sets), nil
	}

	p, key, err := tw.s.loadPage(depth, prefix, c.version)
	if err != nil {
		return child{}, err
	}
	if tw.stale && c.version != tw.version {
		tw.batch.Set(staleKey(tw.version, staleSuperseded, key), nil, nil)
	}
	slots := p.slots
	for i := 0; i < len(ops); {
		n := nibble(&ops[i].key, depth)
		j := i + 1
		for j < len(ops) && nibble(&ops[j].key, depth) == n {
			j++
		}
		sub := withNibble(*prefix, depth, n)
		if slots[n], err = tw.update(slots[n], depth+1, &sub, ops[i:j]); err != nil {
			return child{}, err
		}
		i = j
	}
	return tw.finish(depth, prefix, &slots), nil
}

// build makes a fresh subtree from sets (sorted, distinct, no deletes).
func (tw *treeWriter) build(depth int, prefix *merkle.Hash, sets []op) child {
	switch len(sets) {
	case 0:
		return child{}
	case 1:
		return child{kind: kindLeaf, version: sets[0].version, a: sets[0].key, b: sets[0].value}
	}
	var slots [16]child
	for i := 0; i < len(sets); {
		n := nibble(&sets[i].key, depth)
		j := i + 1
		for j < len(sets) && nibble(&sets[j].key, depth) == n {
			j++
		}
		sub := withNibble(*prefix, depth, n)
		slots[n] = tw.build(depth+1, &sub, sets[i:j])
		i = j
	}
	return tw.finish(depth, prefix, &slots)
}

// finish turns a page's new slots into its replacement: nothing if they
// are empty, the leaf itself if only one leaf is left (shortcut), a new
// page otherwise.
func (tw *treeWriter) finish(depth int, prefix *merkle.Hash, slots *[16]child) child {
	var nonEmpty, last int
	for s := range slots {
		if slots[s].kind != kindEmpty {
			nonEmpty++
			last = s
		}
	}
	switch {
	case nonEmpty == 0:
		return child{}
	case nonEmpty == 1 && slots[last].kind == kindLeaf:
		return slots[last]
	}
	p := newPage(slots)
	key := nodeKey(depth, prefix, tw.version)
	tw.batch.Set(key, p.encode(), nil)
	tw.written = append(tw.written, writtenPage{key, p})
	return child{kind: kindPage, version: tw.version, b: p.hashes[1]}
}

// put writes o's value record.
func (tw *treeWriter) put(o *op) {
	tw.batch.Set(valueKey(&o.key, tw.version), encodeRecord(o.id, o.raw), nil)
}

// tombstone records the deletion of o's register: an empty record that
// hides the older ones for the versions that still read them, and is
// itself dropped by pruning once they are gone (the stale index orders it
// after them).
func (tw *treeWriter) tombstone(o *op) {
	key := valueKey(&o.key, tw.version)
	tw.batch.Set(key, nil, nil)
	tw.batch.Set(staleKey(tw.version, staleTombstone, key), nil, nil)
}

// supersede records that the value record of leaf is not needed from this
// version on.
func (tw *treeWriter) supersede(leaf *child) {
	if tw.stale {
		tw.batch.Set(staleKey(tw.version, staleSuperseded, valueKey(&leaf.a, leaf.version)), nil, nil)
	}
}

package blockstm

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/floe-bft/floe/state"
)

// mvShards spreads the register map's lock; a power of two.
const mvShards = 64

// mvMemory is the multi-version memory of one block: per register, the
// value each transaction's latest run wrote (or an estimate mark when
// that run was aborted and the transaction will run again), ordered by
// transaction. A read by transaction i sees the entry of the highest
// transaction below i — what sequential execution would have left there
// if every entry below i is final.
type mvMemory struct {
	seed   maphash.Seed
	shards [mvShards]mvShard
}

type mvShard struct {
	mu   sync.RWMutex
	regs map[state.RegisterID]*mvRegister
	// slab is where the shard's next registers are allocated from, under
	// mu, a slab at a time.
	slab []mvRegister
	_    pad // keeps shards' locks on separate cache lines
}

// mvSlab is how many registers a shard allocates at once.
const mvSlab = 16

// mvRegister holds one register's entries sorted by transaction, at most
// one per transaction; a register one transaction writes keeps its entry
// in first.
type mvRegister struct {
	mu      sync.Mutex
	entries []mvEntry
	first   [1]mvEntry
}

type mvEntry struct {
	tx, inc  int32
	estimate bool
	value    []byte
}

// newMVMemory returns the memory of a block of n transactions, its maps
// sized for two registers written per transaction (up to a bound).
func newMVMemory(n int) *mvMemory {
	m := &mvMemory{seed: maphash.MakeSeed()}
	hint := 2 * min(n, mvHintTxs) / mvShards
	for k := range m.shards {
		m.shards[k].regs = make(map[state.RegisterID]*mvRegister, hint)
	}
	return m
}

// mvHintTxs bounds the transactions the maps are sized for up front.
const mvHintTxs = 4096

func (m *mvMemory) shard(id state.RegisterID) *mvShard {
	return &m.shards[maphash.Comparable(m.seed, id)&(mvShards-1)]
}

func (m *mvMemory) lookup(id state.RegisterID) *mvRegister {
	s := m.shard(id)
	s.mu.RLock()
	r := s.regs[id]
	s.mu.RUnlock()
	return r
}

func (m *mvMemory) lookupOrCreate(id state.RegisterID) *mvRegister {
	if r := m.lookup(id); r != nil {
		return r
	}
	s := m.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.regs[id]
	if r == nil {
		if len(s.slab) == 0 {
			s.slab = make([]mvRegister, mvSlab)
		}
		r = &s.slab[0]
		s.slab = s.slab[1:]
		r.entries = r.first[:0]
		s.regs[id] = r
	}
	return r
}

// search returns the position of tx's entry, or where it would go.
func (r *mvRegister) search(tx int32) (int, bool) {
	return slices.BinarySearchFunc(r.entries, tx, func(e mvEntry, t int32) int { return int(e.tx - t) })
}

// read returns what transaction tx reads of id from the transactions
// before it: found false means none of them wrote it (read the start
// state); blockedBy ≥ 0 means the latest writer's entry is an estimate.
// writers is how many transactions of the whole block currently write
// id, the hint of how hot it is.
func (m *mvMemory) read(id state.RegisterID, tx int32) (value []byte, ver version, found bool, blockedBy, writers int) {
	r := m.lookup(id)
	if r == nil {
		return nil, startVersion, false, -1, 0
	}
	r.mu.Lock()
	writers = len(r.entries)
	k, _ := r.search(tx)
	if k == 0 {
		r.mu.Unlock()
		return nil, startVersion, false, -1, writers
	}
	e := r.entries[k-1]
	r.mu.Unlock()
	if e.estimate {
		return nil, version{}, false, int(e.tx), writers
	}
	return e.value, version{tx: e.tx, inc: e.inc}, true, -1, writers
}

// write sets tx's entry for id to a run's value.
func (m *mvMemory) write(id state.RegisterID, tx, inc int32, value []byte) {
	r := m.lookupOrCreate(id)
	r.mu.Lock()
	k, ok := r.search(tx)
	e := mvEntry{tx: tx, inc: inc, value: value}
	if ok {
		r.entries[k] = e
	} else {
		r.entries = slices.Insert(r.entries, k, e)
	}
	r.mu.Unlock()
}

// remove drops tx's entry for id: its latest run no longer writes it.
func (m *mvMemory) remove(id state.RegisterID, tx int32) {
	r := m.lookup(id)
	if r == nil {
		return
	}
	r.mu.Lock()
	if k, ok := r.search(tx); ok {
		r.entries = slices.Delete(r.entries, k, k+1)
	}
	r.mu.Unlock()
}

// markEstimate turns tx's entry for id into an estimate: the run that
// wrote it was aborted, and readers should wait for the next one.
func (m *mvMemory) markEstimate(id state.RegisterID, tx int32) {
	r := m.lookup(id)
	if r == nil {
		return
	}
	r.mu.Lock()
	if k, ok := r.search(tx); ok {
		r.entries[k].estimate = true
	}
	r.mu.Unlock()
}

// finalWrites returns the net writes held in shards [from, to), sorted
// by ID: per register, the entry of the highest transaction that writes
// it. Once the block is done every entry is its transaction's final run's
// write, so this is what merging the final write sets gives. Called when
// no run is in flight.
func (m *mvMemory) finalWrites(from, to int) []state.Write {
	var ws []state.Write
	for k := from; k < to; k++ {
		for id, r := range m.shards[k].regs {
			if len(r.entries) > 0 {
				ws = append(ws, state.Write{ID: id, Value: r.entries[len(r.entries)-1].value})
			}
		}
	}
	return sortWrites(ws)
}

// mvSource is the View source of one run of transaction tx in Execute.
type mvSource struct {
	e     *executor
	tx    int32
	stats *runStats // the worker's
}

func (s *mvSource) read(id state.RegisterID) ([]byte, version, int, error) {
	for {
		value, ver, found, blockedBy, writers := s.e.mv.read(id, s.tx)
		if blockedBy < 0 {
			blockedBy = s.e.likelyWriter(writers, ver.tx, s.tx)
		}
		if blockedBy < 0 {
			if found {
				return value, ver, -1, nil
			}
			value, err := s.e.base.Get(id)
			return value, startVersion, -1, err
		}
		// The value depends on a run of blockedBy: wait for it here if it
		// is in progress (cheaper than abandoning this run and walking
		// the scheduler's index back to it), else end this run and wait
		// as a dependency.
		s.stats.inPlace++
		if s.e.sched.waitForRun(int32(blockedBy), &s.e.stop) != runFinished {
			return nil, version{}, blockedBy, nil
		}
	}
}

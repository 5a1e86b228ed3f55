package storage

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/safety"
)

// Memory is an in-memory store with the semantics of Pebble (same checks,
// same pruning, same errors), for tests and the simulator. Nothing survives
// the process; Close does nothing, so a test "reopens" a Memory by using it
// again. It is safe for concurrent use.
//
// Blocks are kept by pointer: model blocks are immutable.
type Memory struct {
	mu sync.Mutex

	initialized bool
	root        *model.Block
	baseHeight  uint64 // height of the Init root: the lowest indexed height
	blocks      map[model.Identifier]*model.Block
	pending     map[model.Identifier]*model.Block // above the root, not finalized
	finalized   map[uint64]model.Identifier
	safety      safety.Data
	liveness    pacemaker.Data
	epochs      []byte

	executed uint64
	results  map[model.Identifier]TxResult
	roots    map[uint64][32]byte
	app      map[string][]byte // values are private copies, replaced never mutated
}

// NewMemory returns an empty, uninitialized in-memory store.
func NewMemory() *Memory {
	return &Memory{
		blocks:    make(map[model.Identifier]*model.Block),
		pending:   make(map[model.Identifier]*model.Block),
		finalized: make(map[uint64]model.Identifier),
		results:   make(map[model.Identifier]TxResult),
		roots:     make(map[uint64][32]byte),
		app:       make(map[string][]byte),
	}
}

// Close does nothing: the data lives as long as the Memory.
func (m *Memory) Close() error { return nil }

// Init stores the genesis state; it fails if the store is initialized.
func (m *Memory) Init(st consensus.State) error {
	if err := checkState(st); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.initialized {
		return invalid("store already initialized")
	}
	m.initialized = true
	m.root = st.Root
	m.baseHeight = st.Root.Height
	m.blocks[st.Root.ID()] = st.Root
	m.finalized[st.Root.Height] = st.Root.ID()
	m.safety, m.liveness = st.Safety, st.Liveness
	for _, b := range st.Blocks {
		m.blocks[b.ID()] = b
		m.pending[b.ID()] = b
	}
	return nil
}

// Commit applies c atomically (everything is checked before anything
// changes), pruning like Pebble.Commit.
func (m *Memory) Commit(c Commit) error {
	if c.Empty() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.initialized {
		return invalid("commit to an uninitialized store")
	}
	old := infoOf(m.root)
	root, err := checkCommit(old, c)
	if err != nil {
		return err
	}
	if c.Safety != nil {
		m.safety = *c.Safety
	}
	if c.Liveness != nil {
		m.liveness = *c.Liveness
	}
	if c.Epochs != nil {
		m.epochs = append([]byte(nil), c.Epochs...)
	}
	if root != old {
		for id, b := range m.pending {
			if b.View <= root.View {
				delete(m.pending, id)
				delete(m.blocks, id) // finalized ones are put back below
			}
		}
		for _, b := range c.Finalized {
			m.blocks[b.ID()] = b
			m.finalized[b.Height] = b.ID()
		}
		m.root = c.Finalized[len(c.Finalized)-1]
	}
	for _, b := range c.Blocks {
		if b.View <= root.View {
			continue
		}
		m.blocks[b.ID()] = b
		m.pending[b.ID()] = b
	}
	return nil
}

// LoadState returns the persisted state (blocks ordered by view, then ID,
// as Pebble returns them), or false if the store was never initialized.
func (m *Memory) LoadState() (consensus.State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.initialized {
		return consensus.State{}, false, nil
	}
	st := consensus.State{Root: m.root, Safety: m.safety, Liveness: m.liveness}
	for _, b := range m.pending {
		st.Blocks = append(st.Blocks, b)
	}
	// Map order is random; the simulator needs runs to be reproducible.
	slices.SortFunc(st.Blocks, func(a, b *model.Block) int {
		if c := cmp.Compare(a.View, b.View); c != 0 {
			return c
		}
		ia, ib := a.ID(), b.ID()
		return bytes.Compare(ia[:], ib[:])
	})
	return st, true, nil
}

// Block returns any stored block by ID.
func (m *Memory) Block(id model.Identifier) (*model.Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[id]
	if !ok {
		return nil, ErrNotFound
	}
	return b, nil
}

// FinalizedByHeight returns the finalized block at height.
func (m *Memory) FinalizedByHeight(height uint64) (*model.Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.finalized[height]
	if !ok {
		return nil, ErrNotFound
	}
	return m.blocks[id], nil
}

// FinalizedHeight is the height of the last finalized block (ErrNotFound
// before Init).
func (m *Memory) FinalizedHeight() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.initialized {
		return 0, ErrNotFound
	}
	return m.root.Height, nil
}

// FinalizedRange has the semantics of Pebble.FinalizedRange.
func (m *Memory) FinalizedRange(from, to uint64, maxBlocks int) ([]*model.Block, error) {
	if maxBlocks <= 0 {
		return nil, invalid("range of at most %d blocks", maxBlocks)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.initialized {
		return nil, ErrNotFound
	}
	if from > to || from > m.root.Height {
		return nil, nil
	}
	if from < m.baseHeight {
		return nil, ErrNotFound
	}
	to = min(to, m.root.Height)
	if to-from >= uint64(maxBlocks) {
		to = from + uint64(maxBlocks) - 1
	}
	out := make([]*model.Block, 0, to-from+1)
	for h := from; ; h++ {
		out = append(out, m.blocks[m.finalized[h]])
		if h == to {
			break
		}
	}
	return out, nil
}

// ExecutedHeight is the last executed height; 0 if nothing was executed.
func (m *Memory) ExecutedHeight() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.executed, nil
}

// SaveExecution stores one height's execution atomically; heights must
// increase.
func (m *Memory) SaveExecution(height uint64, root [32]byte, results []TxResult, writes []KV) error {
	return m.saveExecuted(height, root, results, writes, true)
}

// SaveResults stores results and the state root of height (see AppStore).
func (m *Memory) SaveResults(height uint64, root [32]byte, results []TxResult) error {
	return m.saveExecuted(height, root, results, nil, false)
}

func (m *Memory) saveExecuted(height uint64, root [32]byte, results []TxResult, writes []KV, moveExecuted bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkExecution(m.executed, height); err != nil {
		return err
	}
	for _, r := range results {
		m.results[r.ID] = clampResult(r)
	}
	for _, w := range writes {
		if w.Value == nil {
			delete(m.app, string(w.Key))
		} else {
			m.app[string(w.Key)] = append([]byte{}, w.Value...)
		}
	}
	m.roots[height] = root
	if moveExecuted {
		m.executed = height
	}
	return nil
}

// SaveGenesisState stores the initial state (see AppStore).
func (m *Memory) SaveGenesisState(root [32]byte, writes []KV) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.executed > 0 {
		return invalid("initial state after executing height %d", m.executed)
	}
	if _, ok := m.roots[0]; ok {
		return invalid("initial state saved twice")
	}
	for _, w := range writes {
		if w.Value == nil {
			return invalid("initial state with a deleted key")
		}
		m.app[string(w.Key)] = append([]byte{}, w.Value...)
	}
	m.roots[0] = root
	return nil
}

// TxResult looks a transaction up by ID.
func (m *Memory) TxResult(id model.Identifier) (TxResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.results[id]
	if !ok {
		return TxResult{}, ErrNotFound
	}
	return r, nil
}

// StateRoot returns the state root recorded after executing height.
func (m *Memory) StateRoot(height uint64) ([32]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.roots[height]
	if !ok {
		return [32]byte{}, ErrNotFound
	}
	return r, nil
}

// Get reads an application key; the returned slice belongs to the caller.
func (m *Memory) Get(key []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.app[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte{}, v...), nil
}

// Iterate calls fn for every application key in key order, over a snapshot
// taken when it starts; fn may use the store.
func (m *Memory) Iterate(fn func(key, value []byte) error) error {
	type kv struct {
		k string
		v []byte // never mutated, only replaced: safe to share
	}
	m.mu.Lock()
	snap := make([]kv, 0, len(m.app))
	for k, v := range m.app {
		snap = append(snap, kv{k, v})
	}
	m.mu.Unlock()
	slices.SortFunc(snap, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	for _, e := range snap {
		if err := fn([]byte(e.k), append([]byte{}, e.v...)); err != nil {
			return err
		}
	}
	return nil
}

// EpochState returns the encoded epoch state last committed, or ErrNotFound.
func (m *Memory) EpochState() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epochs == nil {
		return nil, ErrNotFound
	}
	return append([]byte(nil), m.epochs...), nil
}

package follower

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/storage"
)

// Store persists what the follower has proven: certified blocks connected
// to the finalized block, and finality. Nothing uncertified ever reaches it.
type Store interface {
	// Load returns the saved state, and false if nothing was saved yet.
	Load() (Saved, bool, error)
	// Save writes one update atomically (and durably, before returning).
	Save(u Update) error
}

// Saved is the state a follower restarts from.
type Saved struct {
	Finalized *model.Block   // the last finalized block
	Certified []*model.Block // certified blocks above it, by view
	TipQC     *model.QC      // certifies the newest of them (or Finalized)
}

// Update is what one input changed.
type Update struct {
	Certified []*model.Block // newly connected certified blocks, parents first
	Finalized []*model.Block // newly final blocks, oldest first, consecutive heights
	TipQC     *model.QC      // certifies the newest certified block
	// Extra is what Config.BeforeSave returned (nil: nothing), stored in
	// the same batch (PebbleStore: the node's epoch state).
	Extra []byte
}

// MemoryStore is a Store in memory, for tests and benchmarks. It keeps every
// saved block, so tests can assert what did (and did not) reach "disk".
type MemoryStore struct {
	mu        sync.Mutex
	root      *model.Block
	blocks    map[model.Identifier]*model.Block
	pending   map[model.Identifier]*model.Block
	finalized []*model.Block // by height, from the first finalized after the root
	tipQC     *model.QC
	saves     int
}

// NewMemoryStore returns a store that starts from the trusted root.
func NewMemoryStore(root *model.Block, rootQC *model.QC) *MemoryStore {
	return &MemoryStore{
		root: root, tipQC: rootQC,
		blocks:  map[model.Identifier]*model.Block{root.ID(): root},
		pending: make(map[model.Identifier]*model.Block),
	}
}

// Load implements Store.
func (m *MemoryStore) Load() (Saved, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Saved{Finalized: m.root, TipQC: m.tipQC}
	for _, b := range m.pending {
		s.Certified = append(s.Certified, b)
	}
	sortByView(s.Certified)
	return s, true, nil
}

// Save implements Store.
func (m *MemoryStore) Save(u Update) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range u.Finalized {
		if b.ParentID != m.root.ID() || b.Height != m.root.Height+1 {
			return fmt.Errorf("%w: finalized block %v does not extend %v", storage.ErrInvalid, b.ID(), m.root.ID())
		}
		m.root = b
		m.finalized = append(m.finalized, b)
		m.blocks[b.ID()] = b
	}
	for _, b := range u.Certified {
		m.blocks[b.ID()] = b
		m.pending[b.ID()] = b
	}
	for id, b := range m.pending {
		if b.View <= m.root.View {
			delete(m.pending, id)
		}
	}
	if u.TipQC != nil {
		m.tipQC = u.TipQC
	}
	m.saves++
	return nil
}

// Has reports whether a block was ever saved.
func (m *MemoryStore) Has(id model.Identifier) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocks[id] != nil
}

// Len is the number of blocks saved (the root included).
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blocks)
}

// Finalized returns the last finalized block.
func (m *MemoryStore) Finalized() *model.Block {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.root
}

// Saves counts Save calls (batching is visible to tests).
func (m *MemoryStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}

// PebbleStore keeps the follower's blocks in the node's Pebble store, in the
// same layout a participant uses: the finalized chain indexed by height
// (which the API, the executor and sync serve from), certified blocks above
// it in the pending index, and the newest QC in the liveness record so a
// restart knows the newest block is certified. A follower never signs, so
// its safety data stays at genesis.
type PebbleStore struct {
	db *storage.Pebble
}

// NewPebbleStore wraps db, initializing it with the root if it is empty.
func NewPebbleStore(db *storage.Pebble, root *model.Block, rootQC *model.QC) (*PebbleStore, error) {
	_, found, err := db.LoadState()
	if err != nil {
		return nil, err
	}
	if !found {
		if err := db.Init(consensus.GenesisState(root, rootQC)); err != nil {
			return nil, err
		}
	} else if b, err := db.FinalizedByHeight(root.Height); err != nil || b.ID() != root.ID() {
		return nil, fmt.Errorf("follower: the store belongs to another chain (root block differs)")
	}
	return &PebbleStore{db: db}, nil
}

// Load implements Store.
func (p *PebbleStore) Load() (Saved, bool, error) {
	st, found, err := p.db.LoadState()
	if err != nil || !found {
		return Saved{}, found, err
	}
	return Saved{Finalized: st.Root, Certified: st.Blocks, TipQC: st.Liveness.NewestQC}, true, nil
}

// Save implements Store: one synced Pebble batch.
func (p *PebbleStore) Save(u Update) error {
	c := storage.Commit{Blocks: u.Certified, Finalized: u.Finalized, Epochs: u.Extra}
	if u.TipQC != nil {
		c.Liveness = &pacemaker.Data{CurrentView: u.TipQC.View + 1, NewestQC: u.TipQC}
	}
	return p.db.Commit(c)
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Store = (*PebbleStore)(nil)
)

func sortByView(bs []*model.Block) {
	slices.SortFunc(bs, func(a, b *model.Block) int { return cmp.Compare(a.View, b.View) })
}

package wasm

import (
	"container/list"
	"context"
	"sync"

	"github.com/tetratelabs/wazero"
)

// moduleCache is a bounded LRU of compiled modules keyed by the
// instrumented binary's hash (the code hash plus the limits baked into it).
// Entries are reference counted: an entry evicted while calls still run on
// it is closed by the last of them, since closing a compiled module frees
// the machine code its instances execute.
type moduleCache struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *cacheEntry, most recently used first
	items map[[32]byte]*cacheEntry
}

type cacheEntry struct {
	key      [32]byte
	compiled wazero.CompiledModule
	refs     int
	evicted  bool
	elem     *list.Element
}

func newModuleCache(max int) *moduleCache {
	return &moduleCache{max: max, lru: list.New(), items: make(map[[32]byte]*cacheEntry)}
}

// get returns the entry for key, referenced, or nil.
func (c *moduleCache) get(key [32]byte) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.items[key]
	if e == nil {
		return nil
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	return e
}

// put inserts a freshly compiled module and returns its entry, referenced.
// If another goroutine inserted the same key first, that entry is returned
// and the duplicate closed.
func (c *moduleCache) put(ctx context.Context, key [32]byte, cm wazero.CompiledModule) *cacheEntry {
	var toClose []wazero.CompiledModule
	c.mu.Lock()
	e := c.items[key]
	if e != nil {
		toClose = append(toClose, cm)
	} else {
		e = &cacheEntry{key: key, compiled: cm}
		e.elem = c.lru.PushFront(e)
		c.items[key] = e
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.items, old.key)
		old.evicted = true
		if old.refs == 0 {
			toClose = append(toClose, old.compiled)
		}
	}
	c.mu.Unlock()
	for _, m := range toClose {
		_ = m.Close(ctx)
	}
	return e
}

// release drops a reference; an evicted entry is closed by its last user.
func (c *moduleCache) release(ctx context.Context, e *cacheEntry) {
	c.mu.Lock()
	e.refs--
	closeIt := e.evicted && e.refs == 0
	c.mu.Unlock()
	if closeIt {
		_ = e.compiled.Close(ctx)
	}
}

// len returns the number of cached modules.
func (c *moduleCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

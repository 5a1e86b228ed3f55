package state

import (
	"container/list"
	"sync"
)

// pageCache is a bounded LRU of decoded pages keyed by their storage key.
// Pages are immutable under their key (a new version is a new key), so
// the cache never needs invalidation; pruned pages simply age out. The
// hot top of the tree (a few thousand pages) stays in it by use rather
// than by pinning, which would have to track versions.
type pageCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	p   *page
}

func newPageCache(maxPages int) *pageCache {
	if maxPages < 1 {
		maxPages = 1
	}
	return &pageCache{max: maxPages, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *pageCache) get(key []byte) *page {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[string(key)]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).p
	}
	return nil
}

func (c *pageCache) add(key []byte, p *page) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[string(key)]; ok {
		e.Value.(*cacheEntry).p = p
		c.ll.MoveToFront(e)
		return
	}
	k := string(key)
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, p: p})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

func (c *pageCache) remove(key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[string(key)]; ok {
		c.ll.Remove(e)
		delete(c.items, string(key))
	}
}

func (c *pageCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

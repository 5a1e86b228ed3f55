package payload

import (
	"sync"

	"github.com/floe-bft/floe/consensus/model"
)

// Cache keeps the decoded payloads of recent blocks by block ID, so that a
// node decodes each block once (validation, transaction tracking, epochs,
// execution all read it). It holds at most maxBytes of encoded payload (a
// decoded payload takes about as much), dropping the oldest entries first,
// and is safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	lim      Limits
	maxBytes int
	bytes    int
	byID     map[model.Identifier]*Payload
	order    []cached // insertion order, oldest first
	hits     uint64
}

type cached struct {
	id   model.Identifier
	size int
}

// NewCache returns a cache of at most maxBytes of payloads, decoding within
// lim. A payload larger than maxBytes is decoded but not kept.
func NewCache(maxBytes int, lim Limits) *Cache {
	return &Cache{lim: lim, maxBytes: maxBytes, byID: make(map[model.Identifier]*Payload)}
}

// Get returns b's decoded payload, decoding it on first use. A payload that
// does not decode is not cached (its error is returned each time).
func (c *Cache) Get(b *model.Block) (*Payload, error) {
	id := b.ID()
	c.mu.Lock()
	if p, ok := c.byID[id]; ok {
		c.hits++
		c.mu.Unlock()
		return p, nil
	}
	c.mu.Unlock()
	p, err := Decode(b.Payload, c.lim)
	if err != nil {
		return nil, err
	}
	size := len(b.Payload) + 1 // the empty payload still takes an entry
	if size > c.maxBytes {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; ok {
		return p, nil
	}
	for c.bytes+size > c.maxBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		delete(c.byID, old.id)
		c.bytes -= old.size
	}
	c.byID[id] = p
	c.order = append(c.order, cached{id, size})
	c.bytes += size
	return p, nil
}

// Hits is how many Gets were answered without decoding.
func (c *Cache) Hits() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

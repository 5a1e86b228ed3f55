package wasm

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// fakeCompiled records Close; the cache calls nothing else.
type fakeCompiled struct {
	wazero.CompiledModule
	closed *bool
}

func (f fakeCompiled) Close(context.Context) error { *f.closed = true; return nil }

func TestModuleCacheRefcount(t *testing.T) {
	ctx := context.Background()
	c := newModuleCache(2)
	closed := make([]bool, 4)
	key := func(i int) [32]byte { return [32]byte{byte(i)} }
	entry := func(i int) *cacheEntry {
		return c.put(ctx, key(i), fakeCompiled{closed: &closed[i]})
	}
	e0 := entry(0) // in use
	e1 := entry(1)
	c.release(ctx, e1)
	entry(2) // evicts 0, the least recently used, still in use
	if c.len() != 2 || c.get(key(0)) != nil {
		t.Fatal("entry 0 not evicted")
	}
	if closed[0] {
		t.Fatal("an evicted module still in use was closed")
	}
	c.release(ctx, e0)
	if !closed[0] {
		t.Fatal("the last user of an evicted module did not close it")
	}
	// An idle entry is closed on eviction; a duplicate put keeps the
	// first module and closes the second.
	e3 := entry(3) // evicts 1 (idle)
	if !closed[1] {
		t.Fatal("idle evicted module not closed")
	}
	dup := false
	if got := c.put(ctx, key(3), fakeCompiled{closed: &dup}); got != e3 || !dup {
		t.Fatal("duplicate put did not keep the first module")
	}
	if closed[3] {
		t.Fatal("the cached module was closed")
	}
}

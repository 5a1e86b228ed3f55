package execution

import (
	"fmt"

	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/state"
)

// stateOptions are the state store's options for dir ("": in memory)
// within cacheBytes of caches (0: the store's defaults).
func stateOptions(dir string, cacheBytes int64) state.Options {
	opts := state.Options{InMemory: dir == ""}
	if cacheBytes > 0 {
		opts.CacheBytes, opts.NodeCacheBytes = cacheBytes/2, cacheBytes/2
	}
	return opts
}

// openState opens the register state in dir ("" in memory) and, when it
// is new, commits the genesis state (ledger.GenesisWrites: the genesis
// file's key/value entries, and its accounts) at engine.GenesisVersion,
// in one commit (the genesis file is bounded by genesis.MaxFileBytes).
func openState(dir string, opts state.Options, g *genesis.Genesis) (*state.Store, error) {
	st, err := state.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	if v, _ := st.Latest(); v > 0 {
		return st, nil
	}
	writes, err := ledger.GenesisWrites(g)
	if err == nil && len(writes) > 0 {
		_, err = st.Commit(engine.GenesisVersion, writes)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("import the genesis state: %w", err)
	}
	return st, nil
}

package consensus

import (
	"errors"
	"math/rand"
	"slices"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/mempool"
)

func txID(i int) mempool.ID { return crypto.Sum([]byte{byte(i), byte(i >> 8)}) }

func blockID(i int) model.Identifier { return crypto.Sum([]byte{'b', byte(i)}) }

func testBlock(parent model.Identifier, height uint64) *model.Block {
	b := &model.Block{}
	b.Header.ParentID, b.Header.Height, b.Header.View = parent, height, model.View(height)
	return b
}

// TestChainTxsRule: a block may not repeat a transaction of its own chain
// (unfinalized ancestors, or finalized within the window), nor carry one
// twice; a transaction of a block on another fork is fine.
func TestChainTxsRule(t *testing.T) {
	c := newChainTxs(4)
	// Finalized chain: heights 1..5, tx i at height i.
	for h := 1; h <= 5; h++ {
		c.finalized(uint64(h), []mempool.ID{txID(h)})
	}
	root := blockID(5)
	// Two forks above the root: A (h6: tx 6) and B (h6: tx 7).
	c.add(blockID(61), root, 6, []mempool.ID{txID(6)})
	c.add(blockID(62), root, 6, []mempool.ID{txID(7)})
	// A block at h7 on fork A.
	onA := testBlock(blockID(61), 7)
	cases := []struct {
		name string
		b    *model.Block
		ids  []mempool.ID
		bad  bool
	}{
		{"fresh", onA, []mempool.ID{txID(100)}, false},
		{"repeats its parent", onA, []mempool.ID{txID(6)}, true},
		{"carries the other fork's tx", onA, []mempool.ID{txID(7)}, false},
		{"repeats a finalized tx in the window", onA, []mempool.ID{txID(4)}, true},
		{"finalized before the window", onA, []mempool.ID{txID(2)}, false},
		{"carries one twice", onA, []mempool.ID{txID(100), txID(100)}, true},
		{"unknown ancestry", testBlock(blockID(99), 7), nil, true},
	}
	for _, tc := range cases {
		err := c.check(tc.b, tc.ids)
		if tc.bad != (err != nil) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
	}
	// Fork A wins: B's block leaves the index, and its tx may be proposed
	// on the winning chain.
	c.finalized(6, []mempool.ID{txID(6)})
	if _, ok := c.blocks[blockID(62)]; ok {
		t.Fatal("losing fork still tracked")
	}
	if err := c.check(onA, []mempool.ID{txID(7)}); err != nil {
		t.Fatalf("a transaction of the losing fork is refused: %v", err)
	}
	if err := c.check(onA, []mempool.ID{txID(6)}); err == nil {
		t.Fatal("a transaction finalized at the parent's height is accepted")
	}
	if len(c.finalAt) > 4 || len(c.final) > 4 {
		t.Fatalf("window holds %d heights, %d transactions; bound is 4", len(c.finalAt), len(c.final))
	}
}

// TestChainTxsMatchesBruteForce drives the index through random block trees
// (forks, failed views, finalization) and compares every verdict with a
// brute-force walk of the block's whole chain: a block is refused exactly
// when it repeats a transaction of its chain within the window, or carries
// one twice. Whatever is accepted and finalized never holds a transaction
// twice within the window.
func TestChainTxsMatchesBruteForce(t *testing.T) {
	const window = 5
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewSource(seed))
		c := newChainTxs(window)
		type blk struct {
			id     model.Identifier
			parent *blk
			height uint64
			ids    []mempool.ID
		}
		root := &blk{id: blockID(0)}
		final := root
		tree := []*blk{root}
		next := 1
		chainOf := func(b *blk) []*blk {
			var out []*blk
			for x := b; x != nil; x = x.parent {
				out = append(out, x)
			}
			return out
		}
		for step := 0; step < 150; step++ {
			// Extend a random block of the tree above the finalized one.
			var parents []*blk
			for _, b := range tree {
				if b.height >= final.height {
					for x := b; x != nil; x = x.parent {
						if x == final {
							parents = append(parents, b)
							break
						}
					}
				}
			}
			parent := parents[rng.Intn(len(parents))]
			nb := &blk{id: crypto.Sum([]byte{byte(seed), byte(next), byte(next >> 8)}), parent: parent, height: parent.height + 1}
			next++
			for k := rng.Intn(4); k > 0; k-- {
				nb.ids = append(nb.ids, txID(rng.Intn(40)))
			}
			// Brute force: refused iff a duplicate inside, or a transaction
			// of an ancestor within the window.
			want := false
			seen := map[mempool.ID]bool{}
			for _, id := range nb.ids {
				want = want || seen[id]
				seen[id] = true
			}
			for _, a := range chainOf(parent) {
				if a.height+window < nb.height || a == root {
					continue
				}
				for _, id := range a.ids {
					want = want || seen[id]
				}
			}
			b := testBlock(parent.id, nb.height)
			err := c.check(b, nb.ids)
			if (err != nil) != want {
				t.Fatalf("seed %d step %d: index says %v, brute force says refused=%v", seed, step, err, want)
			}
			if err == nil {
				c.add(nb.id, parent.id, nb.height, nb.ids)
				tree = append(tree, nb)
			}
			// Now and then finalize a block of the tree on the finalized chain.
			if rng.Intn(4) == 0 {
				var cands []*blk
				for _, b := range tree {
					if b.height > final.height {
						for x := b.parent; x != nil; x = x.parent {
							if x == final {
								cands = append(cands, b)
								break
							}
						}
					}
				}
				if len(cands) > 0 {
					f := cands[rng.Intn(len(cands))]
					var path []*blk
					for x := f; x != final; x = x.parent {
						path = append(path, x)
					}
					for i := len(path) - 1; i >= 0; i-- {
						c.finalized(path[i].height, path[i].ids)
					}
					final = f
				}
			}
		}
		// The index holds exactly the tracked blocks' transactions.
		held := 0
		for tx, hs := range c.holders {
			for _, h := range hs {
				b, ok := c.blocks[h]
				if !ok || !slices.Contains(b.ids, tx) {
					t.Fatalf("seed %d: index names block %v for a transaction it does not carry", seed, h)
				}
				held++
			}
		}
		carried := 0
		for _, b := range c.blocks {
			carried += len(b.ids)
		}
		if held != carried {
			t.Fatalf("seed %d: index holds %d entries for %d carried transactions", seed, held, carried)
		}
		// The finalized chain never repeats a transaction within the window.
		last := map[mempool.ID]uint64{}
		chain := chainOf(final)
		for i := len(chain) - 1; i >= 0; i-- {
			b := chain[i]
			for _, id := range b.ids {
				if h, ok := last[id]; ok && h+window >= b.height {
					t.Fatalf("seed %d: transaction %x at heights %d and %d", seed, id[:4], h, b.height)
				}
				last[id] = b.height
			}
		}
	}
}

package execution

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// testBlocks builds n blocks of up to 4 collections of up to 20 kvstore
// transactions over a key space of keys keys (small: contention), with
// deletes (some of absent keys: failures) and malformed transactions.
func testBlocks(seed uint64, n, keys int) []Block {
	rng := rand.New(rand.NewPCG(seed, 7))
	var blocks []Block
	nonce := 0
	for h := 1; h <= n; h++ {
		b := Block{ID: model.Identifier{byte(h), byte(seed)}, Height: uint64(h)}
		for range rng.IntN(5) {
			var txs []collection.Tx
			for range 1 + rng.IntN(20) {
				nonce++
				key := []byte(fmt.Sprintf("k%d", rng.IntN(keys)))
				nb := []byte(fmt.Sprintf("n%d", nonce))
				var body []byte
				switch r := rng.IntN(10); {
				case r < 6:
					body = kvstore.EncodeSet(key, []byte(fmt.Sprintf("v%d", rng.IntN(1000))), nb)
				case r < 9:
					body = kvstore.EncodeDelete(key, nb)
				default:
					body = append([]byte{9}, nb...) // malformed: fails, writes nothing
				}
				txs = append(txs, collection.Tx{Ref: model.Identifier{1}, Body: body})
			}
			b.Collections = append(b.Collections, collection.NewCollection(txs))
		}
		if rng.IntN(4) == 0 {
			b.ServiceEvents = []payload.Event{{Type: "floe.epoch", Payload: []byte{byte(h)}}}
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// run executes blocks on a fresh in-memory state with workers and returns
// every result and the executed outputs.
func run(t testing.TB, blocks []Block, workers int) []*Executed {
	t.Helper()
	st, err := state.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &Engine{State: st, VM: KV{}, Workers: workers}
	prev := payload.GenesisResult(model.Identifier{0xee}, model.Identifier(mustRoot(t, st, 0)))
	version := uint64(0)
	var out []*Executed
	for _, b := range blocks {
		x, err := e.Execute(context.Background(), b, prev, version)
		if err != nil {
			t.Fatalf("height %d: %v", b.Height, err)
		}
		if err := x.Result.Check(); err != nil {
			t.Fatalf("height %d: result shape: %v", b.Height, err)
		}
		out = append(out, x)
		prev, version = x.Result, x.EndVersion
	}
	return out
}

func mustRoot(t testing.TB, st *state.Store, v uint64) [32]byte {
	t.Helper()
	r, err := st.Root(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Sequential and parallel execution of the same blocks give byte-identical
// results, outcomes and data packs, and the results chain.
func TestEngineParallelEqualsSequential(t *testing.T) {
	for _, keys := range []int{1, 4, 1000} {
		blocks := testBlocks(uint64(keys), 12, keys)
		seq := run(t, blocks, 1)
		par := run(t, blocks, 4)
		for i := range seq {
			a, b := seq[i], par[i]
			if a.Result.ID() != b.Result.ID() {
				t.Fatalf("keys %d height %d: results differ:\n%+v\n%+v", keys, i+1, a.Result, b.Result)
			}
			if fmt.Sprint(a.Txs) != fmt.Sprint(b.Txs) {
				t.Fatalf("keys %d height %d: outcomes differ", keys, i+1)
			}
			for j := range a.Packs {
				if string(a.Packs[j].Encode()) != string(b.Packs[j].Encode()) {
					t.Fatalf("keys %d height %d: pack %d differs", keys, i+1, j)
				}
			}
			if i > 0 && a.Result.Previous != seq[i-1].Result.ID() {
				t.Fatalf("height %d does not chain onto %d", i+1, i)
			}
		}
	}
}

// Every honest chunk re-executes from its data pack alone; a result with a
// wrong end state, events hash, computation or transaction count is
// caught, and so is a pack that is not the chunk's.
func TestDataPacksVerifyAndCatchWrongResults(t *testing.T) {
	blocks := testBlocks(3, 10, 8)
	xs := run(t, blocks, 2)
	checked := 0
	for _, x := range xs {
		for i, p := range x.Packs {
			dec, err := DecodeChunkDataPack(p.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyChunk(KV{}, x.Result, i, dec); err != nil {
				t.Fatalf("height %d chunk %d: honest pack refused: %v", x.Result.Height, i, err)
			}
			checked++
		}
	}
	// Take a block with a collection chunk that changed the state.
	var x *Executed
	for _, c := range xs {
		if len(c.Result.Chunks) > 1 && c.Result.Chunks[0].StartState != c.Result.Chunks[0].EndState {
			x = c
			break
		}
	}
	if x == nil {
		t.Fatal("no block changed the state")
	}
	for name, mut := range map[string]func(r *payload.ExecutionResult){
		"end state":   func(r *payload.ExecutionResult) { r.Chunks[0].EndState[0] ^= 1 },
		"events hash": func(r *payload.ExecutionResult) { r.Chunks[0].EventsHash[0] ^= 1 },
		"computation": func(r *payload.ExecutionResult) { r.Chunks[0].Computation++ },
		"tx count":    func(r *payload.ExecutionResult) { r.Chunks[0].TxCount++ },
	} {
		bad := *x.Result
		bad.Chunks = append([]payload.Chunk(nil), x.Result.Chunks...)
		mut(&bad)
		pack := *x.Packs[0]
		pack.ChunkID = payload.ChunkID(bad.ID(), 0) // the pack a liar would serve with it
		if err := VerifyChunk(KV{}, &bad, 0, &pack); !errors.Is(err, ErrChunkMismatch) {
			t.Errorf("wrong %s: VerifyChunk = %v, want ErrChunkMismatch", name, err)
		}
	}
	if err := VerifyChunk(KV{}, x.Result, 0, x.Packs[1]); !errors.Is(err, ErrInvalidPack) {
		t.Fatalf("another chunk's pack: %v", err)
	}
	// A pack whose proof leaves out a register the chunk writes.
	short := *x.Packs[0]
	empty, err := func() ([]byte, error) {
		st, err := state.OpenMemory()
		if err != nil {
			return nil, err
		}
		defer st.Close()
		p, err := st.ProveBatch(0, nil)
		if err != nil {
			return nil, err
		}
		return p.Encode(), nil
	}()
	if err != nil {
		t.Fatal(err)
	}
	short.Proof = empty
	if err := VerifyChunk(KV{}, x.Result, 0, &short); !errors.Is(err, ErrInvalidPack) {
		t.Fatalf("a pack proving nothing: %v", err)
	}
	t.Logf("%d chunks verified from their packs", checked)
}

// The engine refuses to execute on a previous result its state does not
// end at, and a block at the wrong height.
func TestEngineRefusesAForeignPreviousResult(t *testing.T) {
	st, err := state.OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := &Engine{State: st, VM: KV{}, Workers: 1}
	wrong := payload.GenesisResult(model.Identifier{1}, model.Identifier{9})
	if _, err := e.Execute(context.Background(), Block{Height: 1}, wrong, 0); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("foreign previous result: %v", err)
	}
	good := payload.GenesisResult(model.Identifier{1}, model.Identifier(mustRoot(t, st, 0)))
	if _, err := e.Execute(context.Background(), Block{Height: 2}, good, 0); err == nil {
		t.Fatal("a block two heights above its previous result was executed")
	}
}

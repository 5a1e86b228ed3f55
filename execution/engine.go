package execution

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// Block is a finalized main-chain block as execution sees it: its
// collections in guarantee order (those the collection window lets
// through) and the service events its system chunk carries.
type Block struct {
	ID            model.Identifier
	Height        uint64
	Collections   []*collection.Collection
	ServiceEvents []payload.Event
}

// TxOutcome is one executed transaction: where it ran and what it gave.
type TxOutcome struct {
	ID          model.Identifier
	Height      uint64
	Chunk       uint16 // index of its chunk in the result
	Index       uint32 // position in the block
	OK          bool
	Error       string
	Events      []payload.Event
	Computation uint64
}

// Executed is what executing one block gave: the result, every
// transaction's outcome, one data pack per chunk, and the state version
// holding the block's end state.
type Executed struct {
	Result     *payload.ExecutionResult
	Txs        []TxOutcome
	Packs      []*ChunkDataPack
	EndVersion uint64
}

// Versions. The state commits once per chunk that writes anything, at
// version height<<8 | chunk index, so each chunk's start state stays
// readable (its data pack is proven against it) and versions only grow;
// the genesis state is version GenesisVersion.
const (
	GenesisVersion = 0xFF
	chunkBits      = 8
)

// ChunkVersion is the state version of chunk i's end state at height h,
// when the chunk wrote anything.
func ChunkVersion(height uint64, i int) uint64 { return height<<chunkBits | uint64(i) }

// ErrStateMismatch: the state this engine holds does not end where the
// previous result says: its store was changed behind its back, or the
// previous result is another executor's. Execution must stop.
var ErrStateMismatch = errors.New("execution: local state does not match the previous result")

// Engine executes blocks over a state store. It is used from one
// goroutine (the execution loop); blockstm parallelism lives inside
// Execute.
type Engine struct {
	State   *state.Store
	VM      VM
	Workers int // blockstm workers; 0 = GOMAXPROCS, 1 = sequential loop

	// adaptive chooses, block by block, between parallel and sequential
	// execution (both give the same output).
	adaptive *blockstm.Adaptive
}

// Execute runs blk on top of prev (the result of height blk.Height-1,
// whose end state is state version prevVersion) and commits the new
// state versions. It does not persist the result, outcomes or packs: the
// caller does, after which the block counts as executed. On an error
// nothing the caller relies on changed: versions above prevVersion are
// what a crash leaves too, and the caller rolls them back before
// executing again.
func (e *Engine) Execute(ctx context.Context, blk Block, prev *payload.ExecutionResult, prevVersion uint64) (*Executed, error) {
	if blk.Height != prev.Height+1 {
		return nil, fmt.Errorf("execution: block at height %d on a result of height %d", blk.Height, prev.Height)
	}
	if len(blk.Collections)+1 > payload.MaxChunks {
		return nil, fmt.Errorf("execution: block %d has %d collections, at most %d", blk.Height, len(blk.Collections), payload.MaxChunks-1)
	}
	root, err := e.State.Root(prevVersion)
	if err != nil {
		return nil, fmt.Errorf("execution: state version %d: %w", prevVersion, err)
	}
	if model.Identifier(root) != prev.EndState() {
		return nil, fmt.Errorf("%w: version %d has root %x, the result of height %d ended at %v",
			ErrStateMismatch, prevVersion, root, prev.Height, prev.EndState())
	}
	var txs [][]byte
	var ctxs []TxContext
	var ids []model.Identifier
	bounds := make([]int, 0, len(blk.Collections)+1)
	for i, c := range blk.Collections {
		for j, tx := range c.Txs() {
			txs = append(txs, tx.Body)
			ctxs = append(ctxs, TxContext{Block: blk.ID, Height: blk.Height, Chunk: uint16(i), Pos: uint32(j)})
		}
		ids = append(ids, c.TxIDs()...)
		bounds = append(bounds, len(txs))
	}
	out, err := e.run(ctx, e.State.Reader(prevVersion), ctxs, txs)
	if err != nil {
		return nil, err
	}

	x := &Executed{Result: &payload.ExecutionResult{Block: blk.ID, Height: blk.Height, Previous: prev.ID()}}
	version, from := prevVersion, 0
	for i, c := range blk.Collections {
		to := bounds[i]
		writes, err := out.NetWrites(from, to)
		if err != nil {
			return nil, err
		}
		start := version
		end := root
		if len(writes) > 0 {
			version = ChunkVersion(blk.Height, i)
			if end, err = e.State.Commit(version, writes); err != nil {
				return nil, fmt.Errorf("execution: commit chunk %d of height %d: %w", i, blk.Height, err)
			}
		}
		chunk, outcomes := chunkOf(out, ids, from, to, blk.Height, i)
		chunk.CollectionID = c.ID()
		chunk.StartState, chunk.EndState = model.Identifier(root), model.Identifier(end)
		x.Result.Chunks = append(x.Result.Chunks, chunk)
		x.Txs = append(x.Txs, outcomes...)
		proof, err := e.State.ProveBatch(start, touched(out, from, to))
		if err != nil {
			return nil, fmt.Errorf("execution: data pack of chunk %d of height %d: %w", i, blk.Height, err)
		}
		x.Packs = append(x.Packs, &ChunkDataPack{Collection: c, Proof: proof.Encode()})
		root, from = end, to
	}
	// The system chunk: the block's service events, no transactions, no
	// state change (protocol work such as fees and the beacon joins it
	// with accounts).
	x.Result.Chunks = append(x.Result.Chunks, payload.Chunk{
		StartState: model.Identifier(root), EndState: model.Identifier(root), EventsHash: payload.EventsHash(blk.ServiceEvents),
	})
	proof, err := e.State.ProveBatch(version, nil)
	if err != nil {
		return nil, fmt.Errorf("execution: data pack of the system chunk of height %d: %w", blk.Height, err)
	}
	x.Packs = append(x.Packs, &ChunkDataPack{Proof: proof.Encode(), ServiceEvents: blk.ServiceEvents})
	resultID := x.Result.ID()
	for i, p := range x.Packs {
		p.ChunkID = payload.ChunkID(resultID, i)
		p.StartState = x.Result.Chunks[i].StartState
	}
	x.EndVersion = version
	return x, nil
}

// run executes the block's transactions: with Workers 1 the plain
// sequential loop; otherwise blockstm.Adaptive, which runs a block in
// parallel unless the recent blocks' critical paths say it cannot gain.
// Every choice gives the same Output.
func (e *Engine) run(ctx context.Context, base state.Reader, ctxs []TxContext, txs [][]byte) (*blockstm.Output, error) {
	fn := func(i int, v blockstm.View) (blockstm.Result, error) { return e.VM.Run(ctxs[i], txs[i], v) }
	if e.Workers == 1 {
		return blockstm.Sequential(base, len(txs), fn)
	}
	if e.adaptive == nil {
		e.adaptive = &blockstm.Adaptive{Workers: e.Workers}
	}
	return e.adaptive.Execute(ctx, base, len(txs), fn)
}

// chunkOf builds chunk i's summary (all but the states and collection)
// and the outcomes of its transactions [from, to).
func chunkOf(out *blockstm.Output, ids []model.Identifier, from, to int, height uint64, i int) (payload.Chunk, []TxOutcome) {
	var events []payload.Event
	var comp uint64
	outcomes := make([]TxOutcome, 0, to-from)
	for j := from; j < to; j++ {
		r := out.Results[j]
		evs := convertEvents(r.Events)
		events = append(events, evs...)
		comp += r.Computation
		outcomes = append(outcomes, TxOutcome{ID: ids[j], Height: height, Chunk: uint16(i), Index: uint32(j),
			OK: r.OK, Error: r.Error, Events: evs, Computation: r.Computation})
	}
	return payload.Chunk{EventsHash: payload.EventsHash(events), TxCount: uint32(to - from), Computation: comp}, outcomes
}

func convertEvents(evs []blockstm.Event) []payload.Event {
	if len(evs) == 0 {
		return nil
	}
	out := make([]payload.Event, len(evs))
	for i, e := range evs {
		out[i] = payload.Event{Type: e.Type, Payload: e.Payload}
	}
	return out
}

// touched is every register transactions [from, to) read or wrote: what
// a verifier needs from the chunk's start state to re-execute it.
func touched(out *blockstm.Output, from, to int) []state.RegisterID {
	seen := map[state.RegisterID]struct{}{}
	for j := from; j < to; j++ {
		for _, id := range out.Reads[j] {
			seen[id] = struct{}{}
		}
		for _, w := range out.Writes[j] {
			seen[w.ID] = struct{}{}
		}
	}
	ids := make([]state.RegisterID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, blockstm.CompareIDs)
	return ids
}

package execution

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// ChunkDataPack is what a verifier needs to re-execute one chunk with no
// other state: the chunk's collection (whose ID the chunk names) and a
// batch proof, against the chunk's start state, of every register the
// chunk's transactions read or wrote. The system chunk's pack carries the
// block's service events instead of a collection.
type ChunkDataPack struct {
	ChunkID    model.Identifier
	StartState model.Identifier
	Collection *collection.Collection // nil for the system chunk
	// ServiceEvents are the system chunk's events.
	ServiceEvents []payload.Event
	Proof         []byte // state.BatchProof encoding
}

// Bounds of a data pack: a collection within the default limits, a batch
// proof within state.MaxBatchProofSize, and a system chunk's events
// within those of a block.
const (
	maxPackEvents     = 64
	maxPackEventBytes = 1 << 20
	// MaxDataPackSize bounds an encoded data pack.
	MaxDataPackSize = 64 + 4 + (3 << 20) + 4 + state.MaxBatchProofSize + 4 + maxPackEvents*(2+4) + maxPackEventBytes
)

// The data pack sentinels; each wraps ErrInvalidPack.
var (
	// ErrInvalidPack wraps every reason a pack is refused.
	ErrInvalidPack = fmt.Errorf("%w: invalid chunk data pack", model.ErrInvalid)
	// ErrIncompletePack: re-executing the chunk read a register the
	// pack's proof does not cover.
	ErrIncompletePack = fmt.Errorf("%w: the proof does not cover a register the chunk touches", ErrInvalidPack)
	// ErrChunkMismatch: re-executing the chunk from its pack does not give
	// what the result claims (end state, events, transactions or
	// computation): the result is wrong, or the pack is not its.
	ErrChunkMismatch = errors.New("chunk re-execution disagrees with the result")
)

// Encode returns the canonical encoding: chunk ID, start state, the
// collection (u32 length, 0 for none), the proof (u32 length), the
// events (u32 count, each u16 type and u32 payload).
func (p *ChunkDataPack) Encode() []byte {
	w := codec.NewWriter(64 + 12 + len(p.Proof))
	w.Fixed(p.ChunkID[:])
	w.Fixed(p.StartState[:])
	if p.Collection != nil {
		w.Bytes32(p.Collection.Encode())
	} else {
		w.Uint32(0)
	}
	w.Bytes32(p.Proof)
	writeEvents(w, p.ServiceEvents)
	return w.Bytes()
}

// writeEvents encodes events: u32 count, each u16 type and u32 payload.
func writeEvents(w *codec.Writer, events []payload.Event) {
	w.Uint32(uint32(len(events)))
	for _, e := range events {
		w.Bytes16([]byte(e.Type))
		w.Bytes32(e.Payload)
	}
}

// readEvents decodes writeEvents' output, at most max events.
func readEvents(r *codec.Reader, max int) []payload.Event {
	n := int(r.Uint32())
	if r.Err() == nil && n > max {
		r.Fail("%d events, at most %d", n, max)
	}
	var out []payload.Event
	for i := 0; i < n && r.Err() == nil; i++ {
		typ := r.Bytes16(1<<16-1, "event type")
		pl := r.Bytes32(maxPackEventBytes, "event payload")
		out = append(out, payload.Event{Type: string(typ), Payload: pl})
	}
	return out
}

// DecodeChunkDataPack decodes Encode's output within MaxDataPackSize;
// errors wrap ErrInvalidPack. The proof is checked against the start
// state by VerifyChunk, not here.
func DecodeChunkDataPack(b []byte) (*ChunkDataPack, error) {
	if len(b) > MaxDataPackSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidPack, len(b), MaxDataPackSize)
	}
	r := codec.NewReader(b)
	p := &ChunkDataPack{}
	r.Fixed(p.ChunkID[:])
	r.Fixed(p.StartState[:])
	if raw := r.Bytes32(3<<20+1024, "collection"); r.Err() == nil && len(raw) > 0 {
		c, err := collection.DecodeCollection(raw, collection.DefaultLimits())
		if err != nil {
			return nil, fmt.Errorf("%w: collection: %v", ErrInvalidPack, err)
		}
		p.Collection = c
	}
	p.Proof = r.Bytes32(state.MaxBatchProofSize, "proof")
	p.ServiceEvents = readEvents(r, maxPackEvents)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPack, err)
	}
	return p, nil
}

// VerifyChunk re-executes chunk i of result from its data pack alone and
// checks every claim the chunk makes: the pack is the chunk's (ID, start
// state, collection), the proof holds against the start state, and the
// re-execution gives the chunk's transaction count, computation, events
// hash and end state. It is what a verification node runs; an honest
// executor's packs always pass. Errors wrap ErrInvalidPack (the pack
// cannot be checked against the chunk) or ErrChunkMismatch (it can, and
// the result is wrong).
func VerifyChunk(vm VM, result *payload.ExecutionResult, i int, p *ChunkDataPack) error {
	if i < 0 || i >= len(result.Chunks) {
		return fmt.Errorf("%w: chunk %d of a result of %d chunks", ErrInvalidPack, i, len(result.Chunks))
	}
	c := result.Chunks[i]
	switch {
	case p.ChunkID != payload.ChunkID(result.ID(), i):
		return fmt.Errorf("%w: pack of chunk %v, not chunk %d of result %v", ErrInvalidPack, p.ChunkID, i, result.ID())
	case p.StartState != c.StartState:
		return fmt.Errorf("%w: pack starts at %v, the chunk at %v", ErrInvalidPack, p.StartState, c.StartState)
	case c.CollectionID == (model.Identifier{}) && p.Collection != nil,
		c.CollectionID != (model.Identifier{}) && (p.Collection == nil || p.Collection.ID() != c.CollectionID):
		return fmt.Errorf("%w: the pack's collection is not the chunk's %v", ErrInvalidPack, c.CollectionID)
	}
	proof, err := state.DecodeBatchProof(p.Proof)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPack, err)
	}
	if _, err := state.VerifyBatch(c.StartState, proof); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPack, err)
	}
	if p.Collection == nil {
		// The system chunk: its events are the block's service events,
		// and it changes nothing.
		if got := payload.EventsHash(p.ServiceEvents); got != c.EventsHash {
			return fmt.Errorf("%w: system chunk events hash %v, the result claims %v", ErrChunkMismatch, got, c.EventsHash)
		}
		if c.EndState != c.StartState || c.TxCount != 0 || c.Computation != 0 {
			return fmt.Errorf("%w: the system chunk claims a state change or transactions", ErrChunkMismatch)
		}
		return nil
	}
	txs := p.Collection.Txs()
	out, err := blockstm.Sequential(packReader{proof}, len(txs), func(j int, v blockstm.View) (blockstm.Result, error) {
		return vm.Run(TxContext{Block: result.Block, Height: result.Height, Chunk: uint16(i), Pos: uint32(j)}, txs[j].Body, v)
	})
	if err != nil {
		return err
	}
	writes, err := out.NetWrites(0, len(txs))
	if err != nil {
		return err
	}
	got, _ := chunkOf(out, p.Collection.TxIDs(), 0, len(txs), result.Height, i)
	end, err := proof.Apply(writes)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIncompletePack, err)
	}
	switch {
	case got.TxCount != c.TxCount:
		return fmt.Errorf("%w: %d transactions, the result claims %d", ErrChunkMismatch, got.TxCount, c.TxCount)
	case got.Computation != c.Computation:
		return fmt.Errorf("%w: computation %d, the result claims %d", ErrChunkMismatch, got.Computation, c.Computation)
	case got.EventsHash != c.EventsHash:
		return fmt.Errorf("%w: events hash %v, the result claims %v", ErrChunkMismatch, got.EventsHash, c.EventsHash)
	case model.Identifier(end) != c.EndState:
		return fmt.Errorf("%w: end state %x, the result claims %v", ErrChunkMismatch, end, c.EndState)
	}
	return nil
}

// packReader reads registers from a verified batch proof; a register it
// does not cover is ErrIncompletePack, which stops the re-execution (it is
// no transaction's fault).
type packReader struct{ p *state.BatchProof }

func (r packReader) Get(id state.RegisterID) ([]byte, error) {
	v, err := r.p.Get(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrIncompletePack, id, err)
	}
	return v, nil
}

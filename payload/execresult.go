package payload

import (
	"crypto/sha256"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// Chunk is one part of an execution result: the execution of one
// collection of the block (or, last, the system chunk, which carries the
// block's service events and the protocol's own work), from StartState to
// EndState. A verifier assigned to the chunk re-executes it from its chunk
// data pack alone and checks EndState, EventsHash, TxCount and Computation.
type Chunk struct {
	// CollectionID is the collection executed; zero for the system chunk.
	CollectionID model.Identifier
	StartState   model.Identifier
	EndState     model.Identifier
	// EventsHash is EventsHash of the events the chunk's transactions
	// emitted, in order.
	EventsHash  model.Identifier
	TxCount     uint32
	Computation uint64
}

// chunkSize is a chunk's encoded size.
const chunkSize = 4*32 + 4 + 8

// MaxChunks bounds a result: one chunk per guarantee of a block at the
// largest allowed guarantee count, and the system chunk.
const MaxChunks = collection.DefaultMaxGuarantees + 1

// ExecutionResult is what executing one finalized main-chain block gave:
// the block, its height, the result it was executed on top of (results
// form a tree rooted at the genesis result; two executors that disagree
// about a block make it branch), and one chunk per executed collection in
// block order plus the system chunk. Each chunk starts where the one
// before it ended, and the first where the previous result ended.
type ExecutionResult struct {
	Block    model.Identifier
	Height   uint64
	Previous model.Identifier // ID of the result for Height-1
	Chunks   []Chunk
}

// resultFixed is the encoded size without the chunks.
const resultFixed = 32 + 8 + 32 + 2

// MaxResultSize bounds an encoded result.
const MaxResultSize = resultFixed + MaxChunks*chunkSize

// resultTag separates result IDs from the hashes of other objects.
var resultTag = []byte("floe/result\x00")

// chunkTag separates chunk IDs from the hashes of other objects.
var chunkTag = []byte("floe/chunk\x00")

// eventsTag separates events hashes from the hashes of other objects.
var eventsTag = []byte("floe/events\x00")

// ID names the result: SHA-256 over a tag and the canonical encoding.
// Two executors that computed the same thing sign the same ID.
func (r *ExecutionResult) ID() model.Identifier {
	h := sha256.New()
	h.Write(resultTag)
	h.Write(r.Encode())
	return model.Identifier(h.Sum(nil))
}

// ChunkID names chunk i of the result with ID result: what chunk data
// packs are served by.
func ChunkID(result model.Identifier, i int) model.Identifier {
	w := codec.NewWriter(len(chunkTag) + 32 + 2)
	w.Fixed(chunkTag)
	w.Fixed(result[:])
	w.Uint16(uint16(i))
	return sha256.Sum256(w.Bytes())
}

// EndState is the state commitment after the whole block: the last
// chunk's end state.
func (r *ExecutionResult) EndState() model.Identifier {
	if len(r.Chunks) == 0 {
		return model.Identifier{}
	}
	return r.Chunks[len(r.Chunks)-1].EndState
}

// StartState is the state the block was executed from.
func (r *ExecutionResult) StartState() model.Identifier {
	if len(r.Chunks) == 0 {
		return model.Identifier{}
	}
	return r.Chunks[0].StartState
}

// Summary is the Result a main-chain block carries for this result.
func (r *ExecutionResult) Summary() Result { return Result{Height: r.Height, Root: r.EndState()} }

// Check is the result's shape: at least one chunk (the system chunk,
// last, with no collection) and at most MaxChunks, every other chunk
// naming a collection, each starting where the one before ended. Whether
// the chunks are the block's collections and the first starts where the
// previous result ended is the chain's check.
func (r *ExecutionResult) Check() error {
	n := len(r.Chunks)
	switch {
	case n == 0:
		return fmt.Errorf("%w: result for height %d has no chunk", model.ErrInvalid, r.Height)
	case n > MaxChunks:
		return fmt.Errorf("%w: result for height %d has %d chunks, at most %d", model.ErrInvalid, r.Height, n, MaxChunks)
	case r.Chunks[n-1].CollectionID != (model.Identifier{}):
		return fmt.Errorf("%w: result for height %d does not end with the system chunk", model.ErrInvalid, r.Height)
	}
	for i := range r.Chunks {
		c := &r.Chunks[i]
		if i < n-1 && c.CollectionID == (model.Identifier{}) {
			return fmt.Errorf("%w: chunk %d of the result for height %d names no collection", model.ErrInvalid, i, r.Height)
		}
		if i > 0 && c.StartState != r.Chunks[i-1].EndState {
			return fmt.Errorf("%w: chunk %d of the result for height %d does not start where chunk %d ended", model.ErrInvalid, i, r.Height, i-1)
		}
	}
	return nil
}

// Encode returns the canonical encoding: block, height, previous, the
// chunk count (u16), then each chunk (collection, start, end, events
// hash, u32 transactions, u64 computation).
func (r *ExecutionResult) Encode() []byte {
	w := codec.NewWriter(resultFixed + len(r.Chunks)*chunkSize)
	r.encodeTo(w)
	return w.Bytes()
}

func (r *ExecutionResult) encodeTo(w *codec.Writer) {
	w.Fixed(r.Block[:])
	w.Uint64(r.Height)
	w.Fixed(r.Previous[:])
	w.Uint16(uint16(len(r.Chunks)))
	for i := range r.Chunks {
		c := &r.Chunks[i]
		w.Fixed(c.CollectionID[:])
		w.Fixed(c.StartState[:])
		w.Fixed(c.EndState[:])
		w.Fixed(c.EventsHash[:])
		w.Uint32(c.TxCount)
		w.Uint64(c.Computation)
	}
}

func readResult(r *codec.Reader) *ExecutionResult {
	res := &ExecutionResult{}
	r.Fixed(res.Block[:])
	res.Height = r.Uint64()
	r.Fixed(res.Previous[:])
	n := int(r.Uint16())
	if r.Err() != nil {
		return res
	}
	if n > MaxChunks || n*chunkSize > r.Remaining() {
		r.Fail("result with %d chunks in %d bytes (at most %d chunks)", n, r.Remaining(), MaxChunks)
		return res
	}
	res.Chunks = make([]Chunk, n)
	for i := range res.Chunks {
		c := &res.Chunks[i]
		r.Fixed(c.CollectionID[:])
		r.Fixed(c.StartState[:])
		r.Fixed(c.EndState[:])
		r.Fixed(c.EventsHash[:])
		c.TxCount = r.Uint32()
		c.Computation = r.Uint64()
	}
	if r.Err() == nil {
		if err := res.Check(); err != nil {
			r.Fail("%v", err)
		}
	}
	return res
}

// DecodeExecutionResult decodes Encode's output and checks its shape;
// errors wrap model.ErrInvalid.
func DecodeExecutionResult(b []byte) (*ExecutionResult, error) {
	r := codec.NewReader(b)
	res := readResult(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: execution result: %v", model.ErrInvalid, err)
	}
	return res, nil
}

// GenesisResult is the root of every result tree: the genesis block
// (height 0) "executed" into the genesis state, one system chunk from and
// to root. Every node computes it from the genesis file alone, and the
// first block's results name it as Previous.
func GenesisResult(genesisBlock model.Identifier, root model.Identifier) *ExecutionResult {
	return &ExecutionResult{
		Block:  genesisBlock,
		Height: 0,
		Chunks: []Chunk{{StartState: root, EndState: root, EventsHash: EventsHash(nil)}},
	}
}

// Event is one event a transaction (or the system chunk) emitted: a type
// name and an opaque payload.
type Event struct {
	Type    string
	Payload []byte
}

// EventsHash commits to a chunk's events in order: SHA-256 over a tag,
// the count and each event's length-prefixed type and payload. It is
// defined for no events too (the hash of the tag and a zero count).
func EventsHash(events []Event) model.Identifier {
	h := sha256.New()
	h.Write(eventsTag)
	w := codec.NewWriter(8)
	w.Uint32(uint32(len(events)))
	h.Write(w.Bytes())
	for _, e := range events {
		w := codec.NewWriter(2 + len(e.Type) + 4 + len(e.Payload))
		w.Bytes16([]byte(e.Type))
		w.Bytes32(e.Payload)
		h.Write(w.Bytes())
	}
	return model.Identifier(h.Sum(nil))
}

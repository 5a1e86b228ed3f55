package light

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

// Extension proves one fallback extension of an epoch: From is the epoch's
// final view before the extension, and Segment proves final a block in a
// view past From whose QCs the same committee signed. Honest members only
// sign in views of their own epoch, so such a block exists only if the
// chain extended the epoch instead of committing its successor.
type Extension struct {
	From    model.View
	Segment *Segment
}

// Transition proves what follows the client's newest epoch (Counter-1):
// the fallback extensions it went through, then the segments that finalize
// the EpochSetup and EpochCommit of epoch Counter. Setup is nil when epoch
// Counter is not committed yet and the proof only carries extensions;
// Commit is nil when the commit event is in a final block of Setup.
type Transition struct {
	Counter    uint64
	Extensions []Extension
	Setup      *Segment
	Commit     *Segment
}

// Encode returns the canonical encoding.
func (t *Transition) Encode() []byte {
	w := codec.NewWriter(4096)
	w.Uint8(tagTransition)
	w.Uint64(t.Counter)
	w.Uint8(uint8(len(t.Extensions)))
	for _, e := range t.Extensions {
		w.Uint64(uint64(e.From))
		e.Segment.encode(w)
	}
	for _, s := range []*Segment{t.Setup, t.Commit} {
		w.Bool(s != nil)
		if s != nil {
			s.encode(w)
		}
	}
	return w.Bytes()
}

// DecodeTransition decodes Transition.Encode output.
func DecodeTransition(b []byte) (*Transition, error) {
	r, err := topReader(b, tagTransition, "transition proof")
	if err != nil {
		return nil, err
	}
	t := &Transition{Counter: r.Uint64()}
	n := int(r.Uint8())
	if n > MaxExtensions {
		r.Fail("%d extensions, at most %d", n, MaxExtensions)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		from := model.View(r.Uint64())
		t.Extensions = append(t.Extensions, Extension{From: from, Segment: decodeSegment(r)})
	}
	if r.Bool() {
		t.Setup = decodeSegment(r)
	}
	if r.Bool() {
		t.Commit = decodeSegment(r)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: transition proof: %v", ErrMalformed, err)
	}
	return t, nil
}

// StateProof proves a key's value (or absence) in the application state
// committed to by a final block: Segment proves its first block final,
// Result opens that block's payload to its execution result (the state
// root after height Result's height), and Proof (app/merkle encoding)
// proves Value against that root.
type StateProof struct {
	Segment *Segment
	Result  *payload.ResultOpening
	Key     []byte
	Value   []byte // nil: the key is absent
	Proof   []byte
}

// MaxKeySize bounds a key in a state request or proof (the key-value
// store's own limit is smaller).
const MaxKeySize = 64 << 10

// maxOpening bounds an encoded result opening (a few section digests and
// the result itself).
const maxOpening = 1024

// maxValueSize bounds a proven value.
const maxValueSize = 1 << 20

// Encode returns the canonical encoding.
func (p *StateProof) Encode() []byte {
	w := codec.NewWriter(2048 + len(p.Value) + len(p.Proof))
	w.Uint8(tagState)
	p.Segment.encode(w)
	var opening []byte // none: the client refuses the proof as incomplete
	if p.Result != nil {
		opening = p.Result.Encode()
	}
	w.Bytes32(opening)
	w.Bytes32(p.Key)
	w.Bool(p.Value != nil)
	if p.Value != nil {
		w.Bytes32(p.Value)
	}
	w.Bytes32(p.Proof)
	return w.Bytes()
}

// DecodeStateProof decodes StateProof.Encode output.
func DecodeStateProof(b []byte) (*StateProof, error) {
	r, err := topReader(b, tagState, "state proof")
	if err != nil {
		return nil, err
	}
	p := &StateProof{Segment: decodeSegment(r)}
	if raw := r.Bytes32(maxOpening, "result opening"); r.Err() == nil && len(raw) > 0 {
		if p.Result, err = payload.DecodeResultOpening(raw); err != nil {
			return nil, fmt.Errorf("%w: state proof: %v", ErrMalformed, err)
		}
	}
	p.Key = r.Bytes32(MaxKeySize, "key")
	if r.Bool() {
		p.Value = r.Bytes32(maxValueSize, "value")
		if p.Value == nil {
			p.Value = []byte{}
		}
	}
	p.Proof = r.Bytes32(maxMerkleProof, "merkle proof")
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: state proof: %v", ErrMalformed, err)
	}
	return p, nil
}

package payload

import (
	"crypto/sha256"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// CheckResult is the chain rule every main-chain payload follows, whoever
// builds or checks it (a node's payload rules, the simulator's): a block
// above the root carries a result, for a height below its own, never
// behind its parent's, and with the parent's root when at the parent's
// height. parent is the parent's result, nil for a parent without one (the
// genesis block). Whether the root is what execution computes is the
// checker's own business: only a replica that executed that height knows.
func CheckResult(height uint64, view model.View, r, parent *Result) error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: block for view %d carries no execution result", model.ErrInvalid, view)
	case r.Height >= height:
		return fmt.Errorf("%w: block at height %d commits to the result of height %d", model.ErrInvalid, height, r.Height)
	case parent == nil:
		return nil
	case r.Height < parent.Height:
		return fmt.Errorf("%w: block for view %d commits to result height %d below its parent's %d",
			model.ErrInvalid, view, r.Height, parent.Height)
	case r.Height == parent.Height && r.Root != parent.Root:
		return fmt.Errorf("%w: block for view %d commits to another root for result height %d than its parent",
			model.ErrInvalid, view, r.Height)
	}
	return nil
}

// Newest is what a leader commits to: its own result, unless the parent
// already committed to a later one (a result never goes back).
func Newest(own Result, parent *Result) Result {
	if parent != nil && parent.Height >= own.Height {
		return *parent
	}
	return own
}

// FromReceipts is the Result of a pipeline network's block: the result
// of the first receipt of the greatest height among those it carries,
// when that height is above the parent's result; otherwise the parent's.
// So a block's Result never goes back, and among disagreeing executors the
// one the leader put first speaks for the block until sealing exists
// (docs/execution.md, "Trust until sealing").
func FromReceipts(parent Result, receipts []*Receipt) Result {
	out := parent
	for _, r := range receipts {
		if r.Result.Height > out.Height {
			out = r.Result.Summary()
		}
	}
	return out
}

// ResultOpening proves a block's execution result against its header
// without the rest of its payload: the result section in full and every
// other section by its digest, enough to recompute model.PayloadHash.
// Light clients prove state with it.
type ResultOpening struct {
	Format uint8
	// Sections are the payload's sections in order; the result's Hash is
	// recomputed from Body, the others are taken as given.
	Sections []model.SectionDigest
	Body     []byte // the result section
}

// maxOpeningSections bounds a decoded opening (a payload has one section
// per kind).
const maxOpeningSections = 16

// OpenResult builds the opening of an encoded payload's result.
func OpenResult(b []byte) (*ResultOpening, error) {
	if _, err := ResultOf(b); err != nil {
		return nil, err
	}
	o := &ResultOpening{}
	format, ok := model.Sections(b, func(kind uint8, body []byte) {
		if Kind(kind) == KindResult {
			o.Body = body
		}
		o.Sections = append(o.Sections, model.SectionDigest{Kind: kind, Hash: sha256.Sum256(body)})
	})
	if !ok || o.Body == nil {
		return nil, fmt.Errorf("%w: payload carries no execution result", model.ErrInvalid)
	}
	o.Format = format
	return o, nil
}

// Verify checks the opening against a header's payload hash and returns
// the result it proves.
func (o *ResultOpening) Verify(payloadHash model.Identifier) (*Result, error) {
	found := 0
	digests := make([]model.SectionDigest, len(o.Sections))
	for i, d := range o.Sections {
		digests[i] = d
		if Kind(d.Kind) == KindResult {
			found++
			digests[i].Hash = sha256.Sum256(o.Body)
		}
	}
	if found != 1 {
		return nil, fmt.Errorf("%w: opening names %d result sections", model.ErrInvalid, found)
	}
	if model.PayloadHashOf(o.Format, digests) != payloadHash {
		return nil, fmt.Errorf("%w: result opening does not match the block's payload hash", model.ErrInvalid)
	}
	// The canonical framing of the result alone is a payload ResultOf reads.
	w := codec.NewWriter(1 + ResultSize)
	w.Uint8(o.Format)
	w.Uint8(uint8(KindResult))
	w.Bytes32(o.Body)
	return ResultOf(w.Bytes())
}

// Encode returns the canonical encoding.
func (o *ResultOpening) Encode() []byte {
	w := codec.NewWriter(2 + 33*len(o.Sections) + 4 + len(o.Body))
	w.Uint8(o.Format)
	w.Uint8(uint8(len(o.Sections)))
	for _, d := range o.Sections {
		w.Uint8(d.Kind)
		w.Fixed(d.Hash[:])
	}
	w.Bytes32(o.Body)
	return w.Bytes()
}

// DecodeResultOpening decodes ResultOpening.Encode output; errors wrap
// model.ErrInvalid.
func DecodeResultOpening(b []byte) (*ResultOpening, error) {
	r := codec.NewReader(b)
	o := &ResultOpening{Format: r.Uint8()}
	n := int(r.Uint8())
	if n > maxOpeningSections {
		return nil, fmt.Errorf("%w: opening of %d sections, at most %d", model.ErrInvalid, n, maxOpeningSections)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		var d model.SectionDigest
		d.Kind = r.Uint8()
		r.Fixed(d.Hash[:])
		o.Sections = append(o.Sections, d)
	}
	o.Body = r.Bytes32(resultBody, "result")
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: result opening: %v", model.ErrInvalid, err)
	}
	return o, nil
}

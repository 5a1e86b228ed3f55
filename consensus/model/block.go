package model

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/codec"
)

// Header is the part of a block that consensus orders and signs. The payload
// enters only through its hash, so the header stays small whatever the block
// carries.
type Header struct {
	// ChainID is the chain the block belongs to; a child has its parent's.
	ChainID  ChainID
	View     View
	Height   uint64     // parent's height + 1; the root has any height
	ParentID Identifier // equals QC.BlockID
	// QC certifies the parent. Nil only for a root block.
	QC *QC
	// TC for View-1, present exactly when QC is not for View-1: the proof that
	// the leader was entitled to skip views.
	TC         *TC
	ProposerID NodeID
	Timestamp  int64 // proposer's clock, Unix milliseconds
	// PayloadHash commits to the payload section by section (see
	// PayloadHash); what a payload must carry is the chain's payload rule,
	// not the header's.
	PayloadHash Identifier
}

// Block is a header with its payload. Blocks are immutable after construction;
// the ID is computed once.
type Block struct {
	Header
	Payload []byte
	id      Identifier
}

// ID is the hash of the canonical header encoding.
func (b *Block) ID() Identifier { return b.id }

// IsRoot reports whether the block is a trusted root (genesis or snapshot),
// which has no parent QC.
func (b *Block) IsRoot() bool { return b.QC == nil }

// NewBlock builds and validates a non-root block.
func NewBlock(h Header, payload []byte) (*Block, error) {
	b := &Block{Header: h, Payload: payload}
	if err := b.checkShape(); err != nil {
		return nil, err
	}
	b.id = sha256.Sum256(b.encodeHeader())
	return b, nil
}

// NewRootBlock builds the trusted root a chain (or a snapshot) starts from.
func NewRootBlock(chain ChainID, view View, height uint64, timestamp int64, payload []byte) (*Block, error) {
	if len(payload) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: root payload of %d bytes", ErrInvalid, len(payload))
	}
	if chain == ZeroID {
		return nil, fmt.Errorf("%w: root block without a chain ID", ErrInvalid)
	}
	b := &Block{Header: Header{ChainID: chain, View: view, Height: height, Timestamp: timestamp, PayloadHash: PayloadHash(payload)}, Payload: payload}
	b.id = sha256.Sum256(b.encodeHeader())
	return b, nil
}

func (b *Block) checkShape() error {
	if err := b.Header.checkShape(); err != nil {
		return err
	}
	if len(b.Payload) > MaxPayloadSize {
		return fmt.Errorf("%w: payload of %d bytes", ErrInvalid, len(b.Payload))
	}
	if PayloadHash(b.Payload) != b.PayloadHash {
		return fmt.Errorf("%w: block for view %d: payload does not match its hash", ErrInvalid, b.View)
	}
	return nil
}

// checkShape checks a non-root header on its own.
func (h *Header) checkShape() error {
	if h.ChainID == ZeroID {
		return fmt.Errorf("%w: block for view %d has no chain ID", ErrInvalid, h.View)
	}
	if h.QC == nil {
		return fmt.Errorf("%w: block for view %d has no parent QC", ErrInvalid, h.View)
	}
	if h.QC.View >= h.View {
		return fmt.Errorf("%w: block for view %d carries QC for view %d", ErrInvalid, h.View, h.QC.View)
	}
	if h.QC.BlockID != h.ParentID {
		return fmt.Errorf("%w: block for view %d: parent %v but QC certifies %v", ErrInvalid, h.View, h.ParentID, h.QC.BlockID)
	}
	if h.Height == 0 {
		return fmt.Errorf("%w: block for view %d has height 0", ErrInvalid, h.View)
	}
	if h.QC.View+1 == h.View {
		if h.TC != nil {
			return fmt.Errorf("%w: block for view %d has a QC for the previous view and a TC", ErrInvalid, h.View)
		}
	} else {
		if h.TC == nil {
			return fmt.Errorf("%w: block for view %d skips views after QC %d without a TC", ErrInvalid, h.View, h.QC.View)
		}
		if h.TC.View+1 != h.View {
			return fmt.Errorf("%w: block for view %d carries TC for view %d", ErrInvalid, h.View, h.TC.View)
		}
	}
	return nil
}

func (b *Block) encodeHeader() []byte {
	w := codec.NewWriter(256)
	b.Header.encode(w)
	return w.Bytes()
}

func (h *Header) encode(w *codec.Writer) {
	w.Fixed(h.ChainID[:])
	w.Uint64(uint64(h.View))
	w.Uint64(h.Height)
	w.Fixed(h.ParentID[:])
	w.Bool(h.QC != nil)
	if h.QC != nil {
		h.QC.encode(w)
	}
	w.Bool(h.TC != nil)
	if h.TC != nil {
		h.TC.encode(w)
	}
	w.Fixed(h.ProposerID[:])
	w.Uint64(uint64(h.Timestamp))
	w.Fixed(h.PayloadHash[:])
}

func decodeHeader(r *codec.Reader) Header {
	var h Header
	r.Fixed(h.ChainID[:])
	h.View = View(r.Uint64())
	h.Height = r.Uint64()
	r.Fixed(h.ParentID[:])
	if r.Bool() {
		h.QC = decodeQC(r)
	}
	if r.Bool() {
		h.TC = decodeTC(r)
	}
	r.Fixed(h.ProposerID[:])
	h.Timestamp = int64(r.Uint64())
	r.Fixed(h.PayloadHash[:])
	return h
}

func (b *Block) encode(w *codec.Writer) {
	b.Header.encode(w)
	w.Bytes32(b.Payload)
}

func decodeBlock(r *codec.Reader) *Block {
	h := decodeHeader(r)
	payload := r.Bytes32(MaxPayloadSize, "payload")
	if r.Err() != nil {
		return nil
	}
	var (
		b   *Block
		err error
	)
	if h.QC == nil {
		if h.TC != nil || h.ParentID != ZeroID || h.ProposerID != ZeroID {
			r.Fail("root block with parent, TC or proposer")
			return nil
		}
		b, err = NewRootBlock(h.ChainID, h.View, h.Height, h.Timestamp, payload)
		if err == nil && b.PayloadHash != h.PayloadHash {
			err = fmt.Errorf("%w: root payload does not match its hash", ErrInvalid)
		}
	} else {
		b, err = NewBlock(h, payload)
	}
	if err != nil {
		r.Fail("%v", err)
		return nil
	}
	return b
}

// EncodeHeader returns the canonical header encoding, whose hash is the
// block ID. Light clients and followers move headers without payloads.
func (b *Block) EncodeHeader() []byte { return b.encodeHeader() }

// DecodeHeader decodes a canonical non-root header encoding, checks its shape
// (everything NewBlock checks except the payload, which is absent) and
// returns it with its block ID.
func DecodeHeader(data []byte) (*Header, Identifier, error) {
	r := codec.NewReader(data)
	h := decodeHeader(r)
	if err := r.Done(); err != nil {
		return nil, ZeroID, err
	}
	if err := h.checkShape(); err != nil {
		return nil, ZeroID, err
	}
	return &h, sha256.Sum256(data), nil
}

// Encode returns the canonical encoding of header and payload.
func (b *Block) Encode() []byte {
	w := codec.NewWriter(300 + len(b.Payload))
	b.encode(w)
	return w.Bytes()
}

// DecodeBlock decodes a canonical block encoding and recomputes its ID.
func DecodeBlock(data []byte) (*Block, error) {
	r := codec.NewReader(data)
	b := decodeBlock(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return b, nil
}

// ByHeight returns blocks sorted by height, then ID: parents before
// children, in one order whatever the input's, so every replica adds a
// batch the same way.
func ByHeight(blocks []*Block) []*Block {
	out := slices.Clone(blocks)
	slices.SortStableFunc(out, func(a, b *Block) int {
		if c := cmp.Compare(a.Height, b.Height); c != 0 {
			return c
		}
		ai, bi := a.ID(), b.ID()
		return bytes.Compare(ai[:], bi[:])
	})
	return out
}

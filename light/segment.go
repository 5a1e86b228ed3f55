package light

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
)

// Hard bounds on what a light proof may contain. They bound the memory a
// malicious source can make the client allocate, whatever it sends.
const (
	// MaxSegmentBlocks bounds a segment. Finality needs two blocks in
	// consecutive views after the target; an honest node finds them within
	// a few blocks unless views keep failing.
	MaxSegmentBlocks = 64
	// MaxHeaderSize bounds one encoded header (a TC over a 4,096-member
	// committee is the largest part, ≈ 33 KiB).
	MaxHeaderSize = 64 << 10
	// MaxEventPayloadSize bounds one service-event payload: an EpochSetup
	// with a large identity table is the largest.
	MaxEventPayloadSize = 4 << 20
	// MaxProofSize bounds any encoded proof, and so any HTTP body a client
	// reads.
	MaxProofSize = 16 << 20
	// MaxExtensions bounds the fallback extensions one transition proves.
	MaxExtensions = 64
)

// Format tags: the first byte of every top-level encoding, so one kind of
// proof never decodes as another.
const (
	tagSegment    = 0x4c // 'L'
	tagTransition = 0x54 // 'T'
	tagState      = 0x53 // 'S'
)

// SegmentBlock is one block of a segment: its canonical header encoding,
// whose SHA-256 is the block ID, and — only for a block that carries
// service events — its payload.
type SegmentBlock struct {
	Header  []byte
	Payload []byte // nil when not included
}

// Segment is a run of consecutive finalized blocks, oldest first: a target
// block and enough descendants to prove it final. The QC of each block is
// carried by its child; QC certifies the last block when the segment ends
// without its child.
type Segment struct {
	Blocks []SegmentBlock
	QC     *model.QC
}

// FinalBlock is a block a segment proved final.
type FinalBlock struct {
	ID      model.Identifier
	Header  *model.Header
	Payload []byte // nil unless the segment carried it
}

// Size is the segment's encoded size in bytes.
func (s *Segment) Size() int { return len(s.Encode()) }

// Encode returns the canonical encoding.
func (s *Segment) Encode() []byte {
	w := codec.NewWriter(512 * (len(s.Blocks) + 1))
	w.Uint8(tagSegment)
	s.encode(w)
	return w.Bytes()
}

func (s *Segment) encode(w *codec.Writer) {
	w.Uint8(uint8(len(s.Blocks)))
	for _, b := range s.Blocks {
		w.Bytes32(b.Header)
		w.Bool(b.Payload != nil)
		if b.Payload != nil {
			w.Bytes32(b.Payload)
		}
	}
	w.Bool(s.QC != nil)
	if s.QC != nil {
		w.Bytes32(s.QC.Encode())
	}
}

func decodeSegment(r *codec.Reader) *Segment {
	n := int(r.Uint8())
	if r.Err() != nil {
		return nil
	}
	if n == 0 || n > MaxSegmentBlocks {
		r.Fail("segment of %d blocks, want 1..%d", n, MaxSegmentBlocks)
		return nil
	}
	s := &Segment{Blocks: make([]SegmentBlock, 0, n)}
	for i := 0; i < n && r.Err() == nil; i++ {
		b := SegmentBlock{Header: r.Bytes32(MaxHeaderSize, "header")}
		if r.Bool() {
			b.Payload = r.Bytes32(MaxEventPayloadSize, "payload")
			if b.Payload == nil {
				b.Payload = []byte{}
			}
		}
		s.Blocks = append(s.Blocks, b)
	}
	if r.Bool() {
		q, err := model.DecodeQC(r.Bytes32(MaxHeaderSize, "QC"))
		if err != nil && r.Err() == nil {
			r.Fail("segment QC: %v", err)
		}
		s.QC = q
	}
	if r.Err() != nil {
		return nil
	}
	return s
}

// DecodeSegment decodes Segment.Encode output.
func DecodeSegment(b []byte) (*Segment, error) {
	r, err := topReader(b, tagSegment, "segment")
	if err != nil {
		return nil, err
	}
	s := decodeSegment(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: segment: %v", ErrMalformed, err)
	}
	return s, nil
}

func topReader(b []byte, tag byte, what string) (*codec.Reader, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrMalformed, what, len(b), MaxProofSize)
	}
	if len(b) == 0 || b[0] != tag {
		return nil, fmt.Errorf("%w: not a %s encoding", ErrMalformed, what)
	}
	return codec.NewReader(b[1:]), nil
}

// checkQC verifies a QC and classifies the failure: a view no known epoch
// covers is the client's ignorance (ErrUnknownEpoch); anything else is a
// forgery.
func checkQC(v *verify.Verifier, qc *model.QC, what string) error {
	if err := v.QC(qc); err != nil {
		if errors.Is(err, ErrUnknownEpoch) {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%w: %s: %v", ErrForged, what, err)
	}
	return nil
}

// verifySegment checks every header's shape, hash link, height and QC, and
// every included payload against its header, then applies the 2-chain rule:
// block k is final when its child k+1 is in view k.View+1 and is itself
// certified (by block k+2's QC or the segment's trailing QC); k's ancestors
// in the segment are final with it. It returns the final blocks, oldest
// first, or ErrIncomplete when the segment proves none final.
func verifySegment(v *verify.Verifier, s *Segment) ([]FinalBlock, error) {
	if s == nil || len(s.Blocks) == 0 {
		return nil, fmt.Errorf("%w: empty segment", ErrIncomplete)
	}
	if len(s.Blocks) > MaxSegmentBlocks {
		return nil, fmt.Errorf("%w: segment of %d blocks", ErrMalformed, len(s.Blocks))
	}
	blocks := make([]FinalBlock, len(s.Blocks))
	for i, sb := range s.Blocks {
		if len(sb.Header) > MaxHeaderSize {
			return nil, fmt.Errorf("%w: header %d of %d bytes", ErrMalformed, i, len(sb.Header))
		}
		h, id, err := model.DecodeHeader(sb.Header)
		if err != nil {
			return nil, fmt.Errorf("%w: header %d: %v", ErrForged, i, err)
		}
		if sb.Payload != nil && model.PayloadHash(sb.Payload) != h.PayloadHash {
			return nil, fmt.Errorf("%w: payload of the block at height %d does not hash to its header's payload hash", ErrForged, h.Height)
		}
		if i > 0 {
			p := blocks[i-1]
			switch {
			case h.ParentID != p.ID:
				return nil, fmt.Errorf("%w: broken hash link: block at height %d names parent %v, the segment's previous block is %v", ErrForged, h.Height, h.ParentID, p.ID)
			case h.Height != p.Header.Height+1:
				return nil, fmt.Errorf("%w: block at height %d follows height %d", ErrForged, h.Height, p.Header.Height)
			case h.QC.View != p.Header.View:
				return nil, fmt.Errorf("%w: block at height %d carries a QC for view %d, its parent is in view %d", ErrForged, h.Height, h.QC.View, p.Header.View)
			}
		}
		blocks[i] = FinalBlock{ID: id, Header: h, Payload: sb.Payload}
	}
	// Every QC, not only the last: the chained argument (an honest voter
	// checked the QC inside the block it voted for) would make the inner
	// ones redundant, but checking them costs a pairing each and keeps the
	// proof self-evidently sound.
	for _, b := range blocks {
		if err := checkQC(v, b.Header.QC, fmt.Sprintf("QC in the block at height %d", b.Header.Height)); err != nil {
			return nil, err
		}
	}
	last := blocks[len(blocks)-1]
	certifiedUpTo := len(blocks) - 2 // block i is certified by block i+1's QC
	if s.QC != nil {
		if s.QC.BlockID != last.ID || s.QC.View != last.Header.View {
			return nil, fmt.Errorf("%w: trailing QC certifies %v in view %d, the segment ends with %v in view %d",
				ErrForged, s.QC.BlockID, s.QC.View, last.ID, last.Header.View)
		}
		if err := checkQC(v, s.QC, "trailing QC"); err != nil {
			return nil, err
		}
		certifiedUpTo = len(blocks) - 1
	}
	// Largest k with a certified child in the next view.
	for k := certifiedUpTo - 1; k >= 0; k-- {
		if blocks[k+1].Header.View == blocks[k].Header.View+1 {
			return blocks[:k+1], nil
		}
	}
	return nil, fmt.Errorf("%w: the segment from height %d (%d blocks) has no certified child in the view after a block, so it proves nothing final",
		ErrIncomplete, blocks[0].Header.Height, len(blocks))
}

// segmentBlock is a block as a segment carries it: the header, and the
// payload only when asked (event blocks).
func segmentBlock(b *model.Block, withPayload bool) SegmentBlock {
	sb := SegmentBlock{Header: b.EncodeHeader()}
	if withPayload {
		sb.Payload = append([]byte{}, b.Payload...)
	}
	return sb
}

package follower

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// The sync wire format, served by participants and followers alike over
// HTTP (see api/sync.go) and read by the follower's sync client.
//
// A range answer (GET /v1/sync/range) is
//
//	version(1) | count(4) | count × (block length(4) | canonical block) | hasQC(1) | [QC length(2) | QC]
//
// where the blocks are consecutive finalized blocks, oldest first, and the
// QC certifies the last one. The live stream (GET /v1/sync/live) is a
// sequence of frames
//
//	length(4) | kind(1) | body
//
// whose body is empty (FrameKeepAlive), a canonical proposal (FrameProposal) or a range answer
// (FrameCertified: blocks that reached the sender without a proposer
// signature, with the QC that certifies the last).
const (
	wireVersion = 1

	// FrameKeepAlive has an empty body: it keeps an idle stream open
	// through proxies and tells the reader the sender is alive.
	FrameKeepAlive byte = 0
	// FrameProposal carries a model.Proposal encoding.
	FrameProposal byte = 1
	// FrameCertified carries a range encoding.
	FrameCertified byte = 2

	// DefaultMaxFrameBytes bounds one live frame or range answer a reader
	// accepts: generous for headers, bounded for payloads.
	DefaultMaxFrameBytes = 64 << 20
)

// ErrMalformed wraps every decoding failure of the sync wire format; the
// sender is at fault (it wraps ErrInvalid).
var ErrMalformed = fmt.Errorf("%w: malformed sync message", ErrInvalid)

// EncodeRange encodes blocks and the QC certifying the last (may be nil).
func EncodeRange(blocks []*model.Block, qc *model.QC) []byte {
	size := 16
	for _, b := range blocks {
		size += 400 + len(b.Payload)
	}
	w := codec.NewWriter(size)
	w.Uint8(wireVersion)
	w.Uint32(uint32(len(blocks)))
	for _, b := range blocks {
		w.Bytes32(b.Encode())
	}
	w.Bool(qc != nil)
	if qc != nil {
		w.Bytes16(qc.Encode())
	}
	return w.Bytes()
}

// DecodeRange decodes a range answer of at most maxBlocks blocks. Every
// block's ID is recomputed from its bytes and its payload checked against
// its hash, so the hash links the engine checks are real.
func DecodeRange(data []byte, maxBlocks int) ([]*model.Block, *model.QC, error) {
	r := codec.NewReader(data)
	if v := r.Uint8(); r.Err() == nil && v != wireVersion {
		return nil, nil, fmt.Errorf("%w: range version %d", ErrMalformed, v)
	}
	n := r.Uint32()
	if r.Err() != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, r.Err())
	}
	if int64(n) > int64(maxBlocks) {
		return nil, nil, fmt.Errorf("%w: range of %d blocks, at most %d", ErrMalformed, n, maxBlocks)
	}
	blocks := make([]*model.Block, 0, n)
	for i := uint32(0); i < n; i++ {
		raw := r.Bytes32(model.MaxPayloadSize+64<<10, "block")
		if r.Err() != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, r.Err())
		}
		b, err := model.DecodeBlock(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: block %d: %v", ErrMalformed, i, err)
		}
		blocks = append(blocks, b)
	}
	var qc *model.QC
	if r.Bool() {
		raw := r.Bytes16(4096, "QC")
		if r.Err() == nil {
			var err error
			if qc, err = model.DecodeQC(raw); err != nil {
				return nil, nil, fmt.Errorf("%w: QC: %v", ErrMalformed, err)
			}
		}
	}
	if err := r.Done(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return blocks, qc, nil
}

// WriteFrame writes one live-stream frame.
func WriteFrame(w io.Writer, kind byte, body []byte) error {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)+1))
	hdr[4] = kind
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// ReadFrame reads one live-stream frame of at most maxBytes. io.EOF means
// the stream ended cleanly between frames.
func ReadFrame(r *bufio.Reader, maxBytes int) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || int64(n) > int64(maxBytes) {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes (1..%d)", ErrMalformed, n, maxBytes)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return buf[0], buf[1:], nil
}

// DecodeFrame turns a frame into an engine input.
func DecodeFrame(kind byte, body []byte, maxBlocks int) (Input, error) {
	switch kind {
	case FrameProposal:
		p, err := model.DecodeProposal(body)
		if err != nil {
			return Input{}, fmt.Errorf("%w: proposal: %v", ErrMalformed, err)
		}
		return Input{Proposal: p}, nil
	case FrameCertified:
		blocks, qc, err := DecodeRange(body, maxBlocks)
		if err != nil {
			return Input{}, err
		}
		if len(blocks) == 0 || qc == nil {
			return Input{}, fmt.Errorf("%w: certified frame without blocks or QC", ErrMalformed)
		}
		return Input{Blocks: blocks, QC: qc}, nil
	}
	return Input{}, fmt.Errorf("%w: frame kind %d", ErrMalformed, kind)
}

package chainrun

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// Wire message kinds of one chain's consensus and sync. Values are part
// of the protocol. Kinds this package does not define (8 and 10 on the
// main chain: transaction gossip and service events) belong to the role
// that runs the chain; Decode refuses them with ErrForeignKind.
const (
	kindProposal     uint8 = 1
	kindVote         uint8 = 2
	kindTimeout      uint8 = 3
	kindSyncInfo     uint8 = 4 // a QC (and TC) for a replica that is behind
	kindBlockRequest uint8 = 5 // a block by ID and its ancestors above a height
	kindRangeRequest uint8 = 6 // finalized blocks by height
	kindBlocks       uint8 = 7 // answer to either request
	kindStatus       uint8 = 9 // finalized height and view, for height polls
)

// maxBlocksPerMessage bounds a sync answer: whatever a peer sends,
// decoding allocates at most this many blocks.
const maxBlocksPerMessage = 64

// ErrForeignKind: a frame whose kind is not one of this package's. The
// role that runs the chain may define it.
var ErrForeignKind = errors.New("frame kind not handled by the chain runner")

// Message is one decoded consensus or sync frame; exactly the fields of
// its kind are set.
type Message struct {
	kind     uint8
	proposal *model.Proposal
	vote     *model.Vote
	timeout  *model.TimeoutObject
	qc       *model.QC
	tc       *model.TC
	blockID  model.Identifier
	height   uint64 // BlockRequest: requester's finalized height; RangeRequest: first height; Status: finalized height
	count    uint32 // RangeRequest
	view     model.View
	blocks   []*model.Block
}

func encodeProposal(p *model.Proposal) []byte { return append([]byte{kindProposal}, p.Encode()...) }
func encodeVote(v *model.Vote) []byte         { return append([]byte{kindVote}, v.Encode()...) }
func encodeTimeout(t *model.TimeoutObject) []byte {
	return append([]byte{kindTimeout}, t.Encode()...)
}

func encodeSyncInfo(qc *model.QC, tc *model.TC) []byte {
	w := codec.NewWriter(256)
	w.Uint8(kindSyncInfo)
	w.Bytes32(qc.Encode())
	w.Bool(tc != nil)
	if tc != nil {
		w.Bytes32(tc.Encode())
	}
	return w.Bytes()
}

func encodeBlockRequest(id model.Identifier, haveHeight uint64) []byte {
	w := codec.NewWriter(41)
	w.Uint8(kindBlockRequest)
	w.Fixed(id[:])
	w.Uint64(haveHeight)
	return w.Bytes()
}

func encodeRangeRequest(from uint64, count uint32) []byte {
	w := codec.NewWriter(13)
	w.Uint8(kindRangeRequest)
	w.Uint64(from)
	w.Uint32(count)
	return w.Bytes()
}

func encodeBlocks(blocks []*model.Block) []byte {
	w := codec.NewWriter(1024)
	w.Uint8(kindBlocks)
	w.Uint16(uint16(len(blocks)))
	for _, b := range blocks {
		w.Bytes32(b.Encode())
	}
	return w.Bytes()
}

func encodeStatus(height uint64, view model.View) []byte {
	w := codec.NewWriter(17)
	w.Uint8(kindStatus)
	w.Uint64(height)
	w.Uint64(uint64(view))
	return w.Bytes()
}

// Decode decodes one frame. Garbage gives an error wrapping
// codec.ErrMalformed or model.ErrInvalid, never a panic; a kind this
// package does not define gives ErrForeignKind.
func Decode(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", codec.ErrMalformed)
	}
	m := &Message{kind: b[0]}
	body := b[1:]
	var err error
	switch m.kind {
	case kindProposal:
		m.proposal, err = model.DecodeProposal(body)
	case kindVote:
		m.vote, err = model.DecodeVote(body)
	case kindTimeout:
		m.timeout, err = model.DecodeTimeout(body)
	case kindSyncInfo:
		r := codec.NewReader(body)
		qcRaw := r.Bytes32(1<<20, "sync QC")
		var tcRaw []byte
		if r.Bool() {
			tcRaw = r.Bytes32(1<<20, "sync TC")
		}
		if err = r.Done(); err != nil {
			break
		}
		if m.qc, err = model.DecodeQC(qcRaw); err != nil {
			break
		}
		if tcRaw != nil {
			m.tc, err = model.DecodeTC(tcRaw)
		}
	case kindBlockRequest:
		r := codec.NewReader(body)
		r.Fixed(m.blockID[:])
		m.height = r.Uint64()
		err = r.Done()
	case kindRangeRequest:
		r := codec.NewReader(body)
		m.height = r.Uint64()
		m.count = r.Uint32()
		err = r.Done()
	case kindBlocks:
		r := codec.NewReader(body)
		n := int(r.Uint16())
		if n > maxBlocksPerMessage {
			return nil, fmt.Errorf("%w: %d blocks in one message", codec.ErrMalformed, n)
		}
		raws := make([][]byte, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			raws = append(raws, r.Bytes32(model.MaxPayloadSize+1<<16, "block"))
		}
		if err = r.Done(); err != nil {
			break
		}
		for _, raw := range raws {
			blk, derr := model.DecodeBlock(raw)
			if derr != nil {
				return nil, derr
			}
			m.blocks = append(m.blocks, blk)
		}
	case kindStatus:
		r := codec.NewReader(body)
		m.height = r.Uint64()
		m.view = model.View(r.Uint64())
		err = r.Done()
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrForeignKind, m.kind)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// EncodeProposal is the frame of a proposal, for code that plays a peer
// outside a Runner (tests of misbehaving members).
func EncodeProposal(p *model.Proposal) []byte { return encodeProposal(p) }

// EncodeVote is the frame of a vote, for code that plays a peer outside a
// Runner.
func EncodeVote(v *model.Vote) []byte { return encodeVote(v) }

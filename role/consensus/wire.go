package consensus

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Wire message kinds. Values are part of the protocol.
const (
	kindProposal     uint8 = 1
	kindVote         uint8 = 2
	kindTimeout      uint8 = 3
	kindSyncInfo     uint8 = 4  // a QC (and TC) for a replica that is behind
	kindBlockRequest uint8 = 5  // a block by ID and its ancestors above a height
	kindRangeRequest uint8 = 6  // finalized blocks by height
	kindBlocks       uint8 = 7  // answer to either request
	kindTxs          uint8 = 8  // transaction gossip
	kindStatus       uint8 = 9  // finalized height and view, for height polls
	kindServiceEvent uint8 = 10 // a governance-signed epoch service event
)

// Wire limits: whatever a peer sends, decoding allocates at most this much.
const (
	maxBlocksPerMessage = 64
	maxTxsPerMessage    = 16384
	maxTxBytes          = 1 << 20
)

// message is one decoded wire message; exactly the fields of its kind are set.
type message struct {
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
	txs      [][]byte
	event    *epoch.Event
}

func encodeServiceEvent(e *epoch.Event) []byte {
	return append([]byte{kindServiceEvent}, e.Encode()...)
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

func encodeTxs(txs [][]byte) []byte {
	n := 5
	for _, tx := range txs {
		n += 4 + len(tx)
	}
	w := codec.NewWriter(n)
	w.Uint8(kindTxs)
	w.Uint32(uint32(len(txs)))
	for _, tx := range txs {
		w.Bytes32(tx)
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

// decodeMessage decodes one frame. Garbage gives an error wrapping
// codec.ErrMalformed or model.ErrInvalid, never a panic.
func decodeMessage(b []byte) (*message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", codec.ErrMalformed)
	}
	m := &message{kind: b[0]}
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
	case kindTxs:
		r := codec.NewReader(body)
		n := int(r.Uint32())
		if n > maxTxsPerMessage || n*4 > r.Remaining() {
			return nil, fmt.Errorf("%w: %d transactions in one message", codec.ErrMalformed, n)
		}
		m.txs = make([][]byte, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			m.txs = append(m.txs, r.Bytes32(maxTxBytes, "transaction"))
		}
		err = r.Done()
	case kindStatus:
		r := codec.NewReader(body)
		m.height = r.Uint64()
		m.view = model.View(r.Uint64())
		err = r.Done()
	case kindServiceEvent:
		m.event, err = epoch.DecodeEvent(body)
	default:
		return nil, fmt.Errorf("%w: unknown message kind %d", codec.ErrMalformed, m.kind)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

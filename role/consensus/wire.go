package consensus

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/epoch"
)

// The main chain's own wire kinds, beside the consensus and sync frames of
// package chainrun (kinds 1-7 and 9). Values are part of the protocol.
const (
	kindTxs          uint8 = 8  // transaction gossip
	kindServiceEvent uint8 = 10 // a governance-signed epoch service event
)

// Wire limits: whatever a peer sends, decoding allocates at most this much.
const (
	maxTxsPerMessage = 16384
	maxTxBytes       = 1 << 20
)

// roleMessage is one decoded frame of the main chain's own kinds.
type roleMessage struct {
	kind  uint8
	txs   [][]byte
	event *epoch.Event
}

func encodeServiceEvent(e *epoch.Event) []byte {
	return append([]byte{kindServiceEvent}, e.Encode()...)
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

// decodeRoleMessage decodes a frame of the main chain's own kinds. Garbage
// gives an error wrapping codec.ErrMalformed or model.ErrInvalid, never a
// panic.
func decodeRoleMessage(b []byte) (*roleMessage, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty frame", codec.ErrMalformed)
	}
	m := &roleMessage{kind: b[0]}
	body := b[1:]
	var err error
	switch m.kind {
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

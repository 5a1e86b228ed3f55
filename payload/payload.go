// Package payload is what main-chain blocks carry, with one canonical
// encoding: a version byte, then one section per kind present, in kind
// order. Today the kinds are transactions and service events; collection
// guarantees, execution receipts and seals are the kinds the pipeline adds
// next. Every count and length is bounded on decode, and a node decodes a
// block's payload once (Cache).
package payload

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Version is the first byte of every non-empty payload.
const Version = 1

// Kind names a section of a payload.
type Kind uint8

// Section kinds, in the order they appear.
const (
	KindTransactions  Kind = 1
	KindServiceEvents Kind = 2
)

// TxOverhead is what a payload of transactions adds to them: the version,
// the section's kind and count. Each transaction adds TxFraming more.
const (
	TxOverhead = 1 + 1 + 4
	TxFraming  = 4
)

// maxEventBytes bounds one encoded service event.
const maxEventBytes = 1 << 20

// Payload is a decoded block payload. The zero value is the empty payload
// (genesis, or a block with nothing to order), encoded as no bytes at all.
type Payload struct {
	Transactions  [][]byte
	ServiceEvents []*epoch.Event
}

// Limits bound what Decode accepts.
type Limits struct {
	MaxTxs int // transactions in one payload
}

// Empty reports whether the payload carries nothing.
func (p *Payload) Empty() bool { return len(p.Transactions) == 0 && len(p.ServiceEvents) == 0 }

// Encode returns the canonical encoding: nil for the empty payload.
func (p *Payload) Encode() []byte {
	if p.Empty() {
		return nil
	}
	n := 1
	if len(p.Transactions) > 0 {
		n += TxSize(p.Transactions) - 1
	}
	w := codec.NewWriter(n + 512*len(p.ServiceEvents))
	w.Uint8(Version)
	if len(p.Transactions) > 0 {
		w.Uint8(uint8(KindTransactions))
		w.Uint32(uint32(len(p.Transactions)))
		for _, tx := range p.Transactions {
			w.Bytes32(tx)
		}
	}
	if len(p.ServiceEvents) > 0 {
		w.Uint8(uint8(KindServiceEvents))
		w.Uint32(uint32(len(p.ServiceEvents)))
		for _, e := range p.ServiceEvents {
			w.Bytes32(e.Encode())
		}
	}
	return w.Bytes()
}

// TxSize is the encoded size of a payload carrying only txs.
func TxSize(txs [][]byte) int {
	if len(txs) == 0 {
		return 0
	}
	n := TxOverhead
	for _, tx := range txs {
		n += TxFraming + len(tx)
	}
	return n
}

// Transactions encodes a payload of transactions only.
func Transactions(txs [][]byte) []byte { return (&Payload{Transactions: txs}).Encode() }

// ServiceEvents encodes a payload of service events only.
func ServiceEvents(events []*epoch.Event) []byte { return (&Payload{ServiceEvents: events}).Encode() }

// Decode decodes and checks a payload: the canonical encoding only (known
// version, sections in kind order, none empty, no trailing bytes), within
// lim, each service event well formed. Errors wrap model.ErrInvalid. It
// never panics and allocates in proportion to len(b); transactions alias b.
func Decode(b []byte, lim Limits) (*Payload, error) {
	p := &Payload{}
	if len(b) == 0 {
		return p, nil
	}
	r := codec.NewReader(b)
	if v := r.Uint8(); v != Version {
		return nil, fmt.Errorf("%w: payload version %d, want %d", model.ErrInvalid, v, Version)
	}
	last := Kind(0)
	for r.Err() == nil && r.Remaining() > 0 {
		kind := Kind(r.Uint8())
		count := int(r.Uint32())
		if r.Err() != nil {
			break
		}
		if kind <= last {
			return nil, fmt.Errorf("%w: payload section %d after section %d", model.ErrInvalid, kind, last)
		}
		last = kind
		if count == 0 {
			return nil, fmt.Errorf("%w: empty payload section %d", model.ErrInvalid, kind)
		}
		// Every entry takes at least its 4-byte length.
		if count > r.Remaining()/4 {
			return nil, fmt.Errorf("%w: payload section %d claims %d entries in %d bytes", model.ErrInvalid, kind, count, r.Remaining())
		}
		switch kind {
		case KindTransactions:
			if count > lim.MaxTxs {
				return nil, fmt.Errorf("%w: payload of %d transactions, at most %d", model.ErrInvalid, count, lim.MaxTxs)
			}
			p.Transactions = make([][]byte, 0, count)
			for i := 0; i < count && r.Err() == nil; i++ {
				// Blocks are immutable: transactions alias the payload
				// instead of copying it (a block's worth per decode).
				p.Transactions = append(p.Transactions, r.View32(len(b), "transaction"))
			}
		case KindServiceEvents:
			if count > epoch.MaxEventsPerBlock {
				return nil, fmt.Errorf("%w: payload of %d service events, at most %d", model.ErrInvalid, count, epoch.MaxEventsPerBlock)
			}
			for i := 0; i < count && r.Err() == nil; i++ {
				raw := r.Bytes32(maxEventBytes, "service event")
				if r.Err() != nil {
					break
				}
				e, err := epoch.DecodeEvent(raw)
				if err != nil {
					return nil, fmt.Errorf("%w: service event %d: %v", model.ErrInvalid, i, err)
				}
				p.ServiceEvents = append(p.ServiceEvents, e)
			}
		default:
			return nil, fmt.Errorf("%w: unknown payload section %d", model.ErrInvalid, kind)
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", model.ErrInvalid, err)
	}
	if p.Empty() {
		return nil, fmt.Errorf("%w: payload with a version and no sections (the empty payload is no bytes)", model.ErrInvalid)
	}
	return p, nil
}

// ServiceEventsOf returns the service events of an encoded payload without
// decoding its transactions (they are skipped by their lengths, not
// copied): what light clients and the light-proof index read from every
// block. A payload without service events gives none; a malformed one an
// error wrapping model.ErrInvalid.
func ServiceEventsOf(b []byte) ([]*epoch.Event, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: payload version %d, want %d", model.ErrInvalid, b[0], Version)
	}
	rest := b[1:]
	for len(rest) > 0 {
		if len(rest) < 5 {
			return nil, fmt.Errorf("%w: truncated payload section header", model.ErrInvalid)
		}
		kind, count := Kind(rest[0]), int(binary.BigEndian.Uint32(rest[1:5]))
		if kind != KindTransactions {
			// Decode checks the events (and any later section) in full.
			p, err := Decode(append([]byte{Version}, rest...), Limits{})
			if err != nil {
				return nil, err
			}
			return p.ServiceEvents, nil
		}
		if count == 0 {
			return nil, fmt.Errorf("%w: empty payload section %d", model.ErrInvalid, kind)
		}
		rest = rest[5:]
		for i := 0; i < count; i++ {
			if len(rest) < 4 {
				return nil, fmt.Errorf("%w: transaction %d: truncated length", model.ErrInvalid, i)
			}
			n := uint64(binary.BigEndian.Uint32(rest))
			if n > uint64(len(rest)-4) {
				return nil, fmt.Errorf("%w: transaction %d: %d bytes, %d left", model.ErrInvalid, i, n, len(rest)-4)
			}
			rest = rest[4+n:]
		}
	}
	return nil, nil
}

// TransactionsOf returns the transactions of an encoded payload of at most
// maxTxs transactions (for readers of payloads without their blocks, such
// as the API's binary batches; nodes decode through a Cache).
func TransactionsOf(b []byte, maxTxs int) ([][]byte, error) {
	p, err := Decode(b, Limits{MaxTxs: maxTxs})
	if err != nil {
		return nil, err
	}
	return p.Transactions, nil
}

// Package payload is what main-chain blocks carry, with one canonical
// encoding: a version byte, then one section per kind present, in kind
// order, each framed with its kind and byte length (the framing
// model.PayloadHash commits to section by section). Today the kinds are the
// execution result, transactions and service events; collection
// guarantees, execution receipts and seals are the kinds the pipeline adds
// next. Every count and length is bounded on decode, and a node decodes a
// block's payload once (Cache).
package payload

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Version is the first byte of every non-empty payload. Version 2 framed
// sections with their byte length and added the execution result; the
// guarantee and receipt sections of pipeline networks are new kinds, not a
// new version.
const Version = 2

// Kind names a section of a payload.
type Kind uint8

// Section kinds, in the order they appear.
const (
	KindResult        Kind = 1
	KindTransactions  Kind = 2
	KindServiceEvents Kind = 3
	// KindGuarantees: collection guarantees (pipeline networks); consensus
	// nodes order them instead of transactions.
	KindGuarantees Kind = 4
	// Kind 5 held a single unchunked receipt; it is retired (refused as
	// unknown): results are chunked since (KindReceipts).

	// KindReceipts: execution receipts (pipeline networks), at most
	// MaxReceipts; the block's Result follows from them (ResultOf).
	KindReceipts Kind = 6
)

// MaxReceipts bounds the receipts one main-chain block carries.
const MaxReceipts = 16

// Sizes of the framing, for callers that budget a block's bytes:
// TxOverhead is what a payload of transactions only adds to them (the
// version, the section's framing and count), TxFraming what each
// transaction adds, and ResultSize what the execution result section adds.
const (
	TxOverhead = 1 + model.SectionHeader + 4
	TxFraming  = 4
	ResultSize = model.SectionHeader + resultBody
)

// resultBody is the encoded result: height and root.
const resultBody = 8 + 32

// maxEventBytes bounds one encoded service event.
const maxEventBytes = 1 << 20

// Result commits to the application state after a finalized height: the
// state root honest replicas computed executing every finalized block up
// to Height. A main-chain block carries one; replicas check it against
// their own execution before they vote, so a certified block carries a
// root that honest replicas computed, and light clients prove state
// against it.
type Result struct {
	Height uint64
	Root   model.Identifier
}

// Payload is a decoded block payload. The zero value is the empty payload
// (genesis), encoded as no bytes at all.
type Payload struct {
	Result        *Result // nil: none
	Transactions  [][]byte
	ServiceEvents []*epoch.Event
	Guarantees    []*collection.Guarantee
	Receipts      []*Receipt
}

// Limits bound what Decode accepts.
type Limits struct {
	MaxTxs        int // transactions in one payload
	MaxGuarantees int // guarantees in one payload; 0: collection.DefaultMaxGuarantees
}

// Empty reports whether the payload carries nothing.
func (p *Payload) Empty() bool {
	return p.Result == nil && len(p.Transactions) == 0 && len(p.ServiceEvents) == 0 &&
		len(p.Guarantees) == 0 && len(p.Receipts) == 0
}

// Encode returns the canonical encoding: nil for the empty payload.
func (p *Payload) Encode() []byte {
	if p.Empty() {
		return nil
	}
	n := 1
	if p.Result != nil {
		n += ResultSize
	}
	if len(p.Transactions) > 0 {
		n += TxSize(p.Transactions) - 1
	}
	w := codec.NewWriter(n + 512*len(p.ServiceEvents))
	w.Uint8(Version)
	if r := p.Result; r != nil {
		w.Uint8(uint8(KindResult))
		w.Uint32(resultBody)
		w.Uint64(r.Height)
		w.Fixed(r.Root[:])
	}
	if len(p.Transactions) > 0 {
		w.Uint8(uint8(KindTransactions))
		w.Uint32(uint32(TxSize(p.Transactions) - TxOverhead + 4))
		w.Uint32(uint32(len(p.Transactions)))
		for _, tx := range p.Transactions {
			w.Bytes32(tx)
		}
	}
	if len(p.ServiceEvents) > 0 {
		events := make([][]byte, len(p.ServiceEvents))
		size := 4
		for i, e := range p.ServiceEvents {
			events[i] = e.Encode()
			size += 4 + len(events[i])
		}
		w.Uint8(uint8(KindServiceEvents))
		w.Uint32(uint32(size))
		w.Uint32(uint32(len(events)))
		for _, e := range events {
			w.Bytes32(e)
		}
	}
	if len(p.Guarantees) > 0 {
		size := 4
		for _, g := range p.Guarantees {
			size += collection.GuaranteeSize(g.Signers.Size(), len(g.Signature))
		}
		w.Uint8(uint8(KindGuarantees))
		w.Uint32(uint32(size))
		w.Uint32(uint32(len(p.Guarantees)))
		for _, g := range p.Guarantees {
			g.EncodeTo(w)
		}
	}
	if len(p.Receipts) > 0 {
		size := 4
		for _, r := range p.Receipts {
			size += r.size()
		}
		w.Uint8(uint8(KindReceipts))
		w.Uint32(uint32(size))
		w.Uint32(uint32(len(p.Receipts)))
		for _, r := range p.Receipts {
			r.encodeTo(w)
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

// Transactions encodes a payload of transactions only (API batches; blocks
// also carry a result).
func Transactions(txs [][]byte) []byte { return (&Payload{Transactions: txs}).Encode() }

// ServiceEvents encodes a payload of service events only.
func ServiceEvents(events []*epoch.Event) []byte { return (&Payload{ServiceEvents: events}).Encode() }

// Decode decodes and checks a payload: the canonical encoding only (known
// version, sections in kind order, none empty, each exactly as long as its
// framing says, no trailing bytes), within lim, each service event well
// formed. Whether a block must carry a result is the chain's payload rule,
// not the encoding's. Errors wrap model.ErrInvalid. It never panics and
// allocates in proportion to len(b); transactions alias b.
func Decode(b []byte, lim Limits) (*Payload, error) {
	p := &Payload{}
	if len(b) == 0 {
		return p, nil
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: payload version %d, want %d", model.ErrInvalid, b[0], Version)
	}
	last := Kind(0)
	var err error
	_, ok := model.Sections(b, func(k uint8, body []byte) {
		kind := Kind(k)
		switch {
		case err != nil:
			return
		case kind <= last:
			err = fmt.Errorf("%w: payload section %d after section %d", model.ErrInvalid, kind, last)
			return
		}
		last = kind
		err = p.decodeSection(kind, body, lim)
	})
	if !ok {
		return nil, fmt.Errorf("%w: payload sections overrun its %d bytes", model.ErrInvalid, len(b))
	}
	if err != nil {
		return nil, err
	}
	if p.Empty() {
		return nil, fmt.Errorf("%w: payload with a version and no sections (the empty payload is no bytes)", model.ErrInvalid)
	}
	return p, nil
}

// decodeSection decodes one section's body into p.
func (p *Payload) decodeSection(kind Kind, body []byte, lim Limits) error {
	r := codec.NewReader(body)
	switch kind {
	case KindResult:
		var res Result
		res.Height = r.Uint64()
		r.Fixed(res.Root[:])
		p.Result = &res
	case KindTransactions:
		count := int(r.Uint32())
		if err := checkCount(kind, count, lim.MaxTxs, r); err != nil {
			return err
		}
		p.Transactions = make([][]byte, 0, count)
		for i := 0; i < count && r.Err() == nil; i++ {
			// Blocks are immutable: transactions alias the payload
			// instead of copying it (a block's worth per decode).
			p.Transactions = append(p.Transactions, r.View32(len(body), "transaction"))
		}
	case KindServiceEvents:
		count := int(r.Uint32())
		if err := checkCount(kind, count, epoch.MaxEventsPerBlock, r); err != nil {
			return err
		}
		for i := 0; i < count && r.Err() == nil; i++ {
			raw := r.Bytes32(maxEventBytes, "service event")
			if r.Err() != nil {
				break
			}
			e, err := epoch.DecodeEvent(raw)
			if err != nil {
				return fmt.Errorf("%w: service event %d: %v", model.ErrInvalid, i, err)
			}
			p.ServiceEvents = append(p.ServiceEvents, e)
		}
	case KindGuarantees:
		count := int(r.Uint32())
		limit := lim.MaxGuarantees
		if limit <= 0 {
			limit = collection.DefaultMaxGuarantees
		}
		if err := checkCount(kind, count, limit, r); err != nil {
			return err
		}
		p.Guarantees = make([]*collection.Guarantee, 0, count)
		for i := 0; i < count && r.Err() == nil; i++ {
			p.Guarantees = append(p.Guarantees, collection.ReadGuarantee(r))
		}
	case KindReceipts:
		count := int(r.Uint32())
		if err := checkCount(kind, count, MaxReceipts, r); err != nil {
			return err
		}
		p.Receipts = make([]*Receipt, 0, count)
		for i := 0; i < count && r.Err() == nil; i++ {
			p.Receipts = append(p.Receipts, readReceipt(r))
		}
	default:
		return fmt.Errorf("%w: unknown payload section %d", model.ErrInvalid, kind)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: payload section %d: %v", model.ErrInvalid, kind, err)
	}
	return nil
}

// checkCount bounds a list section's entry count before anything is
// allocated for it.
func checkCount(kind Kind, count, max int, r *codec.Reader) error {
	switch {
	case r.Err() != nil:
		return fmt.Errorf("%w: payload section %d: %v", model.ErrInvalid, kind, r.Err())
	case count == 0:
		return fmt.Errorf("%w: empty payload section %d", model.ErrInvalid, kind)
	case count > max:
		return fmt.Errorf("%w: payload section %d of %d entries, at most %d", model.ErrInvalid, kind, count, max)
	case count > r.Remaining()/4:
		// Every entry takes at least its 4-byte length.
		return fmt.Errorf("%w: payload section %d claims %d entries in %d bytes", model.ErrInvalid, kind, count, r.Remaining())
	}
	return nil
}

// section returns the bytes of one kind's section of an encoded payload
// without decoding the others (nil if absent), checking only the framing.
func section(b []byte, kind Kind) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: payload version %d, want %d", model.ErrInvalid, b[0], Version)
	}
	var found []byte
	if _, ok := model.Sections(b, func(k uint8, body []byte) {
		if Kind(k) == kind {
			found = body
		}
	}); !ok {
		return nil, fmt.Errorf("%w: payload sections overrun its %d bytes", model.ErrInvalid, len(b))
	}
	return found, nil
}

// ServiceEventsOf returns the service events of an encoded payload without
// decoding its transactions: what light clients and the light-proof index
// read from every block. A payload without service events gives none; a
// malformed one an error wrapping model.ErrInvalid.
func ServiceEventsOf(b []byte) ([]*epoch.Event, error) {
	body, err := section(b, KindServiceEvents)
	if err != nil || body == nil {
		return nil, err
	}
	p := &Payload{}
	if err := p.decodeSection(KindServiceEvents, body, Limits{}); err != nil {
		return nil, err
	}
	return p.ServiceEvents, nil
}

// ResultOf returns the execution result an encoded payload carries (nil if
// none) without decoding the rest.
func ResultOf(b []byte) (*Result, error) {
	body, err := section(b, KindResult)
	if err != nil || body == nil {
		return nil, err
	}
	if len(body) != resultBody {
		return nil, fmt.Errorf("%w: result section of %d bytes, want %d", model.ErrInvalid, len(body), resultBody)
	}
	r := &Result{Height: binary.BigEndian.Uint64(body)}
	copy(r.Root[:], body[8:])
	return r, nil
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

package mempool

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/codec"
)

// EncodePayload encodes a batch of transactions (the API's binary batch
// body; blocks carry typed payloads, package payload):
//
//	u32 count (≥ 1), then per transaction: u32 length, bytes
//
// big-endian. No transactions encode as the empty payload (not a zero
// count), so that every list has exactly one encoding and blocks without
// transactions, such as genesis, carry nothing.
func EncodePayload(txs [][]byte) []byte {
	if len(txs) == 0 {
		return nil
	}
	n := 4
	for _, tx := range txs {
		n += 4 + len(tx)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(txs)))
	for _, tx := range txs {
		out = binary.BigEndian.AppendUint32(out, uint32(len(tx)))
		out = append(out, tx...)
	}
	return out
}

// PayloadSize is len(EncodePayload(txs)) without encoding.
func PayloadSize(txs [][]byte) int {
	if len(txs) == 0 {
		return 0
	}
	n := 4
	for _, tx := range txs {
		n += 4 + len(tx)
	}
	return n
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: payload: %s", codec.ErrMalformed, fmt.Sprintf(format, args...))
}

// DecodePayload decodes EncodePayload's encoding of at most maxTxs
// transactions. Errors wrap codec.ErrMalformed. It accepts only the
// canonical encoding (no zero count, no trailing bytes), never panics, and
// allocates only in proportion to len(b). The transactions alias b (each
// with its capacity capped, so appending to one cannot overwrite the next).
func DecodePayload(b []byte, maxTxs int) ([][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, malformed("%d bytes, too short for a count", len(b))
	}
	count := uint64(binary.BigEndian.Uint32(b))
	switch {
	case count == 0:
		return nil, malformed("zero count (an empty list is the empty payload)")
	case count > uint64(max(maxTxs, 0)):
		return nil, malformed("%d transactions, more than %d", count, maxTxs)
	case count > uint64(len(b)-4)/4:
		return nil, malformed("%d transactions cannot fit in %d bytes", count, len(b))
	}
	txs := make([][]byte, count)
	rest := b[4:]
	for i := range txs {
		if len(rest) < 4 {
			return nil, malformed("transaction %d: truncated length", i)
		}
		n := uint64(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if n > uint64(len(rest)) {
			return nil, malformed("transaction %d: %d bytes, %d left", i, n, len(rest))
		}
		txs[i] = rest[:n:n]
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, malformed("%d trailing bytes", len(rest))
	}
	return txs, nil
}

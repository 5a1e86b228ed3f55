package kvstore

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/app"
)

// Operation codes: the first byte of a transaction. It doubles as the format
// version: a future format takes new codes, so old nodes reject it instead
// of misreading it.
const (
	OpSet    byte = 1
	OpDelete byte = 2
)

// Limits. MaxTxSize caps the whole encoding; a set with a maximal key and
// value still leaves ~6 KiB for the nonce.
const (
	MaxKeySize   = 256
	MaxValueSize = 64 << 10
	MaxNonceSize = 1<<16 - 1 // the u16 length prefix
	MaxTxSize    = 70 << 10
	// Overhead is the encoding's size beyond key, value and nonce: op byte
	// and the three length prefixes. A transaction of target size S with
	// key k and value v needs a nonce of S - Overhead - len(k) - len(v).
	Overhead = 1 + 2 + 4 + 2
)

// Tx is a decoded transaction. Its slices alias the encoded bytes.
type Tx struct {
	Op    byte   // OpSet or OpDelete
	Key   []byte // 1..MaxKeySize bytes
	Value []byte // 1..MaxValueSize bytes for OpSet; empty for OpDelete
	Nonce []byte // opaque: makes otherwise equal transactions distinct, pads
}

// EncodeSet encodes "set key to value". The encoding is
//
//	u8  op (1 = set, 2 = delete)
//	u16 key length, key      (1..256 bytes)
//	u32 value length, value  (set: 1..65536 bytes; delete: 0)
//	u16 nonce length, nonce  (any bytes, client-chosen)
//
// integers big-endian, at most MaxTxSize bytes in all. Every transaction
// has exactly one encoding, so its ID (SHA-256 of the bytes) names it.
// Values cannot be empty: an empty value would be indistinguishable from
// absence in state writes (a nil value deletes) and in proofs.
//
// EncodeSet panics if an argument is outside these limits: callers build
// transactions from values they control, and a panic finds the bug where a
// returned error would be ignored.
func EncodeSet(key, value, nonce []byte) []byte {
	return encode(OpSet, key, value, nonce)
}

// EncodeDelete encodes "delete key" (see EncodeSet for the format). Executing
// it fails, changing nothing, if the key is absent.
func EncodeDelete(key, nonce []byte) []byte {
	return encode(OpDelete, key, nil, nonce)
}

func encode(op byte, key, value, nonce []byte) []byte {
	if err := validate(op, key, value, nonce); err != nil {
		panic("kvstore: " + err.Error())
	}
	out := make([]byte, 0, Overhead+len(key)+len(value)+len(nonce))
	out = append(out, op)
	out = binary.BigEndian.AppendUint16(out, uint16(len(key)))
	out = append(out, key...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(value)))
	out = append(out, value...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(nonce)))
	return append(out, nonce...)
}

func validate(op byte, key, value, nonce []byte) error {
	switch {
	case op != OpSet && op != OpDelete:
		return fmt.Errorf("unknown operation %d", op)
	case len(key) == 0:
		return fmt.Errorf("empty key")
	case len(key) > MaxKeySize:
		return fmt.Errorf("key of %d bytes, more than %d", len(key), MaxKeySize)
	case op == OpSet && len(value) == 0:
		return fmt.Errorf("set with an empty value")
	case op == OpSet && len(value) > MaxValueSize:
		return fmt.Errorf("value of %d bytes, more than %d", len(value), MaxValueSize)
	case op == OpDelete && len(value) != 0:
		return fmt.Errorf("delete with a value")
	case len(nonce) > MaxNonceSize:
		return fmt.Errorf("nonce of %d bytes, more than %d", len(nonce), MaxNonceSize)
	case Overhead+len(key)+len(value)+len(nonce) > MaxTxSize:
		return fmt.Errorf("transaction of %d bytes, more than %d", Overhead+len(key)+len(value)+len(nonce), MaxTxSize)
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", app.ErrInvalidTx, fmt.Sprintf(format, args...))
}

// Decode parses and validates a transaction; every error wraps
// app.ErrInvalidTx. It does not copy: the returned slices alias tx. It
// never panics and accepts only the canonical encoding (no trailing bytes).
func Decode(tx []byte) (Tx, error) {
	var t Tx
	if len(tx) > MaxTxSize {
		return t, invalid("transaction of %d bytes, more than %d", len(tx), MaxTxSize)
	}
	if len(tx) < Overhead {
		return t, invalid("transaction of %d bytes, shorter than the %d-byte minimum", len(tx), Overhead)
	}
	t.Op = tx[0]
	if t.Op != OpSet && t.Op != OpDelete {
		return Tx{}, invalid("unknown operation %d", t.Op)
	}
	rest := tx[1:]
	// Each field is checked against what is left, so no length can index
	// past the end; lengths are at most 2^32-1 and len(rest) < 2^31 here.
	kl := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if kl == 0 || kl > MaxKeySize {
		return Tx{}, invalid("key length %d outside 1..%d", kl, MaxKeySize)
	}
	if len(rest) < kl+4 {
		return Tx{}, invalid("truncated key")
	}
	t.Key, rest = rest[:kl:kl], rest[kl:]
	vl := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	switch {
	case t.Op == OpSet && (vl == 0 || vl > MaxValueSize):
		return Tx{}, invalid("value length %d outside 1..%d", vl, MaxValueSize)
	case t.Op == OpDelete && vl != 0:
		return Tx{}, invalid("delete with a %d-byte value", vl)
	}
	if uint64(len(rest)) < vl+2 {
		return Tx{}, invalid("truncated value")
	}
	t.Value, rest = rest[:vl:vl], rest[vl:]
	nl := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) != nl {
		if len(rest) < nl {
			return Tx{}, invalid("truncated nonce")
		}
		return Tx{}, invalid("%d trailing bytes", len(rest)-nl)
	}
	t.Nonce = rest[:nl:nl]
	if t.Op == OpDelete {
		t.Value = nil
	}
	return t, nil
}

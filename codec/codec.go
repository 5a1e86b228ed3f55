// Package codec is the canonical binary encoding floe uses for everything it
// hashes, signs or sends: fixed-width big-endian integers and length-prefixed
// byte strings, with every length bounded on decode.
//
// Canonical means one value has exactly one encoding, so identifiers can be
// hashes of encodings. A Reader never allocates more than its input could
// hold and never panics on malformed input; it records the first error and
// turns every later read into a no-op, so decoders read straight through and
// check Err once at the end.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed encoding")

// Writer appends canonical encodings to a byte slice.
type Writer struct{ buf []byte }

// NewWriter returns a writer whose buffer starts with the given capacity.
func NewWriter(capacity int) *Writer { return &Writer{buf: make([]byte, 0, capacity)} }

// Bytes returns the encoding written so far.
func (w *Writer) Bytes() []byte { return w.buf }

// Uint8 appends one byte.
func (w *Writer) Uint8(v uint8) { w.buf = append(w.buf, v) }

// Bool appends 1 or 0.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// Uint16 appends a big-endian uint16.
func (w *Writer) Uint16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }

// Uint32 appends a big-endian uint32.
func (w *Writer) Uint32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }

// Uint64 appends a big-endian uint64.
func (w *Writer) Uint64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

// Fixed appends raw bytes of a length both sides know.
func (w *Writer) Fixed(b []byte) { w.buf = append(w.buf, b...) }

// Bytes16 appends a byte string prefixed by its uint16 length. The caller
// guarantees len(b) fits; encoders only write values their constructors
// validated.
func (w *Writer) Bytes16(b []byte) {
	w.Uint16(uint16(len(b)))
	w.buf = append(w.buf, b...)
}

// Bytes32 appends a byte string prefixed by its uint32 length.
func (w *Writer) Bytes32(b []byte) {
	w.Uint32(uint32(len(b)))
	w.buf = append(w.buf, b...)
}

// Reader decodes canonical encodings from a byte slice.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader reads from b. The reader does not copy b; byte strings it returns
// are copies, so b may be reused afterwards.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err returns the first decoding error, if any.
func (r *Reader) Err() error { return r.err }

// Fail records err (wrapped in ErrMalformed) unless an error is already set.
// Decoders use it for semantic checks such as an out-of-range enum.
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

// Remaining is the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

// Done fails the reader if bytes are left over: trailing garbage would give
// one value two encodings.
func (r *Reader) Done() error {
	if r.err == nil && r.off != len(r.buf) {
		r.Fail("%d trailing bytes", len(r.buf)-r.off)
	}
	return r.err
}

func (r *Reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.off {
		r.Fail("%s: need %d bytes, have %d", what, n, len(r.buf)-r.off)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	b := r.take(1, "uint8")
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	v := r.Uint8()
	if v > 1 {
		r.Fail("bool byte %d", v)
	}
	return v == 1
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() uint16 {
	b := r.take(2, "uint16")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() uint32 {
	b := r.take(4, "uint32")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64() uint64 {
	b := r.take(8, "uint64")
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Fixed copies exactly len(dst) bytes into dst.
func (r *Reader) Fixed(dst []byte) {
	if b := r.take(len(dst), "fixed bytes"); b != nil {
		copy(dst, b)
	}
}

// Bytes16 reads a uint16-length-prefixed byte string of at most max bytes.
func (r *Reader) Bytes16(max int, what string) []byte {
	n := int(r.Uint16())
	return r.limited(n, max, what)
}

// Bytes32 reads a uint32-length-prefixed byte string of at most max bytes.
func (r *Reader) Bytes32(max int, what string) []byte {
	n := int(r.Uint32())
	return r.limited(n, max, what)
}

// View32 reads a uint32-length-prefixed byte string of at most max bytes
// without copying it: the result aliases the reader's input (its capacity
// capped, so appending to it cannot overwrite what follows). For inputs
// that are never modified, such as a block's payload.
func (r *Reader) View32(max int, what string) []byte {
	n := int(r.Uint32())
	b := r.view(n, max, what)
	return b[:len(b):len(b)]
}

// limited is view with a copy, for callers that keep the bytes.
func (r *Reader) limited(n, max int, what string) []byte {
	b := r.view(n, max, what)
	if b == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, b)
	return out
}

// view takes the next n bytes, at most max, without copying them.
func (r *Reader) view(n, max int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > max {
		r.Fail("%s: length %d exceeds limit %d", what, n, max)
		return nil
	}
	return r.take(n, what)
}

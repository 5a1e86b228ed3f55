package wasm

import "fmt"

// reader walks a WebAssembly binary. It never panics and never allocates
// more than its input could hold: every read checks the remaining length,
// and the first error sticks, turning later reads into no-ops.
type reader struct {
	buf []byte
	pos int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, r.pos, fmt.Sprintf(format, args...))
	}
}

func (r *reader) failErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) len() int { return len(r.buf) - r.pos }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.buf) {
		r.fail("unexpected end")
		return 0
	}
	b := r.buf[r.pos]
	r.pos++
	return b
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(r.len()) {
		r.fail("length %d past the end", n)
		return nil
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// u32 reads an unsigned LEB128 of at most 5 bytes whose value fits 32 bits.
func (r *reader) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if v > 0xFFFFFFFF {
				r.fail("u32 overflows")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("u32 longer than 5 bytes")
	return 0
}

// signed reads a signed LEB128 of the given bit width (32, 33 or 64),
// rejecting encodings that are too long or whose unused bits are not a
// sign extension.
func (r *reader) signed(bits uint) int64 {
	maxBytes := int((bits + 6) / 7)
	var v int64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if i == maxBytes-1 && shift > bits {
				// Of the last byte's 7 payload bits, the low `used` carry
				// the value; the rest must repeat the sign bit.
				used := bits - 7*uint(maxBytes-1)
				sign := (b >> (used - 1)) & 1
				rest := (b & 0x7f) >> used
				want := byte(0)
				if sign == 1 {
					want = byte(1<<(7-used)) - 1
				}
				if rest != want {
					r.fail("s%d has bad padding", bits)
					return 0
				}
			}
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail("s%d too long", bits)
	return 0
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// appendS64 appends v as signed LEB128.
func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

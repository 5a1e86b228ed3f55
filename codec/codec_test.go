package codec_test

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/floe-bft/floe/codec"
)

// sample is one value of every primitive, written and read in a fixed order.
type sample struct {
	u8    uint8
	b     bool
	u16   uint16
	u32   uint32
	u64   uint64
	fixed [5]byte
	b16   []byte
	b32   []byte
}

func (s sample) write(w *codec.Writer) {
	w.Uint8(s.u8)
	w.Bool(s.b)
	w.Uint16(s.u16)
	w.Uint32(s.u32)
	w.Uint64(s.u64)
	w.Fixed(s.fixed[:])
	w.Bytes16(s.b16)
	w.Bytes32(s.b32)
}

func readSample(r *codec.Reader) sample {
	var s sample
	s.u8 = r.Uint8()
	s.b = r.Bool()
	s.u16 = r.Uint16()
	s.u32 = r.Uint32()
	s.u64 = r.Uint64()
	r.Fixed(s.fixed[:])
	s.b16 = r.Bytes16(1024, "b16")
	s.b32 = r.Bytes32(1024, "b32")
	return s
}

func (s sample) equal(o sample) bool {
	return s.u8 == o.u8 && s.b == o.b && s.u16 == o.u16 && s.u32 == o.u32 && s.u64 == o.u64 &&
		s.fixed == o.fixed && bytes.Equal(s.b16, o.b16) && bytes.Equal(s.b32, o.b32)
}

var samples = []sample{
	{},
	{u8: 0xff, b: true, u16: math.MaxUint16, u32: math.MaxUint32, u64: math.MaxUint64,
		fixed: [5]byte{1, 2, 3, 4, 5}, b16: []byte("hello"), b32: bytes.Repeat([]byte{0xab}, 1024)},
	{u8: 7, b: false, u16: 0x0102, u32: 0x01020304, u64: 0x0102030405060708,
		b16: bytes.Repeat([]byte{9}, 1024), b32: []byte{}},
}

func encodeSample(s sample) []byte {
	w := codec.NewWriter(0)
	s.write(w)
	return w.Bytes()
}

func TestRoundtrip(t *testing.T) {
	for i, s := range samples {
		enc := encodeSample(s)
		r := codec.NewReader(enc)
		got := readSample(r)
		if err := r.Done(); err != nil {
			t.Fatalf("sample %d: Done: %v", i, err)
		}
		if r.Remaining() != 0 {
			t.Fatalf("sample %d: %d bytes remaining", i, r.Remaining())
		}
		if !got.equal(s) {
			t.Fatalf("sample %d: roundtrip mismatch:\n got %+v\nwant %+v", i, got, s)
		}
		if again := encodeSample(got); !bytes.Equal(again, enc) {
			t.Fatalf("sample %d: re-encoding differs", i)
		}
	}
}

// TestLayout pins the wire format: big-endian fixed widths, length prefixes.
func TestLayout(t *testing.T) {
	w := codec.NewWriter(0)
	w.Uint8(0xaa)
	w.Bool(true)
	w.Bool(false)
	w.Uint16(0x0102)
	w.Uint32(0x03040506)
	w.Uint64(0x0708090a0b0c0d0e)
	w.Fixed([]byte{0xf0, 0xf1})
	w.Bytes16([]byte("ab"))
	w.Bytes32([]byte("c"))
	w.Bytes16(nil)
	want := []byte{
		0xaa, 1, 0,
		1, 2,
		3, 4, 5, 6,
		7, 8, 9, 10, 11, 12, 13, 14,
		0xf0, 0xf1,
		0, 2, 'a', 'b',
		0, 0, 0, 1, 'c',
		0, 0,
	}
	if got := w.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("layout:\n got %x\nwant %x", got, want)
	}
}

// TestTruncated reads every strict prefix of valid encodings: each must fail
// with ErrMalformed, never panic, and never report success.
func TestTruncated(t *testing.T) {
	for i, s := range samples {
		enc := encodeSample(s)
		for n := 0; n < len(enc); n++ {
			r := codec.NewReader(enc[:n])
			readSample(r)
			err := r.Done()
			if err == nil {
				t.Fatalf("sample %d prefix %d/%d: decoded without error", i, n, len(enc))
			}
			if !errors.Is(err, codec.ErrMalformed) {
				t.Fatalf("sample %d prefix %d: error %v does not wrap ErrMalformed", i, n, err)
			}
			if r.Err() != err {
				t.Fatalf("sample %d prefix %d: Err() %v differs from Done() %v", i, n, r.Err(), err)
			}
		}
	}
}

func TestEachPrimitiveTruncated(t *testing.T) {
	reads := map[string]func(r *codec.Reader){
		"uint8":   func(r *codec.Reader) { r.Uint8() },
		"bool":    func(r *codec.Reader) { r.Bool() },
		"uint16":  func(r *codec.Reader) { r.Uint16() },
		"uint32":  func(r *codec.Reader) { r.Uint32() },
		"uint64":  func(r *codec.Reader) { r.Uint64() },
		"fixed":   func(r *codec.Reader) { r.Fixed(make([]byte, 3)) },
		"bytes16": func(r *codec.Reader) { r.Bytes16(10, "x") },
		"bytes32": func(r *codec.Reader) { r.Bytes32(10, "x") },
	}
	// Inputs one byte short of what each read needs (length prefixes
	// announce 2 bytes of content).
	inputs := map[string][]byte{
		"uint8": {}, "bool": {}, "uint16": {1}, "uint32": {1, 2, 3}, "uint64": {1, 2, 3, 4, 5, 6, 7},
		"fixed": {1, 2}, "bytes16": {0, 2, 'a'}, "bytes32": {0, 0, 0, 2, 'a'},
	}
	for name, read := range reads {
		r := codec.NewReader(inputs[name])
		read(r)
		if !errors.Is(r.Err(), codec.ErrMalformed) {
			t.Errorf("%s on %x: err %v, want ErrMalformed", name, inputs[name], r.Err())
		}
	}
}

// TestStickyError: after the first failure every read is a no-op returning
// zero values, and the first error is kept.
func TestStickyError(t *testing.T) {
	r := codec.NewReader([]byte{2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 'x'})
	if r.Bool() {
		t.Fatal("bool byte 2 read as true")
	}
	first := r.Err()
	if first == nil {
		t.Fatal("bool byte 2 accepted")
	}
	if v := r.Uint64(); v != 0 {
		t.Fatalf("read after error returned %d", v)
	}
	if b := r.Bytes16(10, "x"); b != nil {
		t.Fatalf("Bytes16 after error returned %x", b)
	}
	dst := []byte{7, 7}
	r.Fixed(dst)
	if !bytes.Equal(dst, []byte{7, 7}) {
		t.Fatalf("Fixed after error wrote %x", dst)
	}
	r.Fail("later failure")
	if r.Err() != first || r.Done() != first {
		t.Fatalf("first error replaced: %v -> %v", first, r.Err())
	}
	if r.Remaining() != 11 {
		t.Fatalf("reads after error consumed input: %d remaining", r.Remaining())
	}
}

func TestFailWrapsMalformed(t *testing.T) {
	r := codec.NewReader(nil)
	r.Fail("enum %d", 9)
	if !errors.Is(r.Err(), codec.ErrMalformed) {
		t.Fatalf("Fail error %v does not wrap ErrMalformed", r.Err())
	}
	if !bytes.Contains([]byte(r.Err().Error()), []byte("enum 9")) {
		t.Fatalf("Fail lost its message: %v", r.Err())
	}
}

func TestBool(t *testing.T) {
	for _, tc := range []struct {
		in   byte
		want bool
		ok   bool
	}{{0, false, true}, {1, true, true}, {2, false, false}, {0x80, false, false}, {0xff, false, false}} {
		r := codec.NewReader([]byte{tc.in})
		got := r.Bool()
		err := r.Done()
		if tc.ok != (err == nil) {
			t.Errorf("bool byte %d: err %v", tc.in, err)
		}
		if err != nil && !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("bool byte %d: err %v does not wrap ErrMalformed", tc.in, err)
		}
		if tc.ok && got != tc.want {
			t.Errorf("bool byte %d: got %v", tc.in, got)
		}
	}
}

func TestBytes16Limit(t *testing.T) {
	w := codec.NewWriter(0)
	w.Bytes16(bytes.Repeat([]byte{1}, 100))
	enc := w.Bytes()

	r := codec.NewReader(enc)
	if b := r.Bytes16(100, "x"); len(b) != 100 || r.Done() != nil {
		t.Fatalf("length equal to limit rejected: len %d err %v", len(b), r.Err())
	}
	r = codec.NewReader(enc)
	if b := r.Bytes16(99, "x"); b != nil || !errors.Is(r.Err(), codec.ErrMalformed) {
		t.Fatalf("length above limit accepted: len %d err %v", len(b), r.Err())
	}
	// The limit check happens before any content is consumed.
	if r.Remaining() != len(enc)-2 {
		t.Fatalf("over-limit string consumed content: %d remaining", r.Remaining())
	}
	// A limit of zero admits only the empty string.
	r = codec.NewReader([]byte{0, 0})
	if b := r.Bytes16(0, "x"); b == nil || len(b) != 0 || r.Done() != nil {
		t.Fatalf("empty string with limit 0: %v %v", b, r.Err())
	}
}

func TestBytes32Limit(t *testing.T) {
	w := codec.NewWriter(0)
	w.Bytes32(bytes.Repeat([]byte{1}, 70000)) // longer than any uint16 length
	enc := w.Bytes()

	r := codec.NewReader(enc)
	if b := r.Bytes32(70000, "x"); len(b) != 70000 || r.Done() != nil {
		t.Fatalf("length equal to limit rejected: len %d err %v", len(b), r.Err())
	}
	r = codec.NewReader(enc)
	if b := r.Bytes32(69999, "x"); b != nil || !errors.Is(r.Err(), codec.ErrMalformed) {
		t.Fatalf("length above limit accepted: len %d err %v", len(b), r.Err())
	}
}

// TestHugeLengthDoesNotAllocate: a length prefix announcing 4 GiB with a
// generous limit fails on the missing content without allocating it.
func TestHugeLengthDoesNotAllocate(t *testing.T) {
	in := []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		r := codec.NewReader(in)
		if b := r.Bytes32(math.MaxInt, "x"); b != nil {
			t.Fatalf("returned %d bytes from a 3-byte input", len(b))
		}
		if !errors.Is(r.Err(), codec.ErrMalformed) {
			t.Fatalf("err %v", r.Err())
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("decoding a bogus length allocated %d bytes", grew)
	}
}

// TestByteStringsAreCopies: returned strings do not alias the input.
func TestByteStringsAreCopies(t *testing.T) {
	in := []byte{0, 2, 'a', 'b', 0, 0, 0, 1, 'c', 'd', 'e'}
	r := codec.NewReader(in)
	b16 := r.Bytes16(10, "x")
	b32 := r.Bytes32(10, "x")
	var fixed [2]byte
	r.Fixed(fixed[:])
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	if string(b16) != "ab" || string(b32) != "c" || string(fixed[:]) != "de" {
		t.Fatalf("decoded strings changed with the input: %q %q %q", b16, b32, fixed[:])
	}
}

func TestDoneRejectsTrailingBytes(t *testing.T) {
	for _, s := range samples {
		enc := append(encodeSample(s), 0)
		r := codec.NewReader(enc)
		got := readSample(r)
		if r.Err() != nil {
			t.Fatalf("reads failed before Done: %v", r.Err())
		}
		if !got.equal(s) {
			t.Fatal("value changed by a trailing byte")
		}
		if r.Remaining() != 1 {
			t.Fatalf("remaining %d, want 1", r.Remaining())
		}
		if err := r.Done(); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("trailing byte accepted: %v", err)
		}
	}
	if err := codec.NewReader(nil).Done(); err != nil {
		t.Fatalf("Done on empty input: %v", err)
	}
	if err := codec.NewReader([]byte{1}).Done(); err == nil {
		t.Fatal("Done on unread input succeeded")
	}
}

func TestWriterCapacityIsOnlyAHint(t *testing.T) {
	for _, c := range []int{0, 1, 1000} {
		w := codec.NewWriter(c)
		if len(w.Bytes()) != 0 {
			t.Fatalf("NewWriter(%d) starts with %d bytes", c, len(w.Bytes()))
		}
		samples[1].write(w)
		if !bytes.Equal(w.Bytes(), encodeSample(samples[1])) {
			t.Fatalf("capacity %d changed the encoding", c)
		}
	}
}

// FuzzReader drives a Reader with a program of reads (ops) over arbitrary
// data. It must never panic, errors must be sticky and wrap ErrMalformed, and
// whatever was read successfully must re-encode to exactly the bytes consumed
// (the encoding is canonical).
func FuzzReader(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, encodeSample(s))
	}
	f.Add([]byte{1, 1, 1}, []byte{0, 1, 2})
	f.Add([]byte{6, 7, 0x46}, []byte{0, 3, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		if len(ops) > 256 {
			ops = ops[:256]
		}
		r := codec.NewReader(data)
		w := codec.NewWriter(len(data))
		var firstErr error
		okConsumed := 0 // input consumed by the reads that succeeded
		for _, op := range ops {
			before := r.Remaining()
			// The high bits of op choose a length / limit.
			arg := int(op >> 3)
			switch op & 7 {
			case 0:
				v := r.Uint8()
				if r.Err() == nil {
					w.Uint8(v)
				} else if v != 0 {
					t.Fatalf("failed Uint8 returned %d", v)
				}
			case 1:
				v := r.Bool()
				if r.Err() == nil {
					w.Bool(v)
				} else if v {
					t.Fatal("failed Bool returned true")
				}
			case 2:
				v := r.Uint16()
				if r.Err() == nil {
					w.Uint16(v)
				} else if v != 0 {
					t.Fatalf("failed Uint16 returned %d", v)
				}
			case 3:
				v := r.Uint32()
				if r.Err() == nil {
					w.Uint32(v)
				} else if v != 0 {
					t.Fatalf("failed Uint32 returned %d", v)
				}
			case 4:
				v := r.Uint64()
				if r.Err() == nil {
					w.Uint64(v)
				} else if v != 0 {
					t.Fatalf("failed Uint64 returned %d", v)
				}
			case 5:
				dst := make([]byte, arg)
				r.Fixed(dst)
				if r.Err() == nil {
					w.Fixed(dst)
				} else if !bytes.Equal(dst, make([]byte, arg)) {
					t.Fatalf("failed Fixed wrote %x", dst)
				}
			case 6:
				b := r.Bytes16(arg, "b16")
				if r.Err() == nil {
					if len(b) > arg {
						t.Fatalf("Bytes16 returned %d bytes over limit %d", len(b), arg)
					}
					w.Bytes16(b)
				} else if b != nil {
					t.Fatal("failed Bytes16 returned bytes")
				}
			case 7:
				b := r.Bytes32(arg*arg, "b32")
				if r.Err() == nil {
					if len(b) > arg*arg {
						t.Fatalf("Bytes32 returned %d bytes over limit %d", len(b), arg*arg)
					}
					w.Bytes32(b)
				} else if b != nil {
					t.Fatal("failed Bytes32 returned bytes")
				}
			}
			after := r.Remaining()
			if after < 0 || after > before {
				t.Fatalf("remaining went from %d to %d", before, after)
			}
			if err := r.Err(); err != nil {
				if !errors.Is(err, codec.ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				if firstErr == nil {
					firstErr = err
				} else {
					if err != firstErr {
						t.Fatalf("error changed from %v to %v", firstErr, err)
					}
					if after != before {
						t.Fatalf("a read after an error consumed %d bytes", before-after)
					}
				}
			} else {
				okConsumed = len(data) - after
			}
		}
		if !bytes.Equal(w.Bytes(), data[:okConsumed]) {
			t.Fatalf("values read re-encode to %x, consumed %x", w.Bytes(), data[:okConsumed])
		}
		err := r.Done()
		if (err == nil) != (firstErr == nil && r.Remaining() == 0) {
			t.Fatalf("Done = %v with first error %v and %d bytes left", err, firstErr, r.Remaining())
		}
	})
}

// TestView32 reads without copying, caps the capacity so an append cannot
// overwrite what follows, and enforces the limit and the input's end.
func TestView32(t *testing.T) {
	w := codec.NewWriter(0)
	w.Bytes32([]byte("abc"))
	w.Uint8(7)
	in := w.Bytes()
	r := codec.NewReader(in)
	v := r.View32(10, "x")
	if string(v) != "abc" || cap(v) != 3 || &v[0] != &in[4] {
		t.Fatalf("view %q cap %d does not alias the input", v, cap(v))
	}
	_ = append(v, 'z')
	if r.Uint8() != 7 || r.Done() != nil {
		t.Fatal("appending to a view overwrote the next field")
	}
	if r := codec.NewReader(in); r.View32(2, "x") != nil || r.Err() == nil {
		t.Fatal("a view above its limit was accepted")
	}
	if r := codec.NewReader(in[:5]); r.View32(10, "x") != nil || r.Err() == nil {
		t.Fatal("a truncated view was accepted")
	}
}

package wasm

import (
	"errors"
	"math"
	"testing"
)

func TestLEB128RoundTrip(t *testing.T) {
	for _, v := range []uint32{0, 1, 127, 128, 300, 1 << 21, math.MaxUint32} {
		r := &reader{buf: appendU32(nil, v)}
		if got := r.u32(); r.err != nil || got != v || r.len() != 0 {
			t.Fatalf("u32 %d: got %d, %v", v, got, r.err)
		}
	}
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		r := &reader{buf: appendS64(nil, v)}
		if got := r.signed(64); r.err != nil || got != v || r.len() != 0 {
			t.Fatalf("s64 %d: got %d, %v", v, got, r.err)
		}
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			r := &reader{buf: appendS64(nil, v)}
			if got := r.signed(32); r.err != nil || got != v {
				t.Fatalf("s32 %d: got %d, %v", v, got, r.err)
			}
		}
	}
}

func TestLEB128Refusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(r *reader)
	}{
		{"u32 six bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, func(r *reader) { r.u32() }},
		{"u32 overflow", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, func(r *reader) { r.u32() }},
		{"u32 truncated", []byte{0x80}, func(r *reader) { r.u32() }},
		{"s32 too long", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, func(r *reader) { r.signed(32) }},
		{"s32 bad padding", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x4F}, func(r *reader) { r.signed(32) }},
		{"s64 bad padding", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, func(r *reader) { r.signed(64) }},
		{"bytes past end", []byte{1, 2}, func(r *reader) { r.bytes(3) }},
	} {
		r := &reader{buf: tc.b}
		tc.read(r)
		if !errors.Is(r.err, ErrMalformed) {
			t.Fatalf("%s: %v, want ErrMalformed", tc.name, r.err)
		}
	}
	// The largest valid encodings are accepted.
	r := &reader{buf: []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x07}}
	if v := r.signed(32); r.err != nil || v != math.MaxInt32 {
		t.Fatalf("s32 max: %d %v", v, r.err)
	}
	r = &reader{buf: []byte{0x80, 0x80, 0x80, 0x80, 0x78}}
	if v := r.signed(32); r.err != nil || v != math.MinInt32 {
		t.Fatalf("s32 min: %d %v", v, r.err)
	}
}

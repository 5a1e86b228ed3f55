package state

import (
	"errors"
	"strings"
	"testing"
)

func TestRegisterIDEncodingRoundTripsAndSeparates(t *testing.T) {
	ids := []RegisterID{
		{Owner: "", Key: "a"},
		{Owner: "a", Key: "b"},
		{Owner: "ab", Key: "c"},
		{Owner: "a", Key: "bc"},
		{Owner: strings.Repeat("o", MaxOwnerSize), Key: strings.Repeat("k", MaxKeySize)},
	}
	paths := map[[32]byte]RegisterID{}
	for _, id := range ids {
		got, err := DecodeRegisterID(id.Encode())
		if err != nil || got != id {
			t.Fatalf("%v: round trip gave %v, %v", id, got, err)
		}
		if other, dup := paths[id.Path()]; dup {
			t.Fatalf("%v and %v share a path", id, other)
		}
		paths[id.Path()] = id
	}
}

func TestRegisterIDRefusesOutOfLimits(t *testing.T) {
	bad := []RegisterID{
		{Owner: "x", Key: ""},
		{Owner: strings.Repeat("o", MaxOwnerSize+1), Key: "k"},
		{Key: strings.Repeat("k", MaxKeySize+1)},
	}
	for _, id := range bad {
		if err := id.Check(); !errors.Is(err, ErrInvalidRegister) {
			t.Fatalf("%v: Check = %v", id, err)
		}
	}
	for _, b := range [][]byte{nil, {33}, {0, 0, 0}, {0, 0, 1, 'k', 'x'}} {
		if _, err := DecodeRegisterID(b); !errors.Is(err, ErrInvalidRegister) {
			t.Fatalf("%x: decode = %v", b, err)
		}
	}
	if err := CheckValue([]byte{}); !errors.Is(err, ErrInvalidRegister) {
		t.Fatal("an empty value was accepted")
	}
	if err := CheckValue(nil); err != nil {
		t.Fatal("a delete was refused")
	}
}

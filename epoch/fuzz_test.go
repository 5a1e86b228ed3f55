package epoch

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are valid encodings of a setup and a commit.
func fuzzSeeds(f *testing.F) (setup, commit *Event) {
	f.Helper()
	return sampleEvents(f)
}

// FuzzDecodeEvent: DecodeEvent never panics; what it accepts has a valid
// shape, re-encodes to exactly the input, and verifies (or fails cleanly).
func FuzzDecodeEvent(f *testing.F) {
	setup, commit := fuzzSeeds(f)
	f.Add(setup.Encode())
	f.Add(commit.Encode())
	f.Add([]byte{})
	f.Add([]byte{byte(KindCommit)})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			if e != nil {
				t.Fatal("DecodeEvent returned an event with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !bytes.Equal(e.Encode(), b) {
			t.Fatalf("non-canonical encoding accepted:\n in %x\nout %x", b, e.Encode())
		}
		if err := e.checkShape(); err != nil {
			t.Fatalf("decoded event of invalid shape: %v", err)
		}
		if err := e.Verify(testChain, authorities()); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrRejected) {
			t.Fatalf("Verify: unexpected error %v", err)
		}
		// Applying it to a state never fails the block.
		s := genesisState(t)
		if _, err := s.Apply(1, []*Event{e}); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	})
}

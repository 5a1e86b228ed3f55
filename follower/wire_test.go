package follower

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/floe-bft/floe/crypto"
)

func TestRangeEncodingRoundTrip(t *testing.T) {
	c := newChain(t, crypto.Fast())
	seg := extend(t, c, c.Root, c.RootQC, 5)
	raw := EncodeRange(seg.Blocks, seg.TipQC)
	blocks, qc, err := DecodeRange(raw, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 5 || !qc.Equal(seg.TipQC) {
		t.Fatal("round trip lost data")
	}
	for i, b := range blocks {
		if b.ID() != seg.Blocks[i].ID() {
			t.Fatalf("block %d changed", i)
		}
	}
	if _, _, err := DecodeRange(raw, 4); !errors.Is(err, ErrMalformed) {
		t.Fatalf("over the block bound: %v", err)
	}
	for _, cut := range []int{0, 1, 5, len(raw) / 2, len(raw) - 1} {
		if _, _, err := DecodeRange(raw[:cut], 5); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	// A flipped payload byte no longer matches the header's payload hash.
	bad := bytes.Clone(raw)
	bad[bytes.LastIndex(bad, []byte("payload 4"))] ^= 1
	if _, _, err := DecodeRange(bad, 5); err == nil {
		t.Fatal("tampered range decoded")
	}
	empty, qc, err := DecodeRange(EncodeRange(nil, nil), 5)
	if err != nil || len(empty) != 0 || qc != nil {
		t.Fatalf("empty range: %v", err)
	}
}

func TestFrames(t *testing.T) {
	c := newChain(t, crypto.Fast())
	seg := extend(t, c, c.Root, c.RootQC, 2)
	var buf bytes.Buffer
	p := propose(t, c, seg.Blocks[0])
	if err := WriteFrame(&buf, FrameProposal, p.Encode()); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, FrameCertified, EncodeRange(seg.Blocks, seg.TipQC)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	kind, body, err := ReadFrame(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	in, err := DecodeFrame(kind, body, 8)
	if err != nil || in.Proposal == nil || in.Proposal.Block.ID() != p.Block.ID() {
		t.Fatalf("proposal frame: %v", err)
	}
	kind, body, err = ReadFrame(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	in, err = DecodeFrame(kind, body, 8)
	if err != nil || len(in.Blocks) != 2 || in.QC == nil {
		t.Fatalf("certified frame: %v", err)
	}
	if _, _, err := ReadFrame(r, 1<<20); err != io.EOF {
		t.Fatalf("end of stream: %v", err)
	}
	// Bounds and garbage.
	var big bytes.Buffer
	_ = WriteFrame(&big, FrameProposal, make([]byte, 100))
	if _, _, err := ReadFrame(bufio.NewReader(&big), 50); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := DecodeFrame(9, nil, 8); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := DecodeFrame(FrameCertified, EncodeRange(nil, nil), 8); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty certified frame: %v", err)
	}
	if _, err := DecodeFrame(FrameProposal, []byte{1, 2, 3}, 8); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage proposal: %v", err)
	}
}

func FuzzDecodeRange(f *testing.F) {
	c := newChain(f, crypto.Fast())
	seg := extend(f, c, c.Root, c.RootQC, 3)
	f.Add(EncodeRange(seg.Blocks, seg.TipQC))
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, _, err := DecodeRange(data, 16)
		if err == nil && len(blocks) > 16 {
			t.Fatal("bound ignored")
		}
	})
}

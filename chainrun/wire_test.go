package chainrun

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

func TestWireRoundTrip(t *testing.T) {
	id := model.Identifier{7}
	cases := map[string][]byte{
		"block request": encodeBlockRequest(id, 42),
		"range request": encodeRangeRequest(9, 64),
		"status":        encodeStatus(5, 11),
		"no blocks":     encodeBlocks(nil),
	}
	for name, frame := range cases {
		m, err := Decode(frame)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch m.kind {
		case kindBlockRequest:
			if m.blockID != id || m.height != 42 {
				t.Fatalf("block request decoded as %+v", m)
			}
		case kindRangeRequest:
			if m.height != 9 || m.count != 64 {
				t.Fatalf("range request decoded as %+v", m)
			}
		case kindStatus:
			if m.height != 5 || m.view != 11 {
				t.Fatalf("status decoded as %+v", m)
			}
		}
	}
	for _, bad := range [][]byte{nil, {0}, {99, 1}, {kindBlocks, 0xff, 0xff}, append(encodeStatus(1, 1), 0)} {
		if _, err := Decode(bad); err == nil {
			t.Fatalf("garbage %x decoded", bad)
		}
	}
	// Kinds the role defines (transaction gossip, service events) are not
	// the runner's: the role decodes them.
	for _, foreign := range []byte{8, 10, 99} {
		if _, err := Decode([]byte{foreign, 0}); !errors.Is(err, ErrForeignKind) {
			t.Fatalf("kind %d: got %v, want ErrForeignKind", foreign, err)
		}
	}
}

// FuzzDecodeMessage: any frame a peer sends decodes or fails with an
// error; never a panic, never an allocation beyond what the frame holds.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeBlockRequest(model.Identifier{1}, 3))
	f.Add(encodeRangeRequest(1, 64))
	f.Add(encodeStatus(1, 2))
	f.Add(encodeBlocks(nil))
	f.Add([]byte{kindProposal, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}

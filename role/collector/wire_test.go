package collector

import (
	"bytes"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

func FuzzDecodeShare(f *testing.F) {
	f.Add(encodeShare(model.Identifier{1}, model.Identifier{2}, []byte("signature")))
	f.Add([]byte{kindShare})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		from := model.NodeID{3}
		sh, err := decodeShare(frame, from)
		if err != nil {
			return
		}
		if sh.Signer != from {
			t.Fatal("a share's signer is not its authenticated sender")
		}
		if again := encodeShare(sh.CollectionID, sh.Ref, sh.Signature); !bytes.Equal(again, frame) {
			t.Fatalf("decode/encode differ: %x vs %x", frame, again)
		}
	})
}

func TestDecodeShareRejects(t *testing.T) {
	good := encodeShare(model.Identifier{1}, model.Identifier{2}, []byte("sig"))
	for name, frame := range map[string][]byte{
		"empty":           nil,
		"another kind":    append([]byte{kindShare + 1}, good[1:]...),
		"truncated":       good[:40],
		"trailing bytes":  append(append([]byte(nil), good...), 0),
		"oversize length": append(append([]byte(nil), good[:65]...), 0xff, 0xff),
	} {
		if _, err := decodeShare(frame, model.NodeID{}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

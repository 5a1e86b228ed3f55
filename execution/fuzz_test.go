package execution

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

// FuzzDecodeChunkDataPack: any bytes either fail to decode with
// ErrInvalidPack or decode to a pack that re-encodes to the same bytes,
// and verifying a decoded pack against a real result never panics and
// either passes (only the real pack can) or fails with a sentinel.
func FuzzDecodeChunkDataPack(f *testing.F) {
	xs := run(f, testBlocks(9, 4, 3), 1)
	res := xs[len(xs)-1].Result
	for _, x := range xs {
		for _, p := range x.Packs {
			f.Add(p.Encode())
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, 64+12))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeChunkDataPack(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidPack) || !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("decode error %v does not wrap ErrInvalidPack", err)
			}
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatalf("%x decodes but re-encodes differently", b)
		}
		for i := range res.Chunks {
			err := VerifyChunk(KV{}, res, i, p)
			if err != nil && !errors.Is(err, ErrInvalidPack) && !errors.Is(err, ErrChunkMismatch) {
				t.Fatalf("chunk %d: verify error %v wraps no sentinel", i, err)
			}
		}
	})
}

package collector

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// The cluster chain's own wire kinds, beside the consensus and sync frames
// of package chainrun (kinds 1-7 and 9). Values are part of the protocol.
const (
	// kindShare is a guarantor's signature share over a finalized
	// collection. Its signer is the authenticated sender, never a field,
	// so a relay cannot frame another member with a bad share.
	kindShare uint8 = 11
)

// maxShareSig bounds a share's signature on decoding.
const maxShareSig = 256

func encodeShare(collectionID, ref model.Identifier, sig []byte) []byte {
	w := codec.NewWriter(1 + 64 + 2 + len(sig))
	w.Uint8(kindShare)
	w.Fixed(collectionID[:])
	w.Fixed(ref[:])
	w.Bytes16(sig)
	return w.Bytes()
}

// decodeShare decodes a share frame sent by from.
func decodeShare(frame []byte, from model.NodeID) (collection.Share, error) {
	r := codec.NewReader(frame)
	if k := r.Uint8(); k != kindShare {
		return collection.Share{}, fmt.Errorf("collector: frame kind %d is not a share", k)
	}
	sh := collection.Share{Signer: from}
	r.Fixed(sh.CollectionID[:])
	r.Fixed(sh.Ref[:])
	sh.Signature = r.Bytes16(maxShareSig, "share signature")
	if err := r.Done(); err != nil {
		return collection.Share{}, fmt.Errorf("collector: share: %w", err)
	}
	return sh, nil
}

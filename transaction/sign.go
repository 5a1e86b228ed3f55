package transaction

import (
	"fmt"
	"slices"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// Domain tags: the first bytes of every signed string, so a payload
// signature can never pass as an envelope signature or as anything else
// floe signs.
const (
	PayloadTag  = "FLOE-TX-PAYLOAD-V1"
	EnvelopeTag = "FLOE-TX-ENVELOPE-V1"
)

// PayloadMessage is what the proposer and the authorizers sign: the tag,
// the chain ID and the canonical payload (everything but signatures).
func (tx *Transaction) PayloadMessage(chain model.ChainID) []byte {
	w := codec.NewWriter(256)
	w.Fixed([]byte(PayloadTag))
	w.Fixed(chain[:])
	tx.encodePayload(w)
	return w.Bytes()
}

// EnvelopeMessage is what the payer signs: the tag, the chain ID, the
// payload and the payload signatures.
func (tx *Transaction) EnvelopeMessage(chain model.ChainID) []byte {
	w := codec.NewWriter(256)
	w.Fixed([]byte(EnvelopeTag))
	w.Fixed(chain[:])
	tx.encodePayload(w)
	encodeSignatures(w, tx.PayloadSignatures)
	return w.Bytes()
}

// insert puts s into sigs at its sorted place, replacing a signature by
// the same key.
func insert(sigs []Signature, s Signature) []Signature {
	i, found := slices.BinarySearchFunc(sigs, s, func(a, b Signature) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
	if found {
		sigs[i] = s
		return sigs
	}
	return slices.Insert(sigs, i, s)
}

// SignPayload signs the payload as key keyIndex of addr and adds the
// signature in its sorted place (replacing one by the same key). All
// payload signatures must be made before the envelope is signed.
func (tx *Transaction) SignPayload(chain model.ChainID, addr account.Address, keyIndex uint32, s account.Signer) error {
	if len(tx.EnvelopeSignatures) > 0 {
		return fmt.Errorf("%w: the envelope covers the payload signatures", ErrSigningOrder)
	}
	if err := tx.validatePayload(); err != nil {
		return err
	}
	sig, err := s.Sign(tx.PayloadMessage(chain))
	if err != nil {
		return fmt.Errorf("sign payload: %w", err)
	}
	tx.PayloadSignatures = insert(tx.PayloadSignatures, Signature{Address: addr, KeyIndex: keyIndex, Sig: sig})
	return nil
}

// SignEnvelope signs the envelope as key keyIndex of addr (the payer) and
// adds the signature in its sorted place.
func (tx *Transaction) SignEnvelope(chain model.ChainID, addr account.Address, keyIndex uint32, s account.Signer) error {
	if err := tx.validatePayload(); err != nil {
		return err
	}
	sig, err := s.Sign(tx.EnvelopeMessage(chain))
	if err != nil {
		return fmt.Errorf("sign envelope: %w", err)
	}
	tx.EnvelopeSignatures = insert(tx.EnvelopeSignatures, Signature{Address: addr, KeyIndex: keyIndex, Sig: sig})
	return nil
}

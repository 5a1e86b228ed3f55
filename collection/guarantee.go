package collection

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Guarantee certifies a finalized collection to consensus nodes, which see
// it instead of the transactions: more than 2/3 of the cluster's weight
// signed (Chain, CollectionID, Ref), and by signing promised to serve the
// collection to execution nodes. It is one aggregate signature, verified
// with one aggregate check (Verify).
type Guarantee struct {
	CollectionID model.Identifier
	Ref          model.Identifier // the collection's payload reference block
	Chain        model.ChainID    // the cluster chain
	Signers      model.SignerSet  // over the cluster's members in canonical order
	Signature    []byte           // the aggregate of the signers' shares
}

// guaranteeFixed is the encoding of a guarantee minus its signer bitmap and
// signature: three IDs, the cluster size and the signature's length.
const guaranteeFixed = 3*32 + 2 + 2

// GuaranteeSize is the length of the encoding of a guarantee over a
// cluster of n members with a signature of sigSize bytes: 196 + ⌈n/8⌉ with
// BLS's 96-byte signatures (197 for a cluster of up to 8).
func GuaranteeSize(n, sigSize int) int { return guaranteeFixed + (n+7)/8 + sigSize }

// Message is what every guarantor signs, under crypto.DomainGuarantee:
// (chain, collection ID, reference block). The chain comes first, as in
// every signed message, so a share of one cluster chain never counts on
// another even where the same keys sign on both.
func Message(chain model.ChainID, collectionID, ref model.Identifier) []byte {
	msg := make([]byte, 3*32)
	copy(msg, chain[:])
	copy(msg[32:], collectionID[:])
	copy(msg[64:], ref[:])
	return msg
}

// SignShare is a guarantor's signature share over a collection it holds
// and will serve.
func SignShare(signer crypto.PrivateKey, collectionID, ref model.Identifier, chain model.ChainID) ([]byte, error) {
	sig, err := signer.Sign(crypto.DomainGuarantee, Message(chain, collectionID, ref))
	if err != nil {
		return nil, fmt.Errorf("sign guarantee share for collection %v: %w", collectionID, err)
	}
	return sig, nil
}

// Verify checks a guarantee for chain against the cluster that runs it
// (whose members proved possession of their keys, which is what makes
// aggregating their keys safe): the chain (ErrWrongChain), signers of more
// than 2/3 of the cluster's weight (ErrTooLittleWeight), and the aggregate
// signature under the aggregate of the signers' keys, one check whatever
// the number of signers (ErrBadSignature). Whether the reference block is
// known and unexpired, and the collection not included yet, is the main
// chain's business.
func Verify(s crypto.Scheme, g *Guarantee, chain model.ChainID, cluster *committee.Committee) error {
	if g.Chain != chain {
		return fmt.Errorf("%w: guarantee of %v checked for %v", ErrWrongChain, g.Chain, chain)
	}
	weight, err := cluster.SignersWeight(g.Signers)
	if err != nil {
		return fmt.Errorf("%w: guarantee of collection %v: %w", ErrInvalid, g.CollectionID, err)
	}
	if weight < cluster.SupermajorityThreshold() {
		return fmt.Errorf("%w: weight %d of %d, need %d", ErrTooLittleWeight, weight, cluster.TotalWeight(), cluster.SupermajorityThreshold())
	}
	keys := make([]crypto.PublicKey, 0, g.Signers.Count())
	for _, i := range g.Signers.Indices() {
		keys = append(keys, cluster.Member(i).StakingKey)
	}
	agg, err := s.AggregatePublicKeys(keys)
	if err != nil {
		return fmt.Errorf("%w: aggregate signers' keys: %w", ErrInvalid, err)
	}
	if err := agg.Verify(crypto.DomainGuarantee, Message(chain, g.CollectionID, g.Ref), g.Signature); err != nil {
		return fmt.Errorf("%w: collection %v: %w", ErrBadSignature, g.CollectionID, err)
	}
	return nil
}

// Encode returns the canonical encoding: CollectionID, Ref, Chain (32 bytes
// each), the cluster size (2 bytes), the signer bitmap (⌈size/8⌉ bytes),
// the signature with a 2-byte length.
func (g *Guarantee) Encode() []byte {
	w := codec.NewWriter(GuaranteeSize(g.Signers.Size(), len(g.Signature)))
	g.EncodeTo(w)
	return w.Bytes()
}

// EncodeTo appends the canonical encoding to w, for payloads that carry
// guarantees.
func (g *Guarantee) EncodeTo(w *codec.Writer) {
	w.Fixed(g.CollectionID[:])
	w.Fixed(g.Ref[:])
	w.Fixed(g.Chain[:])
	w.Uint16(uint16(g.Signers.Size()))
	g.Signers.EncodeTo(w)
	w.Bytes16(g.Signature)
}

// DecodeGuarantee decodes one guarantee. It checks the shape (a signer,
// a signature of at most model.MaxSignatureSize bytes), not the signature.
func DecodeGuarantee(b []byte) (*Guarantee, error) {
	r := codec.NewReader(b)
	g := ReadGuarantee(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: guarantee: %w", ErrInvalid, err)
	}
	return g, nil
}

// ReadGuarantee reads one guarantee from r; failures are recorded in r.
func ReadGuarantee(r *codec.Reader) *Guarantee {
	g := &Guarantee{}
	r.Fixed(g.CollectionID[:])
	r.Fixed(g.Ref[:])
	r.Fixed(g.Chain[:])
	g.Signers = model.ReadSignerSet(r, int(r.Uint16()))
	g.Signature = r.Bytes16(model.MaxSignatureSize, "guarantee signature")
	if r.Err() == nil && (g.Signers.Count() == 0 || len(g.Signature) == 0) {
		r.Fail("guarantee with %d signers and a %d-byte signature", g.Signers.Count(), len(g.Signature))
	}
	return g
}

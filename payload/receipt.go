package payload

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Receipt is an execution node's signed claim about a finalized main-chain
// block: executing every finalized block up to Height, the last of which
// is Block, gave the application state root Root. Consensus nodes include
// receipts in main-chain blocks (at most one per block, as the block's
// Result) after checking that Executor is an execution member, that Block
// is the finalized block at Height and the signature; it is the precursor
// of the chunked receipts of the execution issue. A receipt is one
// executor's word: until verification and sealing exist, a state root
// included from a receipt is trusted as far as that executor is
// (docs/pipeline.md, "Execution results").
type Receipt struct {
	Height    uint64
	Block     model.Identifier
	Root      model.Identifier
	Executor  model.NodeID
	Signature []byte
}

// receiptFixed is the encoded size without the signature bytes.
const receiptFixed = 8 + 32 + 32 + 32 + 2

// ReceiptMessage is what an executor signs under crypto.DomainReceipt:
// the main chain's ID first, like every signed message, then the block,
// its height and the state root.
func ReceiptMessage(chain model.ChainID, block model.Identifier, height uint64, root model.Identifier) []byte {
	w := codec.NewWriter(32 + 32 + 8 + 32)
	w.Fixed(chain[:])
	w.Fixed(block[:])
	w.Uint64(height)
	w.Fixed(root[:])
	return w.Bytes()
}

// SignReceipt signs a receipt for (block, height, root) as executor.
func SignReceipt(key crypto.PrivateKey, chain model.ChainID, executor model.NodeID, block model.Identifier, height uint64, root model.Identifier) (*Receipt, error) {
	sig, err := key.Sign(crypto.DomainReceipt, ReceiptMessage(chain, block, height, root))
	if err != nil {
		return nil, err
	}
	return &Receipt{Height: height, Block: block, Root: root, Executor: executor, Signature: sig}, nil
}

// Verify checks the signature against the executor's staking key. Whether
// the key is an execution member's is the caller's check.
func (r *Receipt) Verify(chain model.ChainID, key crypto.PublicKey) error {
	if err := key.Verify(crypto.DomainReceipt, ReceiptMessage(chain, r.Block, r.Height, r.Root), r.Signature); err != nil {
		return fmt.Errorf("%w: receipt for height %d by %v: %v", model.ErrInvalid, r.Height, r.Executor, err)
	}
	return nil
}

// Result is the state commitment the receipt claims.
func (r *Receipt) Result() Result { return Result{Height: r.Height, Root: r.Root} }

// Encode returns the canonical encoding: height, block, root, executor,
// the signature with a 2-byte length.
func (r *Receipt) Encode() []byte {
	w := codec.NewWriter(receiptFixed + len(r.Signature))
	r.encodeTo(w)
	return w.Bytes()
}

func (r *Receipt) encodeTo(w *codec.Writer) {
	w.Uint64(r.Height)
	w.Fixed(r.Block[:])
	w.Fixed(r.Root[:])
	w.Fixed(r.Executor[:])
	w.Bytes16(r.Signature)
}

func readReceipt(r *codec.Reader) *Receipt {
	rc := &Receipt{Height: r.Uint64()}
	r.Fixed(rc.Block[:])
	r.Fixed(rc.Root[:])
	r.Fixed(rc.Executor[:])
	rc.Signature = r.Bytes16(model.MaxSignatureSize, "receipt signature")
	if r.Err() == nil && (len(rc.Signature) == 0 || rc.Height == 0) {
		r.Fail("receipt for height %d with a %d-byte signature", rc.Height, len(rc.Signature))
	}
	return rc
}

// DecodeReceipt decodes one receipt (the shape, not the signature). Errors
// wrap model.ErrInvalid.
func DecodeReceipt(b []byte) (*Receipt, error) {
	r := codec.NewReader(b)
	rc := readReceipt(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: receipt: %v", model.ErrInvalid, err)
	}
	return rc, nil
}

package payload

import (
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Receipt is an execution node's signed claim that executing a finalized
// main-chain block gave Result. Consensus nodes include receipts in
// main-chain blocks (Payload.Receipts) after checking that Executor is an
// execution member, that the result's block is the finalized block at its
// height, that the result chains onto a result already incorporated on
// the fork, and the signature. A receipt is one executor's word: until
// verification and sealing exist, a state root included from a receipt is
// trusted as far as that executor is (docs/execution.md, "Trust until
// sealing").
type Receipt struct {
	Result    ExecutionResult
	Executor  model.NodeID
	Signature []byte
}

// MaxReceiptSize bounds an encoded receipt.
const MaxReceiptSize = MaxResultSize + 32 + 2 + model.MaxSignatureSize

// ReceiptMessage is what an executor signs under crypto.DomainReceipt: the
// main chain's ID first, like every signed message, then the result's ID
// (which covers the block, its height, the previous result and every
// chunk).
func ReceiptMessage(chain model.ChainID, result model.Identifier) []byte {
	w := codec.NewWriter(64)
	w.Fixed(chain[:])
	w.Fixed(result[:])
	return w.Bytes()
}

// SignReceipt signs a receipt for result as executor.
func SignReceipt(key crypto.PrivateKey, chain model.ChainID, executor model.NodeID, result *ExecutionResult) (*Receipt, error) {
	if err := result.Check(); err != nil {
		return nil, err
	}
	sig, err := key.Sign(crypto.DomainReceipt, ReceiptMessage(chain, result.ID()))
	if err != nil {
		return nil, err
	}
	return &Receipt{Result: *result, Executor: executor, Signature: sig}, nil
}

// Verify checks the signature against the executor's staking key. Whether
// the key is an execution member's is the caller's check.
func (r *Receipt) Verify(chain model.ChainID, key crypto.PublicKey) error {
	if err := key.Verify(crypto.DomainReceipt, ReceiptMessage(chain, r.Result.ID()), r.Signature); err != nil {
		return fmt.Errorf("%w: receipt for height %d by %v: %v", model.ErrInvalid, r.Result.Height, r.Executor, err)
	}
	return nil
}

// Height is the height of the block the receipt is for.
func (r *Receipt) Height() uint64 { return r.Result.Height }

// Encode returns the canonical encoding: the result, the executor, the
// signature with a 2-byte length.
func (r *Receipt) Encode() []byte {
	w := codec.NewWriter(r.size())
	r.encodeTo(w)
	return w.Bytes()
}

func (r *Receipt) size() int {
	return resultFixed + len(r.Result.Chunks)*chunkSize + 32 + 2 + len(r.Signature)
}

func (r *Receipt) encodeTo(w *codec.Writer) {
	r.Result.encodeTo(w)
	w.Fixed(r.Executor[:])
	w.Bytes16(r.Signature)
}

func readReceipt(r *codec.Reader) *Receipt {
	rc := &Receipt{Result: *readResult(r)}
	r.Fixed(rc.Executor[:])
	rc.Signature = r.Bytes16(model.MaxSignatureSize, "receipt signature")
	if r.Err() == nil && (len(rc.Signature) == 0 || rc.Result.Height == 0) {
		r.Fail("receipt for height %d with a %d-byte signature", rc.Result.Height, len(rc.Signature))
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

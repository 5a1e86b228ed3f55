package transaction

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
)

// Limits. Decode refuses anything beyond them, so one transaction costs a
// bounded amount of memory and verification work.
const (
	// MaxSize bounds an encoded transaction: room for a deploy of a
	// WebAssembly module of up to ~1 MiB.
	MaxSize = 1 << 20
	// MaxAuthorizers bounds the authorizer list.
	MaxAuthorizers = 16
	// MaxSignatures bounds payload plus envelope signatures.
	MaxSignatures = 32
	// MaxArgs bounds a call's arguments.
	MaxArgs = 32
	// MaxFunctionName bounds a called function's name.
	MaxFunctionName = 64
	// MaxKeys bounds the keys of a CreateAccount.
	MaxKeys = 16
	// MaxSignatureSize bounds one encoded signature (both algorithms use
	// account.SignatureSize; the bound leaves room for another).
	MaxSignatureSize = 128
)

// formatVersion is the first byte of every encoding.
const formatVersion = 1

// ProposalKey names the key whose sequence number the transaction uses.
type ProposalKey struct {
	Address  account.Address
	KeyIndex uint32
	SeqNum   uint64
}

// Signature is one key's signature over the payload or the envelope.
type Signature struct {
	Address  account.Address
	KeyIndex uint32
	Sig      []byte
}

// Transaction is a signed transaction.
type Transaction struct {
	// Ref is the ID of a recent block: the transaction expires some blocks
	// after it (the VM and collectors decide how many), and it ties the
	// transaction to one fork.
	Ref model.Identifier
	// GasLimit caps the computation the transaction may use.
	GasLimit    uint64
	ProposalKey ProposalKey
	Payer       account.Address
	// Authorizers are the accounts the operation acts on, in order: the
	// first is the account of Deploy, AddKey, RevokeKey and Transfer.
	Authorizers []account.Address
	Op          Operation
	// PayloadSignatures are by the proposer and the authorizers other
	// than the payer, sorted by (Address, KeyIndex).
	PayloadSignatures []Signature
	// EnvelopeSignatures are by the payer, sorted by (Address, KeyIndex).
	EnvelopeSignatures []Signature
}

// encodePayload appends everything but the signatures.
func (tx *Transaction) encodePayload(w *codec.Writer) {
	w.Uint8(formatVersion)
	w.Fixed(tx.Ref[:])
	w.Uint64(tx.GasLimit)
	w.Fixed(tx.ProposalKey.Address[:])
	w.Uint32(tx.ProposalKey.KeyIndex)
	w.Uint64(tx.ProposalKey.SeqNum)
	w.Fixed(tx.Payer[:])
	w.Uint8(uint8(len(tx.Authorizers)))
	for _, a := range tx.Authorizers {
		w.Fixed(a[:])
	}
	if tx.Op == nil {
		w.Uint8(0) // refused by Validate and by Decode
		return
	}
	w.Uint8(uint8(tx.Op.Kind()))
	tx.Op.encode(w)
}

func encodeSignatures(w *codec.Writer, sigs []Signature) {
	w.Uint8(uint8(len(sigs)))
	for _, s := range sigs {
		w.Fixed(s.Address[:])
		w.Uint32(s.KeyIndex)
		w.Bytes16(s.Sig)
	}
}

// Encode returns the canonical encoding. It is the decodable encoding only
// of a transaction that passes Validate; for others it is still
// deterministic, so IDs never panic or vary.
func (tx *Transaction) Encode() []byte {
	w := codec.NewWriter(256)
	tx.encodePayload(w)
	encodeSignatures(w, tx.PayloadSignatures)
	encodeSignatures(w, tx.EnvelopeSignatures)
	return w.Bytes()
}

// ID is the SHA-256 of the canonical encoding, signatures included.
func (tx *Transaction) ID() model.Identifier { return sha256.Sum256(tx.Encode()) }

// Decode decodes a canonical encoding and checks the structural rules
// (Validate). It refuses trailing bytes and every non-canonical form, so
// Encode(Decode(b)) == b.
func Decode(b []byte) (*Transaction, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), MaxSize)
	}
	r := codec.NewReader(b)
	tx := &Transaction{}
	if v := r.Uint8(); v != formatVersion && r.Err() == nil {
		r.Fail("format version %d, want %d", v, formatVersion)
	}
	r.Fixed(tx.Ref[:])
	tx.GasLimit = r.Uint64()
	r.Fixed(tx.ProposalKey.Address[:])
	tx.ProposalKey.KeyIndex = r.Uint32()
	tx.ProposalKey.SeqNum = r.Uint64()
	r.Fixed(tx.Payer[:])
	if n := int(r.Uint8()); n > MaxAuthorizers {
		r.Fail("%d authorizers, at most %d", n, MaxAuthorizers)
	} else {
		for range n {
			var a account.Address
			r.Fixed(a[:])
			tx.Authorizers = append(tx.Authorizers, a)
		}
	}
	tx.Op = readOperation(r)
	tx.PayloadSignatures = readSignatures(r)
	tx.EnvelopeSignatures = readSignatures(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := tx.Validate(); err != nil {
		return nil, err
	}
	return tx, nil
}

func readSignatures(r *codec.Reader) []Signature {
	n := int(r.Uint8())
	if n > MaxSignatures {
		r.Fail("%d signatures, at most %d", n, MaxSignatures)
		return nil
	}
	var sigs []Signature
	for range n {
		var s Signature
		r.Fixed(s.Address[:])
		s.KeyIndex = r.Uint32()
		s.Sig = r.Bytes16(MaxSignatureSize, "signature")
		if r.Err() != nil {
			return nil
		}
		sigs = append(sigs, s)
	}
	return sigs
}

// less orders signatures by (Address, KeyIndex).
func less(a, b Signature) bool {
	if c := bytes.Compare(a.Address[:], b.Address[:]); c != 0 {
		return c < 0
	}
	return a.KeyIndex < b.KeyIndex
}

// validatePayload checks the payload's structural rules.
func (tx *Transaction) validatePayload() error {
	if len(tx.Authorizers) > MaxAuthorizers {
		return fmt.Errorf("%w: %d authorizers, at most %d", ErrMalformed, len(tx.Authorizers), MaxAuthorizers)
	}
	for i, a := range tx.Authorizers {
		for _, b := range tx.Authorizers[:i] {
			if a == b {
				return fmt.Errorf("%w: authorizer %s listed twice", ErrMalformed, a)
			}
		}
	}
	if tx.Op == nil {
		return fmt.Errorf("%w: no operation", ErrMalformed)
	}
	if err := tx.Op.validate(); err != nil {
		return err
	}
	if tx.Op.NeedsAuthorizer() && len(tx.Authorizers) == 0 {
		return fmt.Errorf("%w: %s acts on the first authorizer's account but there is none", ErrMalformed, tx.Op.Kind())
	}
	return nil
}

// Validate checks the structural rules, everything that needs neither the
// chain nor the accounts: limits, an operation, no duplicate authorizers,
// signatures sorted by (Address, KeyIndex) with no key signing twice,
// payload signatures only by the proposer or authorizers other than the
// payer, envelope signatures only by the payer, and a size within MaxSize.
func (tx *Transaction) Validate() error {
	if err := tx.validatePayload(); err != nil {
		return err
	}
	if n := len(tx.PayloadSignatures) + len(tx.EnvelopeSignatures); n > MaxSignatures {
		return fmt.Errorf("%w: %d signatures, at most %d", ErrMalformed, n, MaxSignatures)
	}
	payloadSigner := func(a account.Address) bool {
		if a == tx.Payer {
			return false // the payer signs the envelope only
		}
		if a == tx.ProposalKey.Address {
			return true
		}
		for _, b := range tx.Authorizers {
			if a == b {
				return true
			}
		}
		return false
	}
	for list, sigs := range [][]Signature{tx.PayloadSignatures, tx.EnvelopeSignatures} {
		for i, s := range sigs {
			if len(s.Sig) > MaxSignatureSize {
				return fmt.Errorf("%w: signature of %d bytes, at most %d", ErrMalformed, len(s.Sig), MaxSignatureSize)
			}
			if i > 0 && !less(sigs[i-1], s) {
				return fmt.Errorf("%w: signatures not sorted by (address, key index) or duplicated at %s/%d", ErrMalformed, s.Address, s.KeyIndex)
			}
			if list == 0 && !payloadSigner(s.Address) {
				return fmt.Errorf("%w: payload signature by %s, which is not the proposer or a non-paying authorizer", ErrMalformed, s.Address)
			}
			if list == 1 && s.Address != tx.Payer {
				return fmt.Errorf("%w: envelope signature by %s, which is not the payer", ErrMalformed, s.Address)
			}
		}
	}
	// Payload and envelope signers are disjoint accounts (the payer signs
	// only the envelope), so no key can sign both.
	if n := len(tx.Encode()); n > MaxSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, MaxSize)
	}
	return nil
}

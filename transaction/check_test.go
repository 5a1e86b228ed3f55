package transaction

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
)

func wantVerdict(t *testing.T, v Verdict, err error, role Role, payer, proposer bool) {
	t.Helper()
	if err == nil && v.Err != nil || err != nil && !errors.Is(v.Err, err) {
		t.Fatalf("Err = %v, want %v", v.Err, err)
	}
	if v.Err != nil && v.Role != role {
		t.Fatalf("Role = %s, want %s (%v)", v.Role, role, v.Err)
	}
	if v.PayerAuthorized != payer || v.ProposerValid != proposer {
		t.Fatalf("PayerAuthorized=%v ProposerValid=%v, want %v %v (%v)", v.PayerAuthorized, v.ProposerValid, payer, proposer, v.Err)
	}
	if v.Authorized() != (err == nil) {
		t.Fatal("Authorized disagrees with Err")
	}
}

var (
	proposerRole = Role{Kind: RoleProposer}
	payerRole    = Role{Kind: RolePayer}
	noRole       = Role{}
)

func authRole(i int) Role { return Role{Kind: RoleAuthorizer, Index: i} }

func TestCheckSimple(t *testing.T) {
	w := newWorld()
	tx := simpleTx(t, w)
	for _, workers := range []int{0, 1, 4} {
		wantVerdict(t, Check(tx, chain, w.lookup, workers), nil, noRole, true, true)
	}
	// Decoded bytes check the same.
	dec, err := Decode(tx.Encode())
	if err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, Check(dec, chain, w.lookup, 1), nil, noRole, true, true)
	// The payer's key must not need a payload signature too.
	if len(tx.PayloadSignatures) != 0 {
		t.Fatal("payer signed the payload")
	}
}

// multiParty: proposer P (key 1, weight 0), authorizers A (500+500) and
// P (1000 on key 0), payer Y (two keys 600+400).
func multiParty(t testing.TB) (*world, *Transaction, account.Address, account.Address, account.Address) {
	w := newWorld()
	p := w.add(t, 20, 1000, 0)
	a := w.add(t, 21, 500, 500, 1000)
	y := w.add(t, 22, 600, 400)
	tx := &Transaction{
		ProposalKey: ProposalKey{Address: p, KeyIndex: 1, SeqNum: 0},
		Payer:       y, Authorizers: []account.Address{a, p},
		Op: Call{Program: a, Function: "run"},
	}
	w.signPayload(t, tx, p, 1)
	w.signPayload(t, tx, p, 0)
	w.signPayload(t, tx, a, 0)
	w.signPayload(t, tx, a, 1)
	w.signEnvelope(t, tx, y, 0)
	w.signEnvelope(t, tx, y, 1)
	return w, tx, p, a, y
}

func TestCheckMultiParty(t *testing.T) {
	w, tx, _, _, _ := multiParty(t)
	wantVerdict(t, Check(tx, chain, w.lookup, 2), nil, noRole, true, true)
	if w.lookups != 3 {
		t.Fatalf("%d lookups for 3 accounts", w.lookups)
	}
}

func TestCheckInsufficientWeight(t *testing.T) {
	w, tx, p, a, y := multiParty(t)
	tx.EnvelopeSignatures = nil
	tx.PayloadSignatures = tx.PayloadSignatures[:0]
	w.signPayload(t, tx, p, 1)
	w.signPayload(t, tx, p, 0)
	w.signPayload(t, tx, a, 0) // 500 of 1000
	w.signEnvelope(t, tx, y, 0)
	w.signEnvelope(t, tx, y, 1)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrInsufficientWeight, authRole(0), true, true)

	// The payer with 600 of 1000: not authorized, no fee; the proposer is
	// still valid (its key signed with the right sequence number).
	w, tx, _, _, y = multiParty(t)
	tx.EnvelopeSignatures = nil
	w.signEnvelope(t, tx, y, 0)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrInsufficientWeight, payerRole, false, true)

	// Two signatures by one weight-500 key count once: duplicates are
	// refused outright.
	w, tx, _, a, _ = multiParty(t)
	tx.PayloadSignatures = append(tx.PayloadSignatures, Signature{a, 0, tx.PayloadSignatures[0].Sig})
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrMalformed, noRole, false, false)
}

func TestCheckPayerIsAuthorizer(t *testing.T) {
	w := newWorld()
	p := w.add(t, 30, 0)
	y := w.add(t, 31, 1000)
	tx := &Transaction{ProposalKey: ProposalKey{Address: p}, Payer: y, Authorizers: []account.Address{y}, Op: Deploy{Code: []byte{1}}}
	w.signPayload(t, tx, p, 0)
	w.signEnvelope(t, tx, y, 0)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), nil, noRole, true, true)

	// A payer that is also an authorizer signs the envelope only: a
	// payload signature by it is refused.
	tx.EnvelopeSignatures = nil
	w.signPayload(t, tx, y, 0)
	w.signEnvelope(t, tx, y, 0)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrMalformed, noRole, false, false)
	if _, err := Decode(tx.Encode()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode: %v", err)
	}
}

func TestCheckSequenceNumber(t *testing.T) {
	w := newWorld()
	tx := simpleTx(t, w)
	w.keys[tx.Payer][0].SeqNum = 7
	// Replay (key moved on) and too early: not ProposerValid, and though
	// the payer's signature is fine, no fee (a replay costs nothing).
	for _, seq := range []uint64{0, 6, 8} {
		tx.ProposalKey.SeqNum = seq
		tx.EnvelopeSignatures = nil
		w.signEnvelope(t, tx, tx.Payer, 0)
		wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrSequenceNumber, proposerRole, false, false)
	}
	tx.ProposalKey.SeqNum = 7
	tx.EnvelopeSignatures = nil
	w.signEnvelope(t, tx, tx.Payer, 0)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), nil, noRole, true, true)
}

func TestCheckKeyFailures(t *testing.T) {
	// Revoked proposal key.
	w, tx, p, a, y := multiParty(t)
	w.keys[p][1].Revoked = true
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrRevokedKey, proposerRole, false, false)

	// Revoked authorizer key: every signature must be usable.
	w, tx, _, a, _ = multiParty(t)
	w.keys[a][1].Revoked = true
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrRevokedKey, authRole(0), true, true)

	// Unknown key index.
	w, tx, _, a, _ = multiParty(t)
	w.keys[a] = w.keys[a][:1]
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrUnknownKey, authRole(0), true, true)

	// Unknown payer account.
	w, tx, _, _, y = multiParty(t)
	delete(w.keys, y)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrUnknownAccount, payerRole, false, true)

	// Unknown proposer account.
	w, tx, p, _, _ = multiParty(t)
	delete(w.keys, p)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrUnknownAccount, proposerRole, false, false)

	// The proposal key did not sign (another key of the proposer did).
	w, tx, p, _, y = multiParty(t)
	tx.PayloadSignatures = removeSig(tx.PayloadSignatures, p, 1)
	tx.EnvelopeSignatures = nil
	w.signEnvelope(t, tx, y, 0)
	w.signEnvelope(t, tx, y, 1)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrMissingProposalSignature, proposerRole, false, false)
}

func removeSig(sigs []Signature, a account.Address, idx uint32) []Signature {
	var out []Signature
	for _, s := range sigs {
		if s.Address != a || s.KeyIndex != idx {
			out = append(out, s)
		}
	}
	return out
}

func TestCheckInvalidSignatures(t *testing.T) {
	// A flipped bit in an authorizer's signature.
	w, tx, p, a, y := multiParty(t)
	for i, s := range tx.PayloadSignatures {
		if s.Address == a && s.KeyIndex == 1 {
			tx.PayloadSignatures[i].Sig = append([]byte(nil), s.Sig...)
			tx.PayloadSignatures[i].Sig[3] ^= 1
		}
	}
	// The payer re-signs, so the envelope is good and the fee is due.
	tx.EnvelopeSignatures = nil
	w.signEnvelope(t, tx, y, 0)
	w.signEnvelope(t, tx, y, 1)
	wantVerdict(t, Check(tx, chain, w.lookup, 2), ErrInvalidSignature, authRole(0), true, true)

	// The payer's envelope no longer matches: not even the fee.
	w, tx, _, a, _ = multiParty(t)
	tx.Op = Call{Program: a, Function: "other"}
	wantVerdict(t, Check(tx, chain, w.lookup, 2), ErrInvalidSignature, proposerRole, false, false)

	// Changing a payload signature after the envelope breaks the envelope.
	w, tx, p, _, _ = multiParty(t)
	tx.PayloadSignatures = removeSig(tx.PayloadSignatures, p, 0)
	v := Check(tx, chain, w.lookup, 1)
	wantVerdict(t, v, ErrInvalidSignature, payerRole, false, true)

	// A payload signature presented as the envelope signature.
	w = newWorld()
	tx = simpleTx(t, w)
	sig, err := w.signers[tx.Payer][0].Sign(tx.PayloadMessage(chain))
	if err != nil {
		t.Fatal(err)
	}
	tx.EnvelopeSignatures[0].Sig = sig
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrInvalidSignature, proposerRole, false, false)
}

// TestCheckOtherChain: a transaction signed for one chain is refused on
// another: its addresses are not valid there, and neither are signatures
// (the chain ID is in every signed message).
func TestCheckOtherChain(t *testing.T) {
	w := newWorld()
	tx := simpleTx(t, w)
	wantVerdict(t, Check(tx, otherChain, w.lookup, 1), ErrInvalidAddress, proposerRole, false, false)

	// Same addresses, other chain ID in the message: signature invalid.
	w = newWorld()
	tx = simpleTx(t, w)
	tx.EnvelopeSignatures = nil
	if err := tx.SignEnvelope(otherChain, tx.Payer, 0, w.signers[tx.Payer][0]); err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrInvalidSignature, proposerRole, false, false)
}

func TestCheckAddressesOfOperation(t *testing.T) {
	w := newWorld()
	tx := simpleTx(t, w)
	tx.Op = Transfer{To: account.Address{1, 2, 3}, Amount: 1}
	tx.EnvelopeSignatures = nil
	w.signEnvelope(t, tx, tx.Payer, 0)
	wantVerdict(t, Check(tx, chain, w.lookup, 1), ErrInvalidAddress, noRole, false, false)
	if v := Check(nil, chain, w.lookup, 1); !errors.Is(v.Err, ErrMalformed) {
		t.Fatal(v.Err)
	}
}

func TestSigningOrder(t *testing.T) {
	w, tx, p, _, _ := multiParty(t)
	if err := tx.SignPayload(chain, p, 0, w.signers[p][0]); !errors.Is(err, ErrSigningOrder) {
		t.Fatal(err)
	}
	bad := &Transaction{Op: Deploy{}}
	if err := bad.SignEnvelope(chain, p, 0, w.signers[p][0]); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	// Re-signing replaces the signature by the same key.
	n := len(tx.EnvelopeSignatures)
	w.signEnvelope(t, tx, tx.Payer, 0)
	if len(tx.EnvelopeSignatures) != n {
		t.Fatal("re-signing added a signature")
	}
}

func TestMessagesAreDomainSeparated(t *testing.T) {
	tx := sampleTxs(t)[0]
	pm, em := tx.PayloadMessage(chain), tx.EnvelopeMessage(chain)
	if string(pm[:len(PayloadTag)]) != PayloadTag || string(em[:len(EnvelopeTag)]) != EnvelopeTag {
		t.Fatal("tags")
	}
	if string(pm) == string(tx.PayloadMessage(otherChain)) {
		t.Fatal("payload message ignores the chain")
	}
	var zero model.Identifier
	if tx.ID() == zero {
		t.Fatal("zero ID")
	}
}

package transaction

import (
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
)

// KeyLookup returns the keys of the account at addr, indexed by key index,
// or an error wrapping account.ErrUnknownAccount if there is none. Check
// calls it once per distinct account a transaction names (at most
// MaxAuthorizers + 2), from one goroutine, and does not modify the result.
type KeyLookup func(addr account.Address) ([]account.Key, error)

// RoleKind is the role of an account in a transaction.
type RoleKind uint8

// Roles. RoleNone is for failures that belong to no one role (structure,
// the operation's addresses).
const (
	RoleNone RoleKind = iota
	RoleProposer
	RolePayer
	RoleAuthorizer
)

// Role names the role that failed: Kind, and for RoleAuthorizer the
// authorizer's position.
type Role struct {
	Kind  RoleKind
	Index int
}

// String is "proposer", "payer", "authorizer 2" or "transaction".
func (r Role) String() string {
	switch r.Kind {
	case RoleProposer:
		return "proposer"
	case RolePayer:
		return "payer"
	case RoleAuthorizer:
		return fmt.Sprintf("authorizer %d", r.Index)
	}
	return "transaction"
}

// Verdict is Check's answer. The three facts are separate because the VM
// acts on each: it charges the fee when PayerAuthorized, advances the
// proposal key's sequence number when ProposerValid, and runs the
// operation only when Err is nil.
type Verdict struct {
	// PayerAuthorized: every envelope signature is valid, they weigh at
	// least account.Threshold, and ProposerValid. The fee may be charged.
	// It requires ProposerValid because only the sequence number stops a
	// replay: without it, every replay of a signed transaction whose
	// proposal key fails would charge the payer again.
	PayerAuthorized bool
	// ProposerValid: the proposal key exists, is not revoked, signed
	// validly, and its sequence number is the transaction's. Its sequence
	// number increments even if the transaction fails. A replayed or
	// out-of-order transaction is not ProposerValid: replaying an old
	// transaction must not advance the key.
	ProposerValid bool
	// Err is the first failure, nil if the transaction is authorized.
	// Roles are checked in the order proposer, payer, authorizers.
	Err error
	// Role is the role Err belongs to.
	Role Role
}

// Authorized reports whether the transaction may execute.
func (v Verdict) Authorized() bool { return v.Err == nil }

func refuse(err error, role Role) Verdict { return Verdict{Err: err, Role: role} }

// sigRef locates one signature: its list and position.
type sigRef struct {
	envelope bool
	i        int
}

// Check decides whether tx is authorized on chain, given the accounts'
// keys. Signatures are verified with account.VerifyBatch on up to workers
// goroutines. The rules:
//
//   - tx passes Validate, and every address it names is valid on chain;
//   - every account a role names exists (ErrUnknownAccount);
//   - every signature's key exists (ErrUnknownKey), is not revoked
//     (ErrRevokedKey) and verifies over the payload message, or the
//     envelope message for the payer's (ErrInvalidSignature);
//   - the payer's and each authorizer's signatures weigh at least
//     account.Threshold (ErrInsufficientWeight); an authorizer that is the
//     payer signs the envelope, and those signatures count;
//   - the proposal key signed (the payload, or the envelope if the proposer
//     is the payer; ErrMissingProposalSignature) and its SeqNum equals the
//     key's (ErrSequenceNumber).
func Check(tx *Transaction, chain model.ChainID, lookup KeyLookup, workers int) Verdict {
	if tx == nil {
		return refuse(fmt.Errorf("%w: nil transaction", ErrMalformed), Role{})
	}
	if err := tx.Validate(); err != nil {
		return refuse(err, Role{})
	}
	if v, bad := checkAddresses(tx, chain); bad {
		return v
	}

	// The accounts of all roles, looked up once each.
	type acct struct {
		keys []account.Key
		err  error
	}
	accounts := make(map[account.Address]*acct, len(tx.Authorizers)+2)
	get := func(a account.Address) *acct {
		if ac, ok := accounts[a]; ok {
			return ac
		}
		keys, err := lookup(a)
		if err != nil {
			err = fmt.Errorf("account %s: %w", a, err)
		}
		ac := &acct{keys: keys, err: err}
		accounts[a] = ac
		return ac
	}
	get(tx.ProposalKey.Address)
	get(tx.Payer)
	for _, a := range tx.Authorizers {
		get(a)
	}

	// Key checks, then one batch of verifications.
	payloadMsg := tx.PayloadMessage(chain)
	envelopeMsg := tx.EnvelopeMessage(chain)
	sigErr := map[sigRef]error{}
	var items []account.Item
	var itemRefs []sigRef
	for _, ref := range allSigs(tx) {
		s := tx.sig(ref)
		ac := accounts[s.Address] // Validate: every signer holds a role
		switch {
		case ac.err != nil:
			sigErr[ref] = ac.err
		case int64(s.KeyIndex) >= int64(len(ac.keys)):
			sigErr[ref] = fmt.Errorf("%w: %s has no key %d", ErrUnknownKey, s.Address, s.KeyIndex)
		case ac.keys[s.KeyIndex].Revoked:
			sigErr[ref] = fmt.Errorf("%w: key %d of %s", ErrRevokedKey, s.KeyIndex, s.Address)
		default:
			msg := payloadMsg
			if ref.envelope {
				msg = envelopeMsg
			}
			items = append(items, account.Item{Key: ac.keys[s.KeyIndex], Msg: msg, Sig: s.Sig})
			itemRefs = append(itemRefs, ref)
		}
	}
	for j, err := range account.VerifyBatch(items, workers) {
		if err != nil {
			s := tx.sig(itemRefs[j])
			sigErr[itemRefs[j]] = fmt.Errorf("key %d of %s: %w", s.KeyIndex, s.Address, err)
		}
	}

	// roleErr: the account exists, all its signatures in its list are
	// valid and, if weighted, they reach the threshold.
	roleErr := func(a account.Address, weighted bool) error {
		ac := accounts[a]
		if ac.err != nil {
			return ac.err
		}
		envelope := a == tx.Payer
		var weight uint64
		for _, ref := range allSigs(tx) {
			s := tx.sig(ref)
			if ref.envelope != envelope || s.Address != a {
				continue
			}
			if err := sigErr[ref]; err != nil {
				return err
			}
			weight += uint64(ac.keys[s.KeyIndex].Weight)
		}
		if weighted && weight < account.Threshold {
			return fmt.Errorf("%w: %s signed with weight %d, needs %d", ErrInsufficientWeight, a, weight, account.Threshold)
		}
		return nil
	}

	var v Verdict
	proposerErr := proposalErr(tx, accounts[tx.ProposalKey.Address].keys, accounts[tx.ProposalKey.Address].err, sigErr)
	v.ProposerValid = proposerErr == nil
	if proposerErr == nil {
		proposerErr = roleErr(tx.ProposalKey.Address, false)
	}
	payerErr := roleErr(tx.Payer, true)
	// The fee is charged only together with a sequence number advance, so
	// each envelope the payer signed costs it at most once: a replay (or
	// any transaction whose proposal key fails) is refused for free.
	v.PayerAuthorized = payerErr == nil && v.ProposerValid
	switch {
	case proposerErr != nil:
		v.Err, v.Role = proposerErr, Role{Kind: RoleProposer}
	case payerErr != nil:
		v.Err, v.Role = payerErr, Role{Kind: RolePayer}
	default:
		for i, a := range tx.Authorizers {
			if err := roleErr(a, true); err != nil {
				v.Err, v.Role = err, Role{Kind: RoleAuthorizer, Index: i}
				break
			}
		}
	}
	return v
}

// proposalErr checks the proposal key: it exists, is not revoked, signed
// validly in the proposer's list, and its sequence number matches.
func proposalErr(tx *Transaction, keys []account.Key, lookupErr error, sigErr map[sigRef]error) error {
	pk := tx.ProposalKey
	if lookupErr != nil {
		return lookupErr
	}
	if int64(pk.KeyIndex) >= int64(len(keys)) {
		return fmt.Errorf("%w: proposer %s has no key %d", ErrUnknownKey, pk.Address, pk.KeyIndex)
	}
	key := keys[pk.KeyIndex]
	if key.Revoked {
		return fmt.Errorf("%w: proposal key %d of %s", ErrRevokedKey, pk.KeyIndex, pk.Address)
	}
	envelope := pk.Address == tx.Payer
	for _, ref := range allSigs(tx) {
		s := tx.sig(ref)
		if ref.envelope != envelope || s.Address != pk.Address || s.KeyIndex != pk.KeyIndex {
			continue
		}
		if err := sigErr[ref]; err != nil {
			return err
		}
		if key.SeqNum != pk.SeqNum {
			return fmt.Errorf("%w: transaction has %d, key %d of %s is at %d", ErrSequenceNumber, pk.SeqNum, pk.KeyIndex, pk.Address, key.SeqNum)
		}
		return nil
	}
	return fmt.Errorf("%w: key %d of %s", ErrMissingProposalSignature, pk.KeyIndex, pk.Address)
}

// checkAddresses refuses an address that is not valid on chain.
func checkAddresses(tx *Transaction, chain model.ChainID) (Verdict, bool) {
	bad := func(a account.Address, role Role, what string) (Verdict, bool) {
		if a.Valid(chain) {
			return Verdict{}, false
		}
		return refuse(fmt.Errorf("%w: %s %s", ErrInvalidAddress, what, a), role), true
	}
	if v, b := bad(tx.ProposalKey.Address, Role{Kind: RoleProposer}, "proposer"); b {
		return v, b
	}
	if v, b := bad(tx.Payer, Role{Kind: RolePayer}, "payer"); b {
		return v, b
	}
	for i, a := range tx.Authorizers {
		if v, b := bad(a, Role{Kind: RoleAuthorizer, Index: i}, "authorizer"); b {
			return v, b
		}
	}
	switch op := tx.Op.(type) {
	case Call:
		return bad(op.Program, Role{}, "program")
	case Transfer:
		return bad(op.To, Role{}, "recipient")
	}
	return Verdict{}, false
}

// allSigs lists every signature's location, payload first.
func allSigs(tx *Transaction) []sigRef {
	refs := make([]sigRef, 0, len(tx.PayloadSignatures)+len(tx.EnvelopeSignatures))
	for i := range tx.PayloadSignatures {
		refs = append(refs, sigRef{false, i})
	}
	for i := range tx.EnvelopeSignatures {
		refs = append(refs, sigRef{true, i})
	}
	return refs
}

func (tx *Transaction) sig(r sigRef) Signature {
	if r.envelope {
		return tx.EnvelopeSignatures[r.i]
	}
	return tx.PayloadSignatures[r.i]
}

package transaction

import (
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/codec"
)

// Kind identifies an operation in the encoding. New kinds get new numbers;
// a decoder that does not know a kind refuses the transaction.
type Kind uint8

// Operation kinds.
const (
	KindCall          Kind = 1
	KindDeploy        Kind = 2
	KindCreateAccount Kind = 3
	KindAddKey        Kind = 4
	KindRevokeKey     Kind = 5
	KindTransfer      Kind = 6
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindCall:
		return "call"
	case KindDeploy:
		return "deploy"
	case KindCreateAccount:
		return "create-account"
	case KindAddKey:
		return "add-key"
	case KindRevokeKey:
		return "revoke-key"
	case KindTransfer:
		return "transfer"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Operation is what a transaction does. The set is closed (the methods are
// unexported) so every operation has a canonical encoding and a decoder.
type Operation interface {
	// Kind is the operation's kind byte.
	Kind() Kind
	// NeedsAuthorizer: the operation acts on the first authorizer's
	// account, so the transaction must have one.
	NeedsAuthorizer() bool
	encode(w *codec.Writer)
	validate() error
}

// Call calls Function of the program deployed at Program with Args.
type Call struct {
	Program  account.Address
	Function string
	Args     [][]byte
}

// Deploy deploys Code (a WebAssembly module) into the first authorizer's
// account.
type Deploy struct{ Code []byte }

// CreateAccount creates an account with Keys; the VM assigns its address
// (the next index) and the payer pays for it.
type CreateAccount struct{ Keys []account.Key }

// AddKey adds Key to the first authorizer's account.
type AddKey struct{ Key account.Key }

// RevokeKey revokes key Index of the first authorizer's account.
type RevokeKey struct{ Index uint32 }

// Transfer moves Amount of the native token from the first authorizer's
// account to To.
type Transfer struct {
	To     account.Address
	Amount uint64
}

func (Call) Kind() Kind          { return KindCall }
func (Deploy) Kind() Kind        { return KindDeploy }
func (CreateAccount) Kind() Kind { return KindCreateAccount }
func (AddKey) Kind() Kind        { return KindAddKey }
func (RevokeKey) Kind() Kind     { return KindRevokeKey }
func (Transfer) Kind() Kind      { return KindTransfer }

func (Call) NeedsAuthorizer() bool          { return false }
func (Deploy) NeedsAuthorizer() bool        { return true }
func (CreateAccount) NeedsAuthorizer() bool { return false }
func (AddKey) NeedsAuthorizer() bool        { return true }
func (RevokeKey) NeedsAuthorizer() bool     { return true }
func (Transfer) NeedsAuthorizer() bool      { return true }

func (o Call) encode(w *codec.Writer) {
	w.Fixed(o.Program[:])
	w.Bytes16([]byte(o.Function))
	w.Uint8(uint8(len(o.Args)))
	for _, a := range o.Args {
		w.Bytes32(a)
	}
}

func (o Deploy) encode(w *codec.Writer) { w.Bytes32(o.Code) }

func (o CreateAccount) encode(w *codec.Writer) {
	w.Uint8(uint8(len(o.Keys)))
	for _, k := range o.Keys {
		k.EncodeTo(w)
	}
}

func (o AddKey) encode(w *codec.Writer)    { o.Key.EncodeTo(w) }
func (o RevokeKey) encode(w *codec.Writer) { w.Uint32(o.Index) }

func (o Transfer) encode(w *codec.Writer) {
	w.Fixed(o.To[:])
	w.Uint64(o.Amount)
}

// validIdentifier: 1..MaxFunctionName bytes of [A-Za-z_][A-Za-z0-9_]*.
func validIdentifier(s string) bool {
	if len(s) == 0 || len(s) > MaxFunctionName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (o Call) validate() error {
	if !validIdentifier(o.Function) {
		return fmt.Errorf("%w: function name %q is not an ASCII identifier of 1..%d bytes", ErrMalformed, o.Function, MaxFunctionName)
	}
	if len(o.Args) > MaxArgs {
		return fmt.Errorf("%w: %d arguments, at most %d", ErrMalformed, len(o.Args), MaxArgs)
	}
	return nil
}

func (o Deploy) validate() error {
	if len(o.Code) == 0 {
		return fmt.Errorf("%w: deploy without code", ErrMalformed)
	}
	return nil
}

// newKey checks a key a transaction brings into an account: valid, not
// revoked, sequence number 0 (one encoding per meaning).
func newKey(k account.Key) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if k.Revoked || k.SeqNum != 0 {
		return fmt.Errorf("%w: a new key must be unrevoked with sequence number 0", ErrMalformed)
	}
	return nil
}

func (o CreateAccount) validate() error {
	if len(o.Keys) > MaxKeys {
		return fmt.Errorf("%w: %d keys, at most %d", ErrMalformed, len(o.Keys), MaxKeys)
	}
	for _, k := range o.Keys {
		if err := newKey(k); err != nil {
			return err
		}
	}
	return nil
}

func (o AddKey) validate() error    { return newKey(o.Key) }
func (o RevokeKey) validate() error { return nil }

func (o Transfer) validate() error {
	if o.Amount == 0 {
		return fmt.Errorf("%w: transfer of 0", ErrMalformed)
	}
	return nil
}

// readOperation decodes the operation after its kind byte.
func readOperation(r *codec.Reader) Operation {
	kind := Kind(r.Uint8())
	switch kind {
	case KindCall:
		var o Call
		r.Fixed(o.Program[:])
		o.Function = string(r.Bytes16(MaxFunctionName, "function name"))
		n := int(r.Uint8())
		if n > MaxArgs {
			r.Fail("%d arguments, at most %d", n, MaxArgs)
			return nil
		}
		for range n {
			o.Args = append(o.Args, r.Bytes32(MaxSize, "argument"))
		}
		return o
	case KindDeploy:
		return Deploy{Code: r.Bytes32(MaxSize, "code")}
	case KindCreateAccount:
		n := int(r.Uint8())
		if n > MaxKeys {
			r.Fail("%d keys, at most %d", n, MaxKeys)
			return nil
		}
		o := CreateAccount{Keys: make([]account.Key, 0, n)}
		for range n {
			k, err := account.ReadKey(r)
			if err != nil {
				return nil
			}
			o.Keys = append(o.Keys, k)
		}
		return o
	case KindAddKey:
		k, err := account.ReadKey(r)
		if err != nil {
			return nil
		}
		return AddKey{Key: k}
	case KindRevokeKey:
		return RevokeKey{Index: r.Uint32()}
	case KindTransfer:
		var o Transfer
		r.Fixed(o.To[:])
		o.Amount = r.Uint64()
		return o
	}
	r.Fail("unknown operation kind %d", uint8(kind))
	return nil
}

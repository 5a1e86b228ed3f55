package epoch

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Kind is the type of a service event.
type Kind uint8

// Service event kinds.
const (
	KindSetup  Kind = 1 // proposes the next epoch
	KindCommit Kind = 2 // confirms a setup; the epoch is then scheduled
)

func (k Kind) String() string {
	switch k {
	case KindSetup:
		return "EpochSetup"
	case KindCommit:
		return "EpochCommit"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxEventsPerBlock bounds the service events one block carries.
const MaxEventsPerBlock = 4

// Commit confirms an EpochSetup: it names the setup by ID and repeats the
// staking keys it confirms, in the setup's order, so that a reader of the
// commit alone knows which keys will sign the epoch.
type Commit struct {
	Counter     uint64
	SetupID     model.Identifier
	StakingKeys [][]byte
}

// Event is a service event: an EpochSetup or EpochCommit, signed by a
// governance key named in genesis. The signature covers the chain (the
// genesis block ID), so an event cannot be replayed on another network.
type Event struct {
	Kind      Kind
	Setup     *Spec   // KindSetup
	Commit    *Commit // KindCommit
	Authority ed25519.PublicKey
	Signature []byte
}

// NewSetup signs an EpochSetup event.
func NewSetup(chain model.Identifier, s Spec, key ed25519.PrivateKey) *Event {
	s = s.clone() // the caller may reuse its slice; the signed event must not change
	e := &Event{Kind: KindSetup, Setup: &s}
	e.sign(chain, key)
	return e
}

// NewCommit signs an EpochCommit event confirming setup.
func NewCommit(chain model.Identifier, setup *Spec, key ed25519.PrivateKey) *Event {
	keys := make([][]byte, len(setup.Identities))
	for i, m := range setup.Identities {
		keys[i] = m.StakingKey
	}
	e := &Event{Kind: KindCommit, Commit: &Commit{Counter: setup.Counter, SetupID: setup.ID(), StakingKeys: keys}}
	e.sign(chain, key)
	return e
}

func (e *Event) sign(chain model.Identifier, key ed25519.PrivateKey) {
	e.Authority = key.Public().(ed25519.PublicKey)
	e.Signature = ed25519.Sign(key, e.signedMessage(chain))
}

func (e *Event) signedMessage(chain model.Identifier) []byte {
	w := codec.NewWriter(512)
	w.Fixed([]byte("floe service event\x00"))
	w.Fixed(chain[:])
	e.encodeBody(w)
	return w.Bytes()
}

// ID is the hash of the event's canonical encoding.
func (e *Event) ID() model.Identifier { return crypto.Sum(e.Encode()) }

// Verify checks the event's shape and that one of the authorities signed it
// for this chain. It does not check the event against the epoch state; see
// State.Apply.
func (e *Event) Verify(chain model.Identifier, authorities []ed25519.PublicKey) error {
	if err := e.checkShape(); err != nil {
		return err
	}
	authorised := false
	for _, a := range authorities {
		if bytes.Equal(a, e.Authority) {
			authorised = true
			break
		}
	}
	if !authorised {
		return fmt.Errorf("%w: %v signed by a key that is not a governance key of this chain", ErrRejected, e.Kind)
	}
	if !ed25519.Verify(e.Authority, e.signedMessage(chain), e.Signature) {
		return fmt.Errorf("%w: %v has an invalid governance signature", ErrInvalid, e.Kind)
	}
	return nil
}

func (e *Event) checkShape() error {
	switch {
	case e.Kind == KindSetup && (e.Setup == nil || e.Commit != nil):
		return fmt.Errorf("%w: EpochSetup without exactly a setup body", ErrInvalid)
	case e.Kind == KindCommit && (e.Commit == nil || e.Setup != nil):
		return fmt.Errorf("%w: EpochCommit without exactly a commit body", ErrInvalid)
	case e.Kind != KindSetup && e.Kind != KindCommit:
		return fmt.Errorf("%w: unknown service event kind %d", ErrInvalid, e.Kind)
	case len(e.Authority) != ed25519.PublicKeySize || len(e.Signature) != ed25519.SignatureSize:
		return fmt.Errorf("%w: %v: malformed authority key or signature", ErrInvalid, e.Kind)
	}
	if e.Kind == KindSetup {
		if err := e.Setup.Validate(); err != nil {
			return fmt.Errorf("EpochSetup: %w", err)
		}
	} else if n := len(e.Commit.StakingKeys); n == 0 || n > MaxMembers {
		return fmt.Errorf("%w: EpochCommit confirms %d keys", ErrInvalid, n)
	}
	return nil
}

func (e *Event) encodeBody(w *codec.Writer) {
	w.Uint8(uint8(e.Kind))
	switch e.Kind {
	case KindSetup:
		e.Setup.encode(w)
	case KindCommit:
		w.Uint64(e.Commit.Counter)
		w.Fixed(e.Commit.SetupID[:])
		w.Uint16(uint16(len(e.Commit.StakingKeys)))
		for _, k := range e.Commit.StakingKeys {
			w.Bytes16(k)
		}
	}
}

func (e *Event) encode(w *codec.Writer) {
	e.encodeBody(w)
	w.Bytes16(e.Authority)
	w.Bytes16(e.Signature)
}

// Encode returns the canonical encoding.
func (e *Event) Encode() []byte {
	w := codec.NewWriter(512)
	e.encode(w)
	return w.Bytes()
}

func decodeEvent(r *codec.Reader) *Event {
	e := &Event{Kind: Kind(r.Uint8())}
	switch e.Kind {
	case KindSetup:
		s := decodeSpec(r)
		e.Setup = &s
	case KindCommit:
		c := &Commit{Counter: r.Uint64()}
		r.Fixed(c.SetupID[:])
		n := int(r.Uint16())
		if n > MaxMembers {
			r.Fail("commit of %d keys", n)
			return nil
		}
		for i := 0; i < n && r.Err() == nil; i++ {
			c.StakingKeys = append(c.StakingKeys, bytes.Clone(r.Bytes16(maxKeyLen, "staking key")))
		}
		e.Commit = c
	default:
		r.Fail("unknown service event kind %d", e.Kind)
		return nil
	}
	e.Authority = ed25519.PublicKey(bytes.Clone(r.Bytes16(ed25519.PublicKeySize, "authority")))
	e.Signature = bytes.Clone(r.Bytes16(ed25519.SignatureSize, "signature"))
	if r.Err() == nil {
		if err := e.checkShape(); err != nil {
			r.Fail("%v", err)
			return nil
		}
	}
	return e
}

// DecodeEvent decodes Event.Encode output and checks its shape.
func DecodeEvent(b []byte) (*Event, error) {
	r := codec.NewReader(b)
	e := decodeEvent(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return e, nil
}

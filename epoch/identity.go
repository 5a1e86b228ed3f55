// Package epoch holds floe's identity tables and their changes over time.
//
// An epoch is a contiguous range of views with one committee (its identity
// table) and one random source for leader selection. The next epoch is set
// up through the chain: a governance-signed EpochSetup service event names
// the next committee, view range and random source; a later EpochCommit
// confirms it. State applies the service events of finalized blocks in
// order, so every participant, follower and light client derives the same
// Schedule (which epoch, hence which committee, owns each view) from the same
// finalized chain. If the next epoch is not committed in time the current one
// is extended (epoch fallback) instead of halting.
package epoch

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/floe-bft/floe/codec"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Bounds on encoded identity fields.
const (
	MaxNameLen    = 64
	MaxAddressLen = 256
	maxKeyLen     = 256
)

// Identity is one member of an epoch's identity table.
type Identity struct {
	Name string
	// Role is what the member does; only consensus members are in the
	// committee. Every role has staking and network keys alike: collectors
	// sign cluster blocks and guarantees with theirs.
	Role       Role
	Weight     uint64
	StakingKey []byte // encoded staking public key (BLS12-381 G1)
	Possession []byte // proof of possession of StakingKey
	NetworkKey ed25519.PublicKey
	Address    string // host:port of the member's peer-to-peer listener
}

// ID is the member's node ID: the hash of its staking key.
func (m Identity) ID() model.NodeID { return crypto.Sum(m.StakingKey) }

func (m Identity) encode(w *codec.Writer) {
	w.Bytes16([]byte(m.Name))
	w.Uint8(uint8(m.Role))
	w.Uint64(m.Weight)
	w.Bytes16(m.StakingKey)
	w.Bytes16(m.Possession)
	w.Bytes16(m.NetworkKey)
	w.Bytes16([]byte(m.Address))
}

func decodeIdentity(r *codec.Reader) Identity {
	var m Identity
	m.Name = string(r.Bytes16(MaxNameLen, "name"))
	m.Role = Role(r.Uint8())
	if r.Err() == nil && !m.Role.Valid() {
		// Refused here, not only by validation: a table this build cannot
		// read must not be stored or passed on as if it understood it.
		r.Fail("member %q has unknown role %d", m.Name, uint8(m.Role))
	}
	m.Weight = r.Uint64()
	m.StakingKey = bytes.Clone(r.Bytes16(maxKeyLen, "staking key"))
	m.Possession = bytes.Clone(r.Bytes16(maxKeyLen, "possession"))
	m.NetworkKey = ed25519.PublicKey(bytes.Clone(r.Bytes16(maxKeyLen, "network key")))
	m.Address = string(r.Bytes16(MaxAddressLen, "address"))
	return m
}

// checkShape checks what can be checked without a signature scheme.
func (m Identity) checkShape() error {
	switch {
	case m.Name == "" || len(m.Name) > MaxNameLen:
		return fmt.Errorf("%w: member name must be 1..%d bytes", ErrInvalid, MaxNameLen)
	case !m.Role.Valid():
		return fmt.Errorf("%w: member %s has unknown role %d (want consensus, collection, execution or access)", ErrInvalid, m.Name, uint8(m.Role))
	case m.Weight == 0:
		return fmt.Errorf("%w: member %s has zero weight", ErrInvalid, m.Name)
	case len(m.NetworkKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: member %s: network key must be %d bytes", ErrInvalid, m.Name, ed25519.PublicKeySize)
	case m.Address == "" || len(m.Address) > MaxAddressLen:
		return fmt.Errorf("%w: member %s: address must be 1..%d bytes", ErrInvalid, m.Name, MaxAddressLen)
	case len(m.StakingKey) == 0 || len(m.StakingKey) > maxKeyLen || len(m.Possession) == 0 || len(m.Possession) > maxKeyLen:
		return fmt.Errorf("%w: member %s: staking key and possession proof are required", ErrInvalid, m.Name)
	}
	return nil
}

// buildCommittee decodes the staking keys, checks every proof of possession
// and builds the committee of the consensus members with the given
// leader-selection seed. Members of other roles get the same key checks
// (they sign on cluster chains and in guarantees) but no place in the
// committee: weight they hold must never count towards a QC or a leader
// draw of the main chain.
func buildCommittee(scheme crypto.Scheme, ids []Identity, seed [32]byte) (*committee.Committee, error) {
	members := make([]committee.Member, 0, len(ids))
	for _, m := range ids {
		if err := m.checkShape(); err != nil {
			return nil, err
		}
		pk, err := scheme.DecodePublicKey(m.StakingKey)
		if err != nil {
			return nil, fmt.Errorf("%w: member %s: staking key: %v", ErrInvalid, m.Name, err)
		}
		if m.Role != RoleConsensus {
			if err := committee.VerifyPossession(pk, m.Possession); err != nil {
				return nil, fmt.Errorf("%w: member %s: %v", ErrInvalid, m.Name, err)
			}
			continue
		}
		members = append(members, committee.Member{ID: m.ID(), Weight: m.Weight, StakingKey: pk, Possession: m.Possession})
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("%w: no consensus member (an epoch needs at least one)", ErrInvalid)
	}
	c, err := committee.New(members, seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return c, nil
}

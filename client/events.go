package client

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/api"
)

// Event types the VM (package fvm) emits for its own operations, and
// their payloads. They are repeated here so a client does not link the VM
// and its WebAssembly runtime; a test checks they equal fvm's. A
// program's events are named "<program address, 16 hex digits>.<type>" and their
// payloads are the program's business.
const (
	EventAccountCreated = "account.created"     // the new address (8 bytes)
	EventKeyAdded       = "account.key_added"   // address ‖ key index (u32 big-endian)
	EventKeyRevoked     = "account.key_revoked" // address ‖ key index (u32 big-endian)
	EventTransfer       = "token.transfer"      // from ‖ to ‖ amount (u64 big-endian)
	EventDeployed       = "program.deployed"    // address ‖ code hash (32 bytes)
)

// DescribeEvent decodes the payload of one of the VM's events for people
// ("0x… key 2", "0x… -> 0x… 500"); for a program's event, or a payload
// that does not fit its type, it returns "" and the caller shows the hex.
func DescribeEvent(e api.EventInfo) string {
	p, err := hex.DecodeString(e.Payload)
	if err != nil {
		return ""
	}
	addr := func(b []byte) string { return account.Address(b).Hex() }
	switch {
	case e.Type == EventAccountCreated && len(p) == 8:
		return addr(p)
	case (e.Type == EventKeyAdded || e.Type == EventKeyRevoked) && len(p) == 12:
		return fmt.Sprintf("%s key %d", addr(p[:8]), binary.BigEndian.Uint32(p[8:]))
	case e.Type == EventTransfer && len(p) == 24:
		return fmt.Sprintf("%s -> %s amount %d", addr(p[:8]), addr(p[8:16]), binary.BigEndian.Uint64(p[16:]))
	case e.Type == EventDeployed && len(p) == 40:
		return fmt.Sprintf("%s code %x", addr(p[:8]), p[8:])
	}
	return ""
}

// Events returns the events of an executed transaction (none if the node
// did not report them).
func Events(st api.TxResponse) []api.EventInfo {
	if st.Execution == nil {
		return nil
	}
	return st.Execution.Events
}

// CreatedAccount returns the address of the account a CreateAccount
// transaction created, from its EventAccountCreated event. Without one
// (the transaction failed, or the node did not report its events) it is
// an error wrapping ErrBadAnswer.
func CreatedAccount(st api.TxResponse) (account.Address, error) {
	for _, e := range Events(st) {
		if e.Type != EventAccountCreated {
			continue
		}
		p, err := hex.DecodeString(e.Payload)
		if err != nil || len(p) != len(account.Address{}) {
			return account.Address{}, fmt.Errorf("%w: %s event payload %q", ErrBadAnswer, e.Type, e.Payload)
		}
		return account.Address(p), nil
	}
	return account.Address{}, fmt.Errorf("%w: transaction %s has no %s event", ErrBadAnswer, st.ID, EventAccountCreated)
}

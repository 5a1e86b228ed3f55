package fvm

import (
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/transaction"
)

// Event types the VM emits for its own operations. Programs' events are
// named "<program address hex>.<type>", so a program cannot emit these.
const (
	EventAccountCreated = "account.created"     // payload: the new address
	EventKeyAdded       = "account.key_added"   // payload: address ‖ key index (u32)
	EventKeyRevoked     = "account.key_revoked" // payload: address ‖ key index (u32)
	EventTransfer       = "token.transfer"      // payload: from ‖ to ‖ amount (u64)
	EventDeployed       = "program.deployed"    // payload: address ‖ code hash
)

func (r *txRun) emit(typ string, payload []byte) error {
	return r.emitCharged(typ, payload, r.m.charge)
}

// emitCharged records an event, charging its gas to charge.
func (r *txRun) emitCharged(typ string, payload []byte, charge func(uint64) error) error {
	if err := charge(GasEvent + uint64(len(typ)+len(payload))*GasEventByte); err != nil {
		return err
	}
	if len(r.events) >= maxEvents {
		return fmt.Errorf("%w: more than %d events", ErrProgram, maxEvents)
	}
	r.events = append(r.events, blockstm.Event{Type: typ, Payload: append([]byte(nil), payload...)})
	return nil
}

// maxEvents bounds a transaction's events.
const maxEvents = 1024

func (r *txRun) chargeWrite(n int) error { return r.m.charge(GasWrite + uint64(n)*GasWriteByte) }

func (r *txRun) createAccount(op transaction.CreateAccount) error {
	size := 0
	for _, k := range op.Keys {
		size += len(k.Encode())
	}
	if err := r.m.charge(GasCreateAccount + uint64(size)*GasWriteByte); err != nil {
		return err
	}
	a, err := createAccount(r.ov, r.vm.chain, op.Keys)
	if err != nil {
		return r.viewErr(err)
	}
	return r.emit(EventAccountCreated, a[:])
}

func (r *txRun) addKey(a account.Address, k account.Key) error {
	if err := r.chargeWrite(len(k.Encode())); err != nil {
		return err
	}
	keys, err := loadKeys(r.ov, a)
	if err != nil {
		return r.viewErr(err)
	}
	if len(keys) >= maxAcctKeys {
		return fmt.Errorf("%w: %v has %d keys, the most an account may have", ErrKeyIndex, a, len(keys))
	}
	if err := r.viewErr(putKeys(r.ov, a, append(keys, k), len(keys))); err != nil {
		return err
	}
	return r.emit(EventKeyAdded, binary.BigEndian.AppendUint32(append([]byte(nil), a[:]...), uint32(len(keys))))
}

func (r *txRun) revokeKey(a account.Address, i uint32) error {
	if err := r.chargeWrite(0); err != nil {
		return err
	}
	keys, err := loadKeys(r.ov, a)
	if err != nil {
		return r.viewErr(err)
	}
	if int(i) >= len(keys) || keys[i].Revoked {
		return fmt.Errorf("%w: %v has no unrevoked key %d", ErrKeyIndex, a, i)
	}
	// The key read here is the one the overlay holds: if this transaction's
	// proposal key is the one revoked, its sequence number advanced already.
	keys[i].Revoked = true
	if err := r.viewErr(r.ov.Set(keyReg(a, i), keys[i].Encode())); err != nil {
		return err
	}
	return r.emit(EventKeyRevoked, binary.BigEndian.AppendUint32(append([]byte(nil), a[:]...), i))
}

func (r *txRun) transfer(from, to account.Address, amount uint64) error {
	if err := r.chargeWrite(16); err != nil {
		return err
	}
	if err := r.move(from, to, amount); err != nil {
		return err
	}
	p := append(append([]byte(nil), from[:]...), to[:]...)
	return r.emit(EventTransfer, binary.BigEndian.AppendUint64(p, amount))
}

// move transfers amount of the native token between existing accounts.
func (r *txRun) move(from, to account.Address, amount uint64) error {
	ok, err := exists(r.ov, to)
	if err != nil {
		return r.viewErr(err)
	}
	if !ok {
		return fmt.Errorf("%w: %v", ErrNoAccount, to)
	}
	if err := debit(r.ov, from, amount); err != nil {
		return r.viewErr(err)
	}
	return r.viewErr(credit(r.ov, to, amount))
}

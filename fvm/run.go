package fvm

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/transaction"
)

// Run executes one signed transaction (execution.VM). The outcome, as the
// package doc says: nothing changes for a transaction that does not
// decode or whose proposal key is not valid; otherwise the proposal
// key's sequence number advances, and if the payer authorized it the
// fee for the gas used is charged; the operation's writes and events
// stay only if it succeeds. Computation is the gas used. A Go error is a
// state failure (or a speculative run Block-STM discards), never the
// transaction's fault.
func (vm *VM) Run(tc execution.TxContext, body []byte, v blockstm.View) (blockstm.Result, error) {
	tx, err := transaction.Decode(body)
	if err != nil {
		return failed(0, fmt.Errorf("%w: %v", ErrMalformed, err)), nil
	}
	var lookupErr error
	lookup := func(a account.Address) ([]account.Key, error) {
		keys, err := signingKeys(v, a, tx)
		if err != nil && !errors.Is(err, account.ErrUnknownAccount) && lookupErr == nil {
			lookupErr = err
		}
		return keys, err
	}
	verdict := transaction.Check(tx, vm.chain, lookup, 1)
	if lookupErr != nil {
		return blockstm.Result{}, lookupErr
	}
	if !verdict.ProposerValid {
		return failed(0, fmt.Errorf("%w: %s: %v", ErrUnauthorized, verdict.Role, verdict.Err)), nil
	}
	if err := vm.advanceSequence(v, tx.ProposalKey); err != nil {
		return blockstm.Result{}, err
	}
	if !verdict.PayerAuthorized {
		return failed(0, fmt.Errorf("%w: %s: %v", ErrUnauthorized, verdict.Role, verdict.Err)), nil
	}

	m := &meter{limit: tx.GasLimit}
	sigs := uint64(len(tx.PayloadSignatures) + len(tx.EnvelopeSignatures))
	baseErr := m.charge(GasTx + sigs*GasSignature + uint64(len(body))*GasTxByte)
	reserve, ok := mulGas(tx.GasLimit, vm.price)
	if !ok {
		return vm.charge(v, tx, m, 0, fmt.Errorf("%w: gas limit %d at price %d overflows", ErrInsufficientBalance, tx.GasLimit, vm.price))
	}
	bal, err := balance(v, tx.Payer)
	if err != nil {
		return blockstm.Result{}, err
	}
	if bal < reserve {
		return vm.charge(v, tx, m, bal, fmt.Errorf("%w: payer %v holds %d, the gas limit costs %d", ErrInsufficientBalance, tx.Payer, bal, reserve))
	}
	if err := setBalance(v, tx.Payer, bal-reserve); err != nil {
		return blockstm.Result{}, err
	}
	opErr := baseErr
	var events []blockstm.Event
	if verdict.Err != nil {
		opErr = fmt.Errorf("%w: %s: %v", ErrUnauthorized, verdict.Role, verdict.Err)
	}
	if opErr == nil {
		ov := newOverlay(v)
		r := &txRun{vm: vm, tc: tc, tx: tx, ov: ov, m: m}
		opErr = r.operation()
		if fatal := r.fatal; fatal != nil {
			return blockstm.Result{}, fatal
		}
		if opErr == nil {
			if err := ov.apply(); err != nil {
				return blockstm.Result{}, err
			}
			events = r.events
		}
	}
	// Refund what the gas used did not cost.
	if err := credit(v, tx.Payer, reserve-m.used*vm.price); err != nil {
		return blockstm.Result{}, err
	}
	if opErr != nil {
		return failed(m.used, opErr), nil
	}
	return blockstm.Result{OK: true, Events: events, Computation: m.used}, nil
}

// charge ends a transaction whose payer cannot cover its gas limit: it
// pays for the gas used so far, or what it holds if less.
func (vm *VM) charge(v blockstm.View, tx *transaction.Transaction, m *meter, bal uint64, why error) (blockstm.Result, error) {
	fee, _ := mulGas(m.used, vm.price)
	fee = min(fee, bal)
	if fee > 0 {
		if err := setBalance(v, tx.Payer, bal-fee); err != nil {
			return blockstm.Result{}, err
		}
	}
	return failed(m.used, why), nil
}

// advanceSequence increments the proposal key's sequence number.
func (vm *VM) advanceSequence(v blockstm.View, pk transaction.ProposalKey) error {
	id := keyReg(pk.Address, pk.KeyIndex)
	raw, err := v.Get(id)
	if err != nil {
		return err
	}
	k, err := account.DecodeStoredKey(raw)
	if err != nil {
		return fmt.Errorf("%w: proposal key %d of %v: %v", ErrCorruptState, pk.KeyIndex, pk.Address, err)
	}
	k.SeqNum++
	return v.Set(id, k.Encode())
}

func failed(gas uint64, err error) blockstm.Result {
	return blockstm.Result{Error: err.Error(), Computation: gas}
}

// txRun is one transaction's operation in progress.
type txRun struct {
	vm     *VM
	tc     execution.TxContext
	tx     *transaction.Transaction
	ov     *overlay
	m      *meter
	events []blockstm.Event
	// fatal is a state failure seen inside the operation (a register read
	// failed, or Block-STM ended this speculative run): the run stops
	// with it, whatever the operation made of it.
	fatal error
	// randomCounter numbers the blocks of the transaction's random stream.
	randomCounter uint64
}

// viewErr sorts an error met inside the operation: the transaction's
// own fault (a bad register, a write limit, a rule of the VM) is returned
// for the operation to fail with; anything else (a read that failed, a
// speculative run Block-STM ends, a corrupt state) is also recorded as
// fatal, so the run stops with it whatever the program makes of it.
func (r *txRun) viewErr(err error) error {
	if err == nil || txFault(err) {
		return err
	}
	if r.fatal == nil {
		r.fatal = err
	}
	return err
}

// txFault reports whether err is a transaction's failure rather than the
// state's.
func txFault(err error) bool {
	if errors.Is(err, ErrCorruptState) {
		return false
	}
	for _, e := range []error{state.ErrInvalidRegister, blockstm.ErrTxLimit, account.ErrUnknownAccount, ErrInsufficientBalance,
		ErrOutOfGas, ErrNoAccount, ErrNoProgram, ErrKeyIndex, ErrAccountsExhausted, ErrProgram, ErrInvalidProgram} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// operation runs the transaction's operation in the overlay.
func (r *txRun) operation() error {
	tx := r.tx
	switch op := tx.Op.(type) {
	case transaction.CreateAccount:
		return r.createAccount(op)
	case transaction.AddKey:
		return r.addKey(tx.Authorizers[0], op.Key)
	case transaction.RevokeKey:
		return r.revokeKey(tx.Authorizers[0], op.Index)
	case transaction.Transfer:
		return r.transfer(tx.Authorizers[0], op.To, op.Amount)
	case transaction.Deploy:
		return r.deploy(tx.Authorizers[0], op.Code)
	case transaction.Call:
		return r.callTop(op)
	default:
		return fmt.Errorf("%w: operation kind %d", ErrMalformed, tx.Op.Kind())
	}
}

package fvm

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/transaction"
)

// exists reports whether account a exists (its key count is present).
func exists(v blockstm.View, a account.Address) (bool, error) {
	n, err := v.Get(keysReg(a))
	return n != nil, err
}

// keyCount reads how many keys account a has; an account that does not
// exist is account.ErrUnknownAccount.
func keyCount(v blockstm.View, a account.Address) (uint32, error) {
	raw, err := v.Get(keysReg(a))
	if err != nil {
		return 0, err
	}
	if raw == nil {
		return 0, fmt.Errorf("%w: %v", account.ErrUnknownAccount, a)
	}
	n, err := DecodeKeyCount(raw)
	if err != nil {
		return 0, err
	}
	if n > maxAcctKeys {
		return 0, fmt.Errorf("%w: account %v has %d keys", ErrCorruptState, a, n)
	}
	return n, nil
}

// loadKeys reads every key of account a; an account that does not exist
// is account.ErrUnknownAccount.
func loadKeys(v blockstm.View, a account.Address) ([]account.Key, error) {
	n, err := keyCount(v, a)
	if err != nil {
		return nil, err
	}
	keys := make([]account.Key, n)
	for i := range keys {
		raw, err := v.Get(keyReg(a, uint32(i)))
		if err != nil {
			return nil, err
		}
		if keys[i], err = account.DecodeKey(raw); err != nil {
			return nil, fmt.Errorf("%w: key %d of %v: %v", ErrCorruptState, i, a, err)
		}
	}
	return keys, nil
}

// signingKeys reads what transaction.Check needs of account a's keys for
// tx: a slice as long as the account's key list, with only the keys tx's
// signatures and proposal key name decoded (Check reads no other; the
// rest stay zero). An account's keys are read and decoded per
// transaction, and an account may have up to 64 of them: reading only
// the signing ones keeps a transaction's cost in what it uses. Stored
// keys are decoded without re-checking their curve point
// (account.DecodeStoredKey): the VM checked it when it wrote them.
func signingKeys(v blockstm.View, a account.Address, tx *transaction.Transaction) ([]account.Key, error) {
	n, err := keyCount(v, a)
	if err != nil {
		return nil, err
	}
	keys := make([]account.Key, n)
	load := func(i uint32) error {
		if i >= n || keys[i].PublicKey != nil {
			return nil // Check refuses an index past the list itself
		}
		raw, err := v.Get(keyReg(a, i))
		if err != nil {
			return err
		}
		if keys[i], err = account.DecodeStoredKey(raw); err != nil {
			return fmt.Errorf("%w: key %d of %v: %v", ErrCorruptState, i, a, err)
		}
		return nil
	}
	if tx.ProposalKey.Address == a {
		if err := load(tx.ProposalKey.KeyIndex); err != nil {
			return nil, err
		}
	}
	for _, sigs := range [][]transaction.Signature{tx.PayloadSignatures, tx.EnvelopeSignatures} {
		for _, s := range sigs {
			if s.Address == a {
				if err := load(s.KeyIndex); err != nil {
					return nil, err
				}
			}
		}
	}
	return keys, nil
}

// putKeys writes keys as account a's keys [from, len).
func putKeys(v blockstm.View, a account.Address, keys []account.Key, from int) error {
	for i := from; i < len(keys); i++ {
		if err := v.Set(keyReg(a, uint32(i)), keys[i].Encode()); err != nil {
			return err
		}
	}
	return v.Set(keysReg(a), keyCountBytes(uint32(len(keys))))
}

func balance(v blockstm.View, a account.Address) (uint64, error) {
	raw, err := v.Get(balanceReg(a))
	if err != nil {
		return 0, err
	}
	return u64(raw)
}

func setBalance(v blockstm.View, a account.Address, b uint64) error {
	if b == 0 {
		return v.Set(balanceReg(a), nil)
	}
	return v.Set(balanceReg(a), u64Bytes(b))
}

// debit takes amount from a's balance (ErrInsufficientBalance if short).
func debit(v blockstm.View, a account.Address, amount uint64) error {
	b, err := balance(v, a)
	if err != nil {
		return err
	}
	if b < amount {
		return fmt.Errorf("%w: %v holds %d, needs %d", ErrInsufficientBalance, a, b, amount)
	}
	return setBalance(v, a, b-amount)
}

// credit adds amount to a's balance. The total supply is fixed at genesis
// (fees burn it), so a sum past 2^64 means a corrupt state.
func credit(v blockstm.View, a account.Address, amount uint64) error {
	b, err := balance(v, a)
	if err != nil {
		return err
	}
	sum, carry := bits.Add64(b, amount, 0)
	if carry != 0 {
		return fmt.Errorf("%w: balance of %v overflows", ErrCorruptState, a)
	}
	return setBalance(v, a, sum)
}

// createAccount makes the next account of chain with keys: its index
// comes from the service account's counter (every creation writes it, so
// creations in one block run in order; they are rare).
func createAccount(v blockstm.View, chain model.ChainID, keys []account.Key) (account.Address, error) {
	svc := account.ServiceAddress(chain)
	raw, err := v.Get(nextReg(svc))
	if err != nil {
		return account.Address{}, err
	}
	next, err := u64(raw)
	if err != nil {
		return account.Address{}, err
	}
	a, err := account.AddressAt(chain, next)
	if errors.Is(err, account.ErrInvalidAddress) {
		return account.Address{}, fmt.Errorf("%w: index %d", ErrAccountsExhausted, next)
	}
	if err != nil {
		return account.Address{}, err
	}
	if ok, err := exists(v, a); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: the next account %v exists already", ErrCorruptState, a)
		}
		return account.Address{}, err
	}
	if err := v.Set(nextReg(svc), u64Bytes(next+1)); err != nil {
		return account.Address{}, err
	}
	return a, putKeys(v, a, keys, 0)
}

package fvm

import (
	"fmt"
	"math/bits"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/state"
)

// GenesisAccount is an account the genesis state holds: its keys and its
// native token balance.
type GenesisAccount struct {
	Keys    []account.Key
	Balance uint64
}

// GenesisWrites is the genesis state of accounts on chain: the service
// account (index 1) and then accounts in order (indexes 2, 3, ...), each
// with its keys (sequence numbers from 0) and balance; the next account
// created gets the index after the last. The total supply is the sum of
// the balances, and it only shrinks (fees are burned).
func GenesisWrites(chain model.ChainID, service GenesisAccount, accounts []GenesisAccount) ([]state.Write, error) {
	all := append([]GenesisAccount{service}, accounts...)
	var writes []state.Write
	var supply uint64
	for i, ga := range all {
		a, err := account.AddressAt(chain, uint64(i)+1)
		if err != nil {
			return nil, fmt.Errorf("genesis account %d: %w", i, err)
		}
		if len(ga.Keys) == 0 || len(ga.Keys) > maxAcctKeys {
			return nil, fmt.Errorf("genesis account %v: %d keys (1 to %d)", a, len(ga.Keys), maxAcctKeys)
		}
		var c uint64
		if supply, c = bits.Add64(supply, ga.Balance, 0); c != 0 {
			return nil, fmt.Errorf("genesis account %v: the total supply overflows", a)
		}
		for j, k := range ga.Keys {
			if err := k.Validate(); err != nil {
				return nil, fmt.Errorf("genesis account %v key %d: %w", a, j, err)
			}
			if k.Revoked || k.SeqNum != 0 {
				return nil, fmt.Errorf("genesis account %v key %d: revoked or with a sequence number", a, j)
			}
			writes = append(writes, state.Write{ID: keyReg(a, uint32(j)), Value: k.Encode()})
		}
		writes = append(writes, state.Write{ID: keysReg(a), Value: keyCountBytes(uint32(len(ga.Keys)))})
		if ga.Balance > 0 {
			writes = append(writes, state.Write{ID: balanceReg(a), Value: u64Bytes(ga.Balance)})
		}
	}
	writes = append(writes, state.Write{ID: nextReg(account.ServiceAddress(chain)), Value: u64Bytes(uint64(len(all)) + 1)})
	return writes, nil
}

package fvm

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/state"
)

// An account's registers have the account's 8-byte address as owner.
// Names starting with '$' are the VM's; programs' storage lives under
// "s/" (private: only the account's own program writes it, or the
// top-level program of a transaction the account authorized) and "p/"
// (public: any program may read it).
const (
	regKeys     = "$keys"  // u32: how many keys the account has (present iff the account exists)
	regKeyPfx   = "$key/"  // "$key/N": key N (account.Key encoding)
	regBalance  = "$bal"   // u64: native token balance
	regCode     = "$code"  // code header: hash, size, pieces
	regCodePfx  = "$code/" // "$code/N": piece N of the program's code
	regCapPfx   = "$cap/"  // "$cap/<program address hex>": u64 allowance that program may debit
	regNext     = "$next"  // service account only: u64 index of the next account created
	privatePfx  = "s/"
	publicPfx   = "p/"
	codePiece   = 60 << 10 // bytes per code register (state.MaxValueSize is 64 KiB)
	maxUserKey  = state.MaxKeySize - len(privatePfx)
	maxAcctKeys = 64 // keys an account may have, revoked ones included
)

func owner(a account.Address) string { return string(a[:]) }

func keysReg(a account.Address) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: regKeys}
}
func keyReg(a account.Address, i uint32) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: regKeyPfx + strconv.FormatUint(uint64(i), 10)}
}
func balanceReg(a account.Address) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: regBalance}
}
func codeReg(a account.Address) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: regCode}
}
func codePieceReg(a account.Address, i int) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: regCodePfx + strconv.Itoa(i)}
}
func capReg(a, program account.Address) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: fmt.Sprintf("%s%x", regCapPfx, program[:])}
}
func nextReg(service account.Address) state.RegisterID {
	return state.RegisterID{Owner: owner(service), Key: regNext}
}
func privateReg(a account.Address, key []byte) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: privatePfx + string(key)}
}
func publicReg(a account.Address, key []byte) state.RegisterID {
	return state.RegisterID{Owner: owner(a), Key: publicPfx + string(key)}
}

// Register names for readers outside the VM (access nodes proving an
// account's keys and balance, the CLI).
func KeysRegister(a account.Address) state.RegisterID          { return keysReg(a) }
func KeyRegister(a account.Address, i uint32) state.RegisterID { return keyReg(a, i) }
func BalanceRegister(a account.Address) state.RegisterID       { return balanceReg(a) }
func CodeRegister(a account.Address) state.RegisterID          { return codeReg(a) }
func PublicRegister(a account.Address, key []byte) state.RegisterID {
	return publicReg(a, key)
}

func u64(v []byte) (uint64, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	default:
		return 0, fmt.Errorf("%w: a counter register of %d bytes", ErrCorruptState, len(v))
	}
}

func u64Bytes(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

// DecodeBalance reads a balance register's value (nil: 0).
func DecodeBalance(v []byte) (uint64, error) { return u64(v) }

// DecodeKeyCount reads a key-count register's value.
func DecodeKeyCount(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: a key count of %d bytes", ErrCorruptState, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func keyCountBytes(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

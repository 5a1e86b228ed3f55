package fvm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/transaction"
	"github.com/floe-bft/floe/wasm"
)

// codeHeader is the "$code" register: the code's SHA-256, its size and
// how many "$code/N" pieces hold it.
const codeHeaderSize = 32 + 4 + 2

func (r *txRun) deploy(a account.Address, code []byte) error {
	pieces := (len(code) + codePiece - 1) / codePiece
	if err := r.m.charge(uint64(len(code))*(GasDeployByte+GasWriteByte) + uint64(pieces+1)*GasWrite); err != nil {
		return err
	}
	prog, err := r.vm.compile(code)
	if err != nil {
		return err
	}
	old, err := r.ov.Get(codeReg(a))
	if err != nil {
		return r.viewErr(err)
	}
	oldPieces := 0
	if old != nil {
		if len(old) != codeHeaderSize {
			return r.viewErr(fmt.Errorf("%w: code header of %v", ErrCorruptState, a))
		}
		oldPieces = int(binary.BigEndian.Uint16(old[36:]))
	}
	hash := prog.CodeHash()
	hdr := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(hash[:], uint32(len(code))), uint16(pieces))
	if err := r.viewErr(r.ov.Set(codeReg(a), hdr)); err != nil {
		return err
	}
	for i := range max(pieces, oldPieces) {
		var piece []byte // past the new code: the old code's pieces go
		if i < pieces {
			piece = code[i*codePiece : min(len(code), (i+1)*codePiece)]
		}
		if err := r.viewErr(r.ov.Set(codePieceReg(a, i), piece)); err != nil {
			return err
		}
	}
	return r.emit(EventDeployed, append(append([]byte(nil), a[:]...), hash[:]...))
}

// program loads the program deployed at a. Its code registers are read
// every time, even when the compiled program is cached: a verifier
// re-executing the chunk gets the code from the data pack, which holds
// exactly the registers read.
func (r *txRun) program(a account.Address, charge func(uint64) error) (*wasm.Program, error) {
	hdr, err := r.ov.Get(codeReg(a))
	if err != nil {
		return nil, r.viewErr(err)
	}
	if hdr == nil {
		return nil, fmt.Errorf("%w at %v", ErrNoProgram, a)
	}
	if len(hdr) != codeHeaderSize {
		return nil, r.viewErr(fmt.Errorf("%w: code header of %v", ErrCorruptState, a))
	}
	hash := [32]byte(hdr[:32])
	size := int(binary.BigEndian.Uint32(hdr[32:]))
	pieces := int(binary.BigEndian.Uint16(hdr[36:]))
	if err := charge(GasCall + uint64(pieces)*GasRead); err != nil {
		return nil, err
	}
	code := make([]byte, 0, size)
	for i := range pieces {
		p, err := r.ov.Get(codePieceReg(a, i))
		if err != nil {
			return nil, r.viewErr(err)
		}
		code = append(code, p...)
	}
	if prog, ok := r.vm.progs.get(hash); ok {
		return prog, nil
	}
	if len(code) != size || sha256.Sum256(code) != hash {
		return nil, r.viewErr(fmt.Errorf("%w: the code of %v does not match its hash", ErrCorruptState, a))
	}
	prog, err := r.vm.compile(code)
	if err != nil {
		// It compiled when deployed; the same code under the same limits
		// compiles again.
		return nil, r.viewErr(fmt.Errorf("%w: deployed code of %v no longer compiles: %v", ErrCorruptState, a, err))
	}
	return prog, nil
}

// compile validates and instruments code under the protocol's limits and
// caches the program by its hash. Every refusal is ErrInvalidProgram.
func (vm *VM) compile(code []byte) (*wasm.Program, error) {
	hash := sha256.Sum256(code)
	if p, ok := vm.progs.get(hash); ok {
		return p, nil
	}
	p, err := wasm.Compile(code, vm.rt.Imports(), vm.limits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProgram, err)
	}
	vm.progs.put(hash, p)
	return p, nil
}

// callTop runs the function a transaction's Call names, with the
// transaction's authorizers' authority.
func (r *txRun) callTop(op transaction.Call) error {
	_, err := r.invoke(context.Background(), op.Program, op.Function, op.Args, nil, true, r.m.charge)
	return err
}

// invoke runs function of the program at a with args; caller is the
// calling program's address (nil at the top level), top whether the
// transaction's authority comes with it. It returns the callee's return
// data, and fails on any failure of the callee (there is no catching: a
// transaction is atomic). charge is where the gas of loading the program
// goes: the transaction's meter at the top level, the calling program's
// call when nested (its gas counter is the live one).
func (r *txRun) invoke(ctx context.Context, a account.Address, function string, args [][]byte, caller *account.Address, top bool, charge func(uint64) error) ([]byte, error) {
	prog, err := r.program(a, charge)
	if err != nil {
		return nil, err
	}
	if sig, ok := prog.Function(function); !ok || len(sig.Params) != 0 || len(sig.Results) != 0 {
		return nil, fmt.Errorf("%w: %v exports no function %q taking and returning nothing", ErrProgram, a, function)
	}
	env := &callEnv{run: r, self: a, caller: caller, top: top, args: args}
	res, err := r.vm.rt.Call(ctx, prog, function, nil, r.m.remaining(), env)
	if _, nested := wasm.CallFromContext(ctx); !nested {
		// Nested calls are charged to their caller's call by the runtime.
		if cerr := r.m.charge(res.GasUsed); cerr != nil && err == nil {
			err = cerr
		}
	}
	if r.fatal != nil {
		return nil, r.fatal
	}
	if err != nil {
		return nil, programErr(a, function, err)
	}
	return env.ret, nil
}

// programErr names a program's failure: out of gas, or ErrProgram with
// the reason (a trap, an abort, a call too deep, a rule broken).
func programErr(a account.Address, function string, err error) error {
	switch {
	case errors.Is(err, ErrOutOfGas), errors.Is(err, ErrProgram), errors.Is(err, ErrNoProgram),
		errors.Is(err, ErrInsufficientBalance), errors.Is(err, ErrNoAccount):
		return ownErr(err)
	case errors.Is(err, wasm.ErrOutOfGas):
		return fmt.Errorf("%w (in %v.%s)", ErrOutOfGas, a, function)
	case errors.Is(err, wasm.ErrTrap):
		return fmt.Errorf("%w: %v.%s trapped: %s", ErrProgram, a, function, wasm.TrapReason(err))
	default:
		return fmt.Errorf("%w: %v.%s: %v", ErrProgram, a, function, err)
	}
}

// ownErr is a VM error a host function returned, without the runtime's
// wrapping around it ("wasm: host function failed: ..."): the outcome
// reads "program failed: ... aborted: ...". The wrapped chain is kept for
// errors.Is.
func ownErr(err error) error {
	msg := err.Error()
	for _, own := range []error{ErrProgram, ErrOutOfGas, ErrNoProgram, ErrInsufficientBalance, ErrNoAccount} {
		if i := strings.Index(msg, own.Error()); i > 0 && errors.Is(err, own) {
			return &trimmed{msg: msg[i:], err: err}
		}
	}
	return err
}

type trimmed struct {
	msg string
	err error
}

func (t *trimmed) Error() string { return t.msg }
func (t *trimmed) Unwrap() error { return t.err }

// programCache keeps compiled programs by code hash, at most max of them
// (the oldest inserted goes first).
type programCache struct {
	mu    sync.Mutex
	max   int
	byKey map[[32]byte]*wasm.Program
	order [][32]byte
}

func newProgramCache(max int) *programCache {
	if max <= 0 {
		max = wasm.DefaultCacheSize
	}
	return &programCache{max: max, byKey: map[[32]byte]*wasm.Program{}}
}

func (c *programCache) get(h [32]byte) (*wasm.Program, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.byKey[h]
	return p, ok
}

func (c *programCache) put(h [32]byte, p *wasm.Program) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[h]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.byKey[h] = p
	c.order = append(c.order, h)
}

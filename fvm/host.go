package fvm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/wasm"
)

// callEnv is what one program call's host functions act for: the
// transaction, the program's own account, the calling program (nil at
// the top level), whether the transaction's authority came with the call
// (only the function a transaction calls gets it: a program it calls
// does not act for the transaction's signers), the arguments, and the
// return data set so far.
type callEnv struct {
	run    *txRun
	self   account.Address
	caller *account.Address
	top    bool
	args   [][]byte
	ret    []byte
}

// Bounds of what crosses the host boundary.
const (
	maxReturn     = state.MaxValueSize // return data of one call
	maxRandom     = 4096               // bytes of randomness per random call
	maxEventType  = 64
	maxCallArgs   = 64 << 10 // encoded arguments of a nested call
	maxAbortBytes = 1024
)

var (
	i32 = wasm.I32
	i64 = wasm.I64
)

func sig(params []wasm.ValueType, results ...wasm.ValueType) wasm.Signature {
	return wasm.Signature{Params: params, Results: results}
}

func p(ts ...wasm.ValueType) []wasm.ValueType { return ts }

// hostFuncs is the "env" module every program may import (docs/programs.md
// lists them with their rules). Pointers and lengths are i32 offsets into
// the calling program's memory; a length past the memory is a trap
// (wasm.ErrMemoryAccess), a value past a bound fails the transaction.
func hostFuncs() []wasm.HostFunc {
	return []wasm.HostFunc{
		{Name: "arg_count", Signature: sig(nil, i32), Fn: withEnv(hostArgCount)},
		{Name: "arg_len", Signature: sig(p(i32), i32), Fn: withEnv(hostArgLen)},
		{Name: "arg", Signature: sig(p(i32, i32), i32), Fn: withEnv(hostArg)},
		{Name: "ret", Signature: sig(p(i32, i32)), Fn: withEnv(hostRet)},
		{Name: "abort", Signature: sig(p(i32, i32)), Fn: withEnv(hostAbort)},
		{Name: "get", Signature: sig(p(i32, i32, i32, i32), i32), Fn: withEnv(hostGet)},
		{Name: "set", Signature: sig(p(i32, i32, i32, i32)), Fn: withEnv(hostSet)},
		{Name: "del", Signature: sig(p(i32, i32)), Fn: withEnv(hostDel)},
		{Name: "pub_get", Signature: sig(p(i32, i32, i32, i32, i32), i32), Fn: withEnv(hostPubGet)},
		{Name: "pub_set", Signature: sig(p(i32, i32, i32, i32)), Fn: withEnv(hostPubSet)},
		{Name: "auth_count", Signature: sig(nil, i32), Fn: withEnv(hostAuthCount)},
		{Name: "auth", Signature: sig(p(i32, i32), i32), Fn: withEnv(hostAuth)},
		{Name: "auth_get", Signature: sig(p(i32, i32, i32, i32, i32), i32), Fn: withEnv(hostAuthGet)},
		{Name: "auth_set", Signature: sig(p(i32, i32, i32, i32, i32), i32), Fn: withEnv(hostAuthSet)},
		{Name: "self", Signature: sig(p(i32)), Fn: withEnv(hostSelf)},
		{Name: "caller", Signature: sig(p(i32), i32), Fn: withEnv(hostCaller)},
		{Name: "emit", Signature: sig(p(i32, i32, i32, i32)), Fn: withEnv(hostEmit)},
		{Name: "call", Signature: sig(p(i32, i32, i32, i32, i32, i32, i32), i32), Fn: withEnv(hostCall)},
		{Name: "balance", Signature: sig(p(i32), i64), Fn: withEnv(hostBalance)},
		{Name: "transfer", Signature: sig(p(i32, i64), i32), Fn: withEnv(hostTransfer)},
		{Name: "debit", Signature: sig(p(i32, i64), i32), Fn: withEnv(hostDebit)},
		{Name: "grant", Signature: sig(p(i32, i32, i64), i32), Fn: withEnv(hostGrant)},
		{Name: "random", Signature: sig(p(i32, i32)), Fn: withEnv(hostRandom)},
		{Name: "height", Signature: sig(nil, i64), Fn: withEnv(hostHeight)},
	}
}

// withEnv gives a host function the call's environment.
func withEnv(fn func(ctx context.Context, e *callEnv, c *wasm.Call, stack []uint64) error) func(context.Context, *wasm.Call, []uint64) error {
	return func(ctx context.Context, c *wasm.Call, stack []uint64) error {
		e, ok := c.Env().(*callEnv)
		if !ok {
			return fmt.Errorf("%w: host function outside a transaction", wasm.ErrHost)
		}
		return fn(ctx, e, c, stack)
	}
}

func setI32(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// bytesAt reads n bytes at ptr, refusing n past max (the transaction's
// fault) before touching memory.
func bytesAt(c *wasm.Call, ptr, n uint64, max int, what string) ([]byte, error) {
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrProgram, what, n, max)
	}
	return c.Read(uint32(ptr), uint32(n))
}

func addrAt(c *wasm.Call, ptr uint64) (account.Address, error) {
	b, err := c.Read(uint32(ptr), 8)
	if err != nil {
		return account.Address{}, err
	}
	return account.Address(b), nil
}

// put copies value (its first cap bytes) to out and returns its length.
func put(c *wasm.Call, out, cap uint64, value []byte) error {
	n := min(uint64(len(value)), cap)
	if n == 0 {
		return nil
	}
	return c.Write(uint32(out), value[:n])
}

func hostArgCount(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	setI32(stack, int32(len(e.args)))
	return nil
}

func hostArgLen(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	i := uint32(stack[0])
	if int(i) >= len(e.args) {
		setI32(stack, -1)
		return nil
	}
	setI32(stack, int32(len(e.args[i])))
	return nil
}

func hostArg(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	i := uint32(stack[0])
	if int(i) >= len(e.args) {
		setI32(stack, -1)
		return nil
	}
	if err := c.Charge(GasReadByte * uint64(len(e.args[i]))); err != nil {
		return err
	}
	if err := c.Write(uint32(stack[1]), e.args[i]); err != nil {
		return err
	}
	setI32(stack, int32(len(e.args[i])))
	return nil
}

func hostRet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	b, err := bytesAt(c, stack[0], uint64(uint32(stack[1])), maxReturn, "return data")
	if err != nil {
		return err
	}
	if err := c.Charge(GasReadByte * uint64(len(b))); err != nil {
		return err
	}
	e.ret = b
	return nil
}

func hostAbort(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	msg, err := bytesAt(c, stack[0], uint64(uint32(stack[1])), maxAbortBytes, "abort message")
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %v aborted: %q", ErrProgram, e.self, msg)
}

// userKey reads a storage key of a program.
func userKey(c *wasm.Call, ptr, n uint64) ([]byte, error) {
	k, err := bytesAt(c, ptr, n, maxUserKey, "storage key")
	if err == nil && len(k) == 0 {
		err = fmt.Errorf("%w: empty storage key", ErrProgram)
	}
	return k, err
}

// load reads register id for a program: gas, then the overlay.
func (e *callEnv) load(c *wasm.Call, id state.RegisterID) ([]byte, error) {
	if err := c.Charge(GasRead); err != nil {
		return nil, err
	}
	v, err := e.run.ov.Get(id)
	if err != nil {
		return nil, e.run.viewErr(err)
	}
	return v, c.Charge(GasReadByte * uint64(len(v)))
}

// store writes register id for a program (nil or empty: delete).
func (e *callEnv) store(c *wasm.Call, id state.RegisterID, v []byte) error {
	if len(v) > state.MaxValueSize {
		return fmt.Errorf("%w: a value of %d bytes (at most %d)", ErrProgram, len(v), state.MaxValueSize)
	}
	if err := c.Charge(GasWrite + GasWriteByte*uint64(len(v))); err != nil {
		return err
	}
	if len(v) == 0 {
		v = nil
	}
	return e.run.viewErr(e.run.ov.Set(id, v))
}

// getInto is the shared body of the get functions: read id, copy up to
// cap bytes to out, answer the length (-1: absent).
func (e *callEnv) getInto(c *wasm.Call, stack []uint64, id state.RegisterID, out, cap uint64) error {
	v, err := e.load(c, id)
	if err != nil {
		return err
	}
	if v == nil {
		setI32(stack, -1)
		return nil
	}
	if err := put(c, out, cap, v); err != nil {
		return err
	}
	setI32(stack, int32(len(v)))
	return nil
}

func hostGet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	k, err := userKey(c, stack[0], uint64(uint32(stack[1])))
	if err != nil {
		return err
	}
	return e.getInto(c, stack, privateReg(e.self, k), uint64(uint32(stack[2])), uint64(uint32(stack[3])))
}

func hostSet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	k, err := userKey(c, stack[0], uint64(uint32(stack[1])))
	if err != nil {
		return err
	}
	v, err := bytesAt(c, uint64(uint32(stack[2])), uint64(uint32(stack[3])), state.MaxValueSize, "value")
	if err != nil {
		return err
	}
	return e.store(c, privateReg(e.self, k), v)
}

func hostDel(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	k, err := userKey(c, stack[0], uint64(uint32(stack[1])))
	if err != nil {
		return err
	}
	return e.store(c, privateReg(e.self, k), nil)
}

func hostPubGet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, err := addrAt(c, uint64(uint32(stack[0])))
	if err != nil {
		return err
	}
	k, err := userKey(c, uint64(uint32(stack[1])), uint64(uint32(stack[2])))
	if err != nil {
		return err
	}
	return e.getInto(c, stack, publicReg(a, k), uint64(uint32(stack[3])), uint64(uint32(stack[4])))
}

func hostPubSet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	k, err := userKey(c, uint64(uint32(stack[0])), uint64(uint32(stack[1])))
	if err != nil {
		return err
	}
	v, err := bytesAt(c, uint64(uint32(stack[2])), uint64(uint32(stack[3])), state.MaxValueSize, "value")
	if err != nil {
		return err
	}
	return e.store(c, publicReg(e.self, k), v)
}

// authorizer is the transaction's authorizer i when the call carries the
// transaction's authority.
func (e *callEnv) authorizer(i uint32) (account.Address, bool) {
	auths := e.run.tx.Authorizers
	if !e.top || int(i) >= len(auths) {
		return account.Address{}, false
	}
	return auths[i], true
}

func hostAuthCount(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	n := 0
	if e.top {
		n = len(e.run.tx.Authorizers)
	}
	setI32(stack, int32(n))
	return nil
}

func hostAuth(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, ok := e.authorizer(uint32(stack[0]))
	if !ok {
		setI32(stack, -1)
		return nil
	}
	if err := c.Write(uint32(stack[1]), a[:]); err != nil {
		return err
	}
	setI32(stack, 0)
	return nil
}

func hostAuthGet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, ok := e.authorizer(uint32(stack[0]))
	if !ok {
		return fmt.Errorf("%w: %v reads the storage of authorizer %d, which it does not act for", ErrProgram, e.self, uint32(stack[0]))
	}
	k, err := userKey(c, uint64(uint32(stack[1])), uint64(uint32(stack[2])))
	if err != nil {
		return err
	}
	return e.getInto(c, stack, privateReg(a, k), uint64(uint32(stack[3])), uint64(uint32(stack[4])))
}

func hostAuthSet(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, ok := e.authorizer(uint32(stack[0]))
	if !ok {
		return fmt.Errorf("%w: %v writes the storage of authorizer %d, which it does not act for", ErrProgram, e.self, uint32(stack[0]))
	}
	k, err := userKey(c, uint64(uint32(stack[1])), uint64(uint32(stack[2])))
	if err != nil {
		return err
	}
	v, err := bytesAt(c, uint64(uint32(stack[3])), uint64(uint32(stack[4])), state.MaxValueSize, "value")
	if err != nil {
		return err
	}
	if err := e.store(c, privateReg(a, k), v); err != nil {
		return err
	}
	setI32(stack, 0)
	return nil
}

func hostSelf(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	return c.Write(uint32(stack[0]), e.self[:])
}

func hostCaller(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	if e.caller == nil {
		setI32(stack, 0)
		return nil
	}
	if err := c.Write(uint32(stack[0]), e.caller[:]); err != nil {
		return err
	}
	setI32(stack, 1)
	return nil
}

func hostEmit(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	t, err := bytesAt(c, uint64(uint32(stack[0])), uint64(uint32(stack[1])), maxEventType, "event type")
	if err != nil {
		return err
	}
	d, err := bytesAt(c, uint64(uint32(stack[2])), uint64(uint32(stack[3])), state.MaxValueSize, "event payload")
	if err != nil {
		return err
	}
	return e.run.emitCharged(fmt.Sprintf("%x.%s", e.self[:], t), d, c.Charge)
}

// hostCall calls another program: call(addr, fn, fnlen, args, argslen,
// out, cap) runs fn of the program at addr with the arguments (encoded
// as u32 count, then u32 length and bytes each, little-endian: C's
// layout) and answers the length of its return data, of which the first
// cap bytes are copied to out. A failure of the callee fails the
// transaction.
func hostCall(ctx context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, err := addrAt(c, uint64(uint32(stack[0])))
	if err != nil {
		return err
	}
	fn, err := bytesAt(c, uint64(uint32(stack[1])), uint64(uint32(stack[2])), 64, "function name")
	if err != nil {
		return err
	}
	raw, err := bytesAt(c, uint64(uint32(stack[3])), uint64(uint32(stack[4])), maxCallArgs, "call arguments")
	if err != nil {
		return err
	}
	args, err := decodeCallArgs(raw)
	if err != nil {
		return err
	}
	self := e.self
	ret, err := e.run.invoke(ctx, a, string(fn), args, &self, false, c.Charge)
	if err != nil {
		return err
	}
	if err := put(c, uint64(uint32(stack[5])), uint64(uint32(stack[6])), ret); err != nil {
		return err
	}
	setI32(stack, int32(len(ret)))
	return nil
}

// decodeCallArgs reads a nested call's arguments.
func decodeCallArgs(b []byte) ([][]byte, error) {
	bad := func(why string) error { return fmt.Errorf("%w: call arguments: %s", ErrProgram, why) }
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, bad("no count")
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if n > 32 {
		return nil, bad(fmt.Sprintf("%d arguments (at most 32)", n))
	}
	args := make([][]byte, 0, n)
	for range n {
		if len(b) < 4 {
			return nil, bad("truncated")
		}
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return nil, bad("truncated")
		}
		args = append(args, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, bad("trailing bytes")
	}
	return args, nil
}

func hostBalance(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, err := addrAt(c, uint64(uint32(stack[0])))
	if err != nil {
		return err
	}
	if err := c.Charge(GasRead); err != nil {
		return err
	}
	b, err := balance(e.run.ov, a)
	if err != nil {
		return e.run.viewErr(err)
	}
	stack[0] = b
	return nil
}

// moveFor moves amount between accounts for a program: 0 done, -1 the
// source holds too little or the target does not exist.
func (e *callEnv) moveFor(c *wasm.Call, stack []uint64, from, to account.Address, amount uint64) error {
	if err := c.Charge(2*GasWrite + 16*GasWriteByte); err != nil {
		return err
	}
	err := e.run.move(from, to, amount)
	switch {
	case err == nil:
		setI32(stack, 0)
		p := append(append([]byte(nil), from[:]...), to[:]...)
		return e.run.emitCharged(EventTransfer, binary.BigEndian.AppendUint64(p, amount), c.Charge)
	case e.run.fatal != nil:
		return err
	default:
		setI32(stack, -1)
		return nil
	}
}

// hostTransfer moves native tokens from the program's own account.
func hostTransfer(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	to, err := addrAt(c, uint64(uint32(stack[0])))
	if err != nil {
		return err
	}
	return e.moveFor(c, stack, e.self, to, stack[1])
}

// hostDebit moves native tokens from another account to the program's:
// from an authorizer of the transaction (the top-level call only), or
// within the allowance the account granted this program ("$cap/..."),
// which it consumes. -2: neither.
func hostDebit(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	from, err := addrAt(c, uint64(uint32(stack[0])))
	if err != nil {
		return err
	}
	amount := stack[1]
	if e.top && e.isAuthorizer(from) {
		return e.moveFor(c, stack, from, e.self, amount)
	}
	capID := capReg(from, e.self)
	raw, err := e.load(c, capID)
	if err != nil {
		return err
	}
	allowance, err := u64(raw)
	if err != nil {
		return e.run.viewErr(err)
	}
	if allowance < amount {
		setI32(stack, -2)
		return nil
	}
	if err := e.moveFor(c, stack, from, e.self, amount); err != nil || int32(stack[0]) != 0 {
		return err
	}
	left := u64Bytes(allowance - amount)
	if allowance == amount {
		left = nil
	}
	if err := e.store(c, capID, left); err != nil {
		return err
	}
	setI32(stack, 0)
	return nil
}

func (e *callEnv) isAuthorizer(a account.Address) bool {
	for _, x := range e.run.tx.Authorizers {
		if x == a {
			return true
		}
	}
	return false
}

// hostGrant sets the allowance authorizer i grants program to debit it
// (0 revokes): grant(i, program, amount). Top-level calls only: the
// authorizer signed this transaction.
func hostGrant(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	a, ok := e.authorizer(uint32(stack[0]))
	if !ok {
		return fmt.Errorf("%w: %v grants for authorizer %d, which it does not act for", ErrProgram, e.self, uint32(stack[0]))
	}
	prog, err := addrAt(c, uint64(uint32(stack[1])))
	if err != nil {
		return err
	}
	var v []byte
	if stack[2] != 0 {
		v = u64Bytes(stack[2])
	}
	if err := e.store(c, capReg(a, prog), v); err != nil {
		return err
	}
	setI32(stack, 0)
	return nil
}

// hostRandom fills len bytes at out from the transaction's random
// stream: SHA-256 in counter mode over a seed of the block ID and the
// transaction's place (TxContext). Until the random beacon exists this
// is predictable by whoever knows the block: programs must not use it
// for value at stake against the block's proposer (docs/programs.md).
func hostRandom(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	n := uint64(uint32(stack[1]))
	if n > maxRandom {
		return fmt.Errorf("%w: %d random bytes (at most %d)", ErrProgram, n, maxRandom)
	}
	if err := c.Charge(50 + n); err != nil {
		return err
	}
	r := e.run
	seed := sha256.New()
	seed.Write([]byte("floe-random-v1"))
	seed.Write(r.tc.Block[:])
	seed.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, r.tc.Chunk), r.tc.Pos))
	s := seed.Sum(nil)
	out := make([]byte, 0, n+32)
	for uint64(len(out)) < n {
		blk := sha256.Sum256(binary.BigEndian.AppendUint64(append([]byte(nil), s...), r.randomCounter))
		r.randomCounter++
		out = append(out, blk[:]...)
	}
	return c.Write(uint32(stack[0]), out[:n])
}

func hostHeight(_ context.Context, e *callEnv, c *wasm.Call, stack []uint64) error {
	stack[0] = e.run.tc.Height
	return nil
}

package wasm

import (
	"context"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero/api"
)

// HostFunc is a function the host offers programs as import "env".Name.
// Fn runs with the per-call handle of the program that called it; params
// are in stack[:len(Params)] and Fn writes results to stack[:len(Results)]
// (i32 values in the low 32 bits). A non-nil error ends the whole call with
// that error: return the error of Call.Charge or Call.Read as is to end it
// with ErrOutOfGas or ErrMemoryAccess.
type HostFunc struct {
	Name string
	Signature
	Fn func(ctx context.Context, c *Call, stack []uint64) error
}

// Call is the handle of one running call, given to host functions. It is
// valid only while the host function runs, and only on its goroutine.
type Call struct {
	rt      *Runtime
	prog    *Program
	mod     api.Module
	gas     api.MutableGlobal
	depth   api.MutableGlobal
	env     any
	hostErr error // the first error a host function returned
}

type callKey struct{}

// CallFromContext returns the handle of the call running the host function
// that received ctx.
func CallFromContext(ctx context.Context) (*Call, bool) {
	c, ok := ctx.Value(callKey{}).(*Call)
	return c, ok
}

// Env returns the value the caller passed to Runtime.Call.
func (c *Call) Env() any { return c.env }

// Program returns the program being run.
func (c *Call) Program() *Program { return c.prog }

// GasLeft returns the gas the call has left.
func (c *Call) GasLeft() uint64 {
	left := int64(c.gas.Get())
	if left < 0 {
		return 0
	}
	return uint64(left)
}

// Charge takes gas from the call. If less is left, the counter is set
// negative (the program traps at its next block even if the error is
// ignored) and ErrOutOfGas is returned.
func (c *Call) Charge(gas uint64) error {
	left := int64(c.gas.Get())
	if left < 0 || gas > uint64(left) {
		c.gas.Set(math.MaxUint64) // -1
		return fmt.Errorf("%w: host charged %d with %d left", ErrOutOfGas, gas, max(left, 0))
	}
	c.gas.Set(uint64(left - int64(gas)))
	return nil
}

// depthNow returns the current call depth.
func (c *Call) depthNow() uint32 { return uint32(c.depth.Get()) }

// MemorySize returns the size of the caller's memory in bytes.
func (c *Call) MemorySize() uint32 { return c.mod.Memory().Size() }

// Read returns a copy of length bytes of the caller's memory at offset.
func (c *Call) Read(offset, length uint32) ([]byte, error) {
	b, ok := c.mod.Memory().Read(offset, length)
	if !ok {
		return nil, fmt.Errorf("%w: read [%d, +%d) of %d bytes", ErrMemoryAccess, offset, length, c.MemorySize())
	}
	return append([]byte(nil), b...), nil
}

// Write copies data into the caller's memory at offset.
func (c *Call) Write(offset uint32, data []byte) error {
	if uint64(len(data)) > math.MaxUint32 || !c.mod.Memory().Write(offset, data) {
		return fmt.Errorf("%w: write [%d, +%d) of %d bytes", ErrMemoryAccess, offset, len(data), c.MemorySize())
	}
	return nil
}

// hostAbort is the panic value a host function wrapper uses to stop the
// program; the real error is in Call.hostErr.
type hostAbort struct{ name string }

func (h hostAbort) Error() string { return "host function " + h.name + " failed" }

// wrap adapts a HostFunc to wazero: it finds the call handle, runs Fn, and
// on error records it and unwinds the program (wazero turns the panic into
// the call's error).
func (h HostFunc) wrap() api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		c, ok := CallFromContext(ctx)
		if !ok || c.mod != mod {
			panic(fmt.Errorf("%w: %s called outside Runtime.Call", ErrHost, h.Name))
		}
		if err := h.run(ctx, c, stack); err != nil {
			if c.hostErr == nil {
				c.hostErr = err
			}
			panic(hostAbort{name: h.Name})
		}
	}
}

// run calls Fn, turning a panic of the host code into ErrHost.
func (h HostFunc) run(ctx context.Context, c *Call, stack []uint64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s panicked: %v", ErrHost, h.Name, p)
		}
	}()
	return h.Fn(ctx, c, stack)
}

func apiTypes(ts []ValueType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		if t == I64 {
			out[i] = api.ValueTypeI64
		} else {
			out[i] = api.ValueTypeI32
		}
	}
	return out
}

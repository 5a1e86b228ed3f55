package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Config configures a Runtime.
type Config struct {
	// Interpreter forces wazero's interpreter. Otherwise the compiler is
	// used where wazero supports it (amd64, arm64) and the interpreter
	// elsewhere; results and gas are identical either way.
	Interpreter bool
	// CacheSize bounds the number of compiled modules kept (LRU).
	// Zero means DefaultCacheSize.
	CacheSize int
	// IgnoreCancel stops a canceled context from interrupting a running
	// call (it is still checked before each call starts); gas alone bounds
	// the run. wazero implements interruption by leaving compiled code at
	// every loop iteration and function entry to check the module's state,
	// which makes tight compiled loops many times slower (see
	// docs/wasm.md); with gas metering in place the VM may prefer to trade
	// the safety net for speed.
	IgnoreCancel bool
}

// DefaultCacheSize is the number of compiled modules a Runtime keeps unless
// configured otherwise.
const DefaultCacheSize = 128

// Runtime runs Programs. It is safe for concurrent use: every call gets its
// own instance of the program, and compiled modules are shared through a
// bounded cache.
type Runtime struct {
	wz      wazero.Runtime
	imports []Import
	cache   *moduleCache
	// modCfg instantiates programs anonymously (so instances of the same
	// program can coexist) and runs no start function (none is allowed,
	// and wazero would otherwise call an export named "_start").
	modCfg wazero.ModuleConfig
}

// Result is what a successful call returns.
type Result struct {
	// Values are the function's results (i32 values zero-extended).
	Values []uint64
	// GasUsed is the gas the call spent, nested calls included.
	GasUsed uint64
}

// NewRuntime starts a runtime whose programs may import the given host
// functions from module "env". Nothing else exists for them: no WASI, no
// clock, filesystem, network or randomness.
func NewRuntime(ctx context.Context, cfg Config, hosts []HostFunc) (*Runtime, error) {
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("%w: CacheSize %d", ErrLimits, cfg.CacheSize)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	imports := make([]Import, len(hosts))
	for i, h := range hosts {
		if h.Fn == nil {
			return nil, fmt.Errorf("%w: host function %q has no Fn", ErrLimits, h.Name)
		}
		imports[i] = Import{Name: h.Name, Signature: h.Signature}
	}
	if err := validateImports(imports); err != nil {
		return nil, err
	}
	wcfg := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		wcfg = wazero.NewRuntimeConfigInterpreter()
	}
	wcfg = wcfg.WithCoreFeatures(coreFeatures).WithCloseOnContextDone(!cfg.IgnoreCancel)
	wz := wazero.NewRuntimeWithConfig(ctx, wcfg)
	b := wz.NewHostModuleBuilder("env")
	for _, h := range hosts {
		b.NewFunctionBuilder().
			WithGoModuleFunction(h.wrap(), apiTypes(h.Params), apiTypes(h.Results)).
			WithName(h.Name).
			Export(h.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		_ = wz.Close(ctx)
		return nil, fmt.Errorf("%w: host module: %v", ErrLimits, err)
	}
	return &Runtime{
		wz:      wz,
		imports: imports,
		cache:   newModuleCache(cfg.CacheSize),
		modCfg:  wazero.NewModuleConfig().WithName("").WithStartFunctions(),
	}, nil
}

// Close releases the runtime and every compiled module. No call may be
// running.
func (r *Runtime) Close(ctx context.Context) error { return r.wz.Close(ctx) }

// Imports returns the host functions programs may import, for Compile.
func (r *Runtime) Imports() []Import { return append([]Import(nil), r.imports...) }

// Compile is the package's Compile against this runtime's host functions;
// the wazero compilation that checks the module is kept in the cache, so
// the first call does not compile again.
func (r *Runtime) Compile(ctx context.Context, code []byte, lim Limits) (*Program, error) {
	p, err := prepare(code, r.imports, lim)
	if err != nil {
		return nil, err
	}
	e, err := r.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	r.cache.release(ctx, e)
	return p, nil
}

// Cached returns the number of compiled modules in the cache.
func (r *Runtime) Cached() int { return r.cache.len() }

// acquire returns the compiled module of p, compiling it on a miss.
func (r *Runtime) acquire(ctx context.Context, p *Program) (*cacheEntry, error) {
	if e := r.cache.get(p.key); e != nil {
		return e, nil
	}
	// A program compiled against other host functions than this
	// runtime's would fail to instantiate; say why.
	for _, im := range p.imports {
		ok := false
		for _, h := range r.imports {
			ok = ok || (h.Name == im.Name && h.Signature.Equal(im.Signature))
		}
		if !ok {
			return nil, fmt.Errorf("%w: env.%s%s is not a host function of this runtime", ErrImport, im.Name, im.Signature)
		}
	}
	cm, err := r.wz.CompileModule(ctx, p.instrumented)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return r.cache.put(ctx, p.key, cm), nil
}

// Call runs an exported function of prog in a fresh instance with at most
// gasLimit gas (capped at math.MaxInt64). env is handed to host functions
// through Call.Env.
//
// When ctx carries a running call (a host function calling another
// program), the nested call is part of it: its gas limit is capped at the
// caller's remaining gas and what it uses is charged to the caller, and it
// starts at the caller's call depth plus one.
//
// Every call first pays prog.InstanceCost() for its fresh instance.
//
// Errors wrap ErrOutOfGas, ErrCallDepth, ErrTrap, ErrNoFunction,
// ErrMemoryAccess, ErrCanceled or ErrHost (or a host function's own error).
// GasUsed is set on errors too; out of gas it equals the limit.
func (r *Runtime) Call(ctx context.Context, prog *Program, function string, args []uint64, gasLimit uint64, env any) (res Result, err error) {
	defer func() {
		// wazero recovers panics of wasm code and host functions; this is
		// the last line so that nothing panics out of the package.
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: panic: %v", ErrHost, p)
		}
	}()
	if prog == nil {
		return Result{}, fmt.Errorf("%w: nil program", ErrNoFunction)
	}
	sig, ok := prog.exports[function]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q is not an exported function", ErrNoFunction, function)
	}
	if len(args) != len(sig.Params) {
		return Result{}, fmt.Errorf("%w: %s%s takes %d arguments, got %d", ErrNoFunction, function, sig, len(sig.Params), len(args))
	}
	for i, t := range sig.Params {
		if t == I32 && args[i] > math.MaxUint32 {
			return Result{}, fmt.Errorf("%w: %s argument %d does not fit i32", ErrNoFunction, function, i)
		}
	}
	gasLimit = min(gasLimit, math.MaxInt64)
	var depth uint32
	if parent, ok := CallFromContext(ctx); ok {
		gasLimit = min(gasLimit, parent.GasLeft())
		depth = parent.depthNow() + 1
		defer func() {
			if cerr := parent.Charge(res.GasUsed); cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	if depth > prog.limits.MaxCallDepth {
		return Result{}, fmt.Errorf("%w: nested call at depth %d, limit %d", ErrCallDepth, depth, prog.limits.MaxCallDepth)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrCanceled, err)
	}
	if cost := prog.InstanceCost(); cost > gasLimit {
		return Result{GasUsed: gasLimit}, fmt.Errorf("%w: instance costs %d, limit %d", ErrOutOfGas, cost, gasLimit)
	}
	e, err := r.acquire(ctx, prog)
	if err != nil {
		return Result{}, err
	}
	defer r.cache.release(ctx, e)
	mod, err := r.wz.InstantiateModule(ctx, e.compiled, r.modCfg)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrCanceled, cerr)
		}
		return Result{}, fmt.Errorf("%w: instantiate: %v", ErrTrap, err)
	}
	defer mod.Close(ctx)
	gas, ok1 := mod.ExportedGlobal(exportGas).(api.MutableGlobal)
	dep, ok2 := mod.ExportedGlobal(exportDepth).(api.MutableGlobal)
	fn := mod.ExportedFunction(function)
	if !ok1 || !ok2 || fn == nil {
		return Result{}, fmt.Errorf("%w: instrumented module lacks its metering exports", ErrHost)
	}
	gas.Set(gasLimit - prog.InstanceCost())
	dep.Set(uint64(depth))
	c := &Call{rt: r, prog: prog, mod: mod, gas: gas, depth: dep, env: env}
	stack := make([]uint64, max(len(sig.Params), len(sig.Results)))
	copy(stack, args)
	callErr := fn.CallWithStack(context.WithValue(ctx, callKey{}, c), stack)

	left := int64(gas.Get())
	res.GasUsed = gasLimit - uint64(max(left, 0))
	if callErr == nil {
		res.Values = stack[:len(sig.Results)]
		return res, nil
	}
	return res, r.classify(ctx, c, prog, left, &res, gasLimit, callErr)
}

// classify turns a failed call into the package's errors. The checks are
// ordered so that the answer depends only on the program, its input and
// its gas: gas and depth are read from the instance's own counters.
func (r *Runtime) classify(ctx context.Context, c *Call, prog *Program, left int64, res *Result, gasLimit uint64, callErr error) error {
	// wazero reports an interruption by a done context as an exit error
	// (the module was closed under the running code). A call that ended
	// on its own keeps its deterministic outcome even if ctx is done by now.
	var exit *sys.ExitError
	if errors.As(callErr, &exit) {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", ErrCanceled, cerr)
		}
		return fmt.Errorf("%w: module exited with code %d", ErrCanceled, exit.ExitCode())
	}
	if left < 0 {
		res.GasUsed = gasLimit
		if c.hostErr != nil && errors.Is(c.hostErr, ErrOutOfGas) {
			return c.hostErr
		}
		return fmt.Errorf("%w: limit %d", ErrOutOfGas, gasLimit)
	}
	if c.hostErr != nil {
		for _, known := range []error{ErrOutOfGas, ErrCallDepth, ErrTrap, ErrNoFunction, ErrMemoryAccess, ErrCanceled, ErrHost} {
			if errors.Is(c.hostErr, known) {
				return c.hostErr
			}
		}
		return fmt.Errorf("%w: %w", ErrHost, c.hostErr)
	}
	if errors.Is(callErr, ErrHost) {
		return fmt.Errorf("%w", callErr)
	}
	if c.depthNow() > prog.limits.MaxCallDepth {
		return fmt.Errorf("%w: limit %d", ErrCallDepth, prog.limits.MaxCallDepth)
	}
	return fmt.Errorf("%w: %s", ErrTrap, trapReason(callErr))
}

// trapReason extracts wazero's trap reason ("unreachable", "integer divide
// by zero", "out of bounds memory access", ...) from its error, which
// appends a stack trace after the first line.
func trapReason(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimPrefix(msg, "wasm error: ")
}

// TrapReason returns the engine's reason for an ErrTrap error, or "" if err
// is not a trap.
func TrapReason(err error) string {
	if !errors.Is(err, ErrTrap) {
		return ""
	}
	msg := err.Error()
	return strings.TrimPrefix(msg, ErrTrap.Error()+": ")
}

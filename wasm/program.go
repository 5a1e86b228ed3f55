package wasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Program is a validated, instrumented module ready to run. It is
// immutable and safe to share between goroutines.
type Program struct {
	codeHash     [32]byte
	key          [32]byte // SHA-256 of the instrumented binary: the cache key
	instrumented []byte
	exports      map[string]Signature
	limits       Limits
	memPages     uint32   // initial memory pages
	imports      []Import // the host functions it imports
}

// CodeHash is the SHA-256 of the original module binary.
func (p *Program) CodeHash() [32]byte { return p.codeHash }

// Instrumented returns a copy of the metered module's binary.
func (p *Program) Instrumented() []byte { return append([]byte(nil), p.instrumented...) }

// Limits returns the limits the program was compiled under.
func (p *Program) Limits() Limits { return p.limits }

// InstanceCost is the gas every call pays before the program runs: its
// initial memory, which the engine allocates and zeroes for each fresh
// instance, at CostPerPage a page (as if grown).
func (p *Program) InstanceCost() uint64 { return uint64(p.memPages) * CostPerPage }

// Function returns the signature of an exported function.
func (p *Program) Function(name string) (Signature, bool) {
	s, ok := p.exports[name]
	return s, ok
}

// Functions returns the exported function names, sorted.
func (p *Program) Functions() []string {
	names := make([]string, 0, len(p.exports))
	for n := range p.exports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// coreFeatures is the instruction set floe programs may use: the MVP plus
// the sign-extension operators. Floats are MVP too, but the decoder refuses
// them before wazero sees the module.
const coreFeatures = api.CoreFeaturesV1 | api.CoreFeatureSignExtensionOps

// Compile validates a module against the allowed imports and the limits,
// instruments it for metering and checks the result with wazero. Every
// refusal wraps one of the package's sentinel errors. It is deterministic:
// the same code, imports and limits give the same Program everywhere.
func Compile(code []byte, imports []Import, lim Limits) (*Program, error) {
	p, err := prepare(code, imports, lim)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(coreFeatures))
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, p.instrumented)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	_ = cm.Close(ctx)
	return p, nil
}

// prepare is Compile without the wazero check: decode, validate,
// instrument.
func prepare(code []byte, imports []Import, lim Limits) (*Program, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	if err := validateImports(imports); err != nil {
		return nil, err
	}
	if len(code) > lim.MaxCodeBytes {
		return nil, fmt.Errorf("%w: %d code bytes, limit %d", ErrTooLarge, len(code), lim.MaxCodeBytes)
	}
	m, err := decode(code, imports, lim)
	if err != nil {
		return nil, err
	}
	out := instrument(m, lim)
	p := &Program{
		codeHash:     sha256.Sum256(code),
		key:          sha256.Sum256(out),
		instrumented: out,
		exports:      make(map[string]Signature),
		limits:       lim,
		memPages:     m.memMin,
	}
	for _, im := range m.imports {
		p.imports = append(p.imports, Import{Name: im.name, Signature: m.types[im.typeIdx]})
	}
	for _, e := range m.exports {
		// A re-exported import is a host function, callable only by the
		// program's own code (it needs the calling instance).
		if e.kind == kindFunc && e.index >= uint32(len(m.imports)) {
			sig, _ := m.funcType(e.index)
			p.exports[e.name] = sig
		}
	}
	return p, nil
}

// validateImports checks the host's list: unique non-empty names, integer
// types, at most one result.
func validateImports(imports []Import) error {
	seen := make(map[string]bool, len(imports))
	for _, im := range imports {
		if im.Name == "" || seen[im.Name] {
			return fmt.Errorf("%w: host function name %q empty or repeated", ErrLimits, im.Name)
		}
		seen[im.Name] = true
		if len(im.Results) > 1 {
			return fmt.Errorf("%w: host function %s has %d results", ErrLimits, im.Name, len(im.Results))
		}
		for _, t := range append(append([]ValueType(nil), im.Params...), im.Results...) {
			if t != I32 && t != I64 {
				return fmt.Errorf("%w: host function %s uses %s", ErrLimits, im.Name, t)
			}
		}
	}
	return nil
}

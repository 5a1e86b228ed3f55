package fvm

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/account"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/wasm"
)

// DefaultGasPrice is the native token units one gas unit costs.
const DefaultGasPrice = 1

// Config configures a VM. Chain and GasPrice are protocol: every node of
// a network must run the same; the rest are node settings.
type Config struct {
	// Chain is the main chain's ID: transactions are signed for it and
	// addresses are valid on it.
	Chain model.ChainID
	// GasPrice is what one gas unit costs in native token units
	// (0: DefaultGasPrice).
	GasPrice uint64
	// Interpreter runs programs on wazero's interpreter instead of its
	// compiler (same results and gas; tests compare the two).
	Interpreter bool
	// ProgramCache bounds the compiled programs kept (0: the default).
	ProgramCache int
}

// VM runs signed transactions. It is safe for concurrent use (Block-STM
// runs transactions on several goroutines).
type VM struct {
	chain  model.ChainID
	price  uint64
	limits wasm.Limits
	rt     *wasm.Runtime
	progs  *programCache
}

var _ execution.VM = (*VM)(nil)

// New makes a VM; Close releases its runtime.
func New(ctx context.Context, cfg Config) (*VM, error) {
	if cfg.Chain == (model.ChainID{}) {
		return nil, errors.New("fvm: no chain ID")
	}
	vm := &VM{chain: cfg.Chain, price: cfg.GasPrice, limits: ProgramLimits()}
	if vm.price == 0 {
		vm.price = DefaultGasPrice
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{Interpreter: cfg.Interpreter, CacheSize: cfg.ProgramCache, IgnoreCancel: true}, hostFuncs())
	if err != nil {
		return nil, fmt.Errorf("fvm: %w", err)
	}
	vm.rt = rt
	vm.progs = newProgramCache(cfg.ProgramCache)
	return vm, nil
}

// Close releases the runtime's compiled modules.
func (vm *VM) Close(ctx context.Context) error { return vm.rt.Close(ctx) }

// Chain is the chain the VM runs transactions of.
func (vm *VM) Chain() model.ChainID { return vm.chain }

// GasPrice is the price of one gas unit.
func (vm *VM) GasPrice() uint64 { return vm.price }

// ServiceAddress is the chain's service account.
func (vm *VM) ServiceAddress() account.Address { return account.ServiceAddress(vm.chain) }

// ProgramLimits are the limits every deployed program is compiled under:
// protocol, like the gas schedule.
func ProgramLimits() wasm.Limits {
	l := wasm.DefaultLimits()
	return l
}

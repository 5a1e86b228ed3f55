package fvm

import (
	"fmt"
	"math/bits"
)

// The gas schedule: what each thing a transaction does costs, in gas
// units; the fee is gas used × the network's gas price (Config.GasPrice).
// Costs are deterministic functions of what the transaction names and
// reads, never of time, so every node and verifier charges the same.
const (
	// GasTx is charged to every transaction that reaches its operation:
	// decoding, the key reads and the bookkeeping writes.
	GasTx = 1_000
	// GasSignature is charged per signature verified.
	GasSignature = 500
	// GasTxByte is charged per byte of the encoded transaction.
	GasTxByte = 1
	// GasCreateAccount is charged for a new account, besides its keys' bytes.
	GasCreateAccount = 10_000
	// GasRead and GasReadByte are charged per register a program reads.
	GasRead     = 100
	GasReadByte = 1
	// GasWrite and GasWriteByte are charged per register written (storage
	// grows the state every node keeps: it costs more than computation).
	GasWrite     = 500
	GasWriteByte = 10
	// GasDeployByte is charged per byte of deployed code (validation,
	// instrumentation and compilation are linear in it).
	GasDeployByte = 20
	// GasEvent and GasEventByte are charged per event emitted.
	GasEvent     = 100
	GasEventByte = 2
	// GasCall is charged per call into a program (an instance is made).
	GasCall = 2_000
)

// meter counts the gas a transaction uses against its limit.
type meter struct {
	limit, used uint64
}

// charge adds n gas; past the limit it takes the rest and says
// ErrOutOfGas.
func (m *meter) charge(n uint64) error {
	sum, carry := bits.Add64(m.used, n, 0)
	if carry != 0 || sum > m.limit {
		m.used = m.limit
		return fmt.Errorf("%w: the limit is %d", ErrOutOfGas, m.limit)
	}
	m.used = sum
	return nil
}

func (m *meter) remaining() uint64 { return m.limit - m.used }

// mulGas is gas × price, refusing overflow.
func mulGas(gas, price uint64) (uint64, bool) {
	hi, lo := bits.Mul64(gas, price)
	return lo, hi == 0
}

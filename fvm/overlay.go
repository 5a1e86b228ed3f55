package fvm

import (
	"fmt"

	"github.com/floe-bft/floe/blockstm"
	"github.com/floe-bft/floe/state"
)

// The overlay's limits leave room under the view's per-transaction limits
// for the registers the VM writes outside it (fee, sequence number), so
// applying an overlay never fails half way on a limit.
const (
	maxOverlayRegisters = blockstm.MaxRegistersPerTx - 16
	maxOverlayBytes     = blockstm.MaxWriteBytesPerTx - 4*state.MaxValueSize
)

// overlay buffers a transaction's operation writes over the view: reads
// see the overlay's writes first, then the view (which records them for
// Block-STM and the data pack); apply hands the writes to the view in
// the order they were first made, discard drops them. The operation is
// atomic: a failure discards everything it wrote.
type overlay struct {
	base   blockstm.View
	writes map[state.RegisterID][]byte
	order  []state.RegisterID
	bytes  int
}

func newOverlay(base blockstm.View) *overlay {
	return &overlay{base: base, writes: map[state.RegisterID][]byte{}}
}

// Get implements blockstm.View.
func (o *overlay) Get(id state.RegisterID) ([]byte, error) {
	if v, ok := o.writes[id]; ok {
		return v, nil
	}
	return o.base.Get(id)
}

// Set implements blockstm.View, with the view's checks and the overlay's
// limits (blockstm.ErrTxLimit past them: the transaction's fault).
func (o *overlay) Set(id state.RegisterID, value []byte) error {
	if err := id.Check(); err != nil {
		return err
	}
	if len(value) > state.MaxValueSize {
		return fmt.Errorf("%w: a value of %d bytes (at most %d)", state.ErrInvalidRegister, len(value), state.MaxValueSize)
	}
	old, seen := o.writes[id]
	if !seen {
		if len(o.order) >= maxOverlayRegisters {
			return blockstm.ErrTxLimit
		}
		o.order = append(o.order, id)
	}
	o.bytes += len(value) - len(old)
	if o.bytes > maxOverlayBytes {
		o.bytes -= len(value) - len(old)
		return blockstm.ErrTxLimit
	}
	o.writes[id] = append([]byte(nil), value...)
	if value == nil {
		o.writes[id] = nil
	}
	return nil
}

// apply writes the buffered writes through to the view.
func (o *overlay) apply() error {
	for _, id := range o.order {
		if err := o.base.Set(id, o.writes[id]); err != nil {
			return err
		}
	}
	return nil
}

package blockstm

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/state"
)

// errNilBase is returned when no start state is given.
var errNilBase = errors.New("blockstm: nil start state")

// overlay is Sequential's source: the writes of the transactions run so
// far over the start state. A delete is present with a nil value, so it
// hides the start state's value.
type overlay struct {
	base    state.Reader
	written map[state.RegisterID][]byte
}

func (o *overlay) read(id state.RegisterID) ([]byte, version, int, error) {
	if v, ok := o.written[id]; ok {
		return v, version{}, -1, nil
	}
	v, err := o.base.Get(id)
	return v, startVersion, -1, err
}

// Sequential executes transactions 0..n-1 of a block one after another
// over base: the reference Execute is equal to. The first error of a
// transaction's run stops it and is returned as "transaction i: err".
func Sequential(base state.Reader, n int, run Func) (*Output, error) {
	if err := checkTxCount(n); err != nil {
		return nil, err
	}
	if base == nil {
		return nil, errNilBase
	}
	src := &overlay{base: base, written: make(map[state.RegisterID][]byte)}
	out := newOutput(n)
	for i := range n {
		v := newView(src)
		res, err := runTx(run, i, v)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		writes := v.sortedWrites()
		for _, w := range writes {
			src.written[w.ID] = w.Value
		}
		out.Results[i], out.Reads[i], out.Writes[i] = res, readIDs(v.reads), writes
	}
	out.Final = netWrites(out.Writes)
	return out, nil
}

func newOutput(n int) *Output {
	return &Output{
		Results: make([]Result, n),
		Reads:   make([][]state.RegisterID, n),
		Writes:  make([][]state.Write, n),
	}
}

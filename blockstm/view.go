package blockstm

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/state"
)

// version names where a read value came from: the start state (tx -1)
// or one incarnation of an earlier transaction. Validation compares
// versions, not values: a read is still valid exactly when the same
// writer's same run is still the latest before the reader.
type version struct {
	tx, inc int32
}

var startVersion = version{tx: -1}

// source is what a transaction's View reads through when the register is
// not in its own write or read set: the sequential overlay or the
// multi-version memory. blockedBy ≥ 0 names a transaction whose write the
// read depends on and which is being re-executed.
type source interface {
	read(id state.RegisterID) (value []byte, ver version, blockedBy int, err error)
}

// readEntry is one register a transaction read, with what it got.
type readEntry struct {
	id    state.RegisterID
	value []byte
	ver   version
}

// linearLimit is the size up to which a view scans its sets instead of
// indexing them: most transactions touch a handful of registers.
const linearLimit = 16

// txView is the View of one run of one transaction, the same code in
// Sequential and Execute so the two record reads and writes alike: a
// register is read from the source once (later reads return the same
// value, so a run never sees two values of one register), and a read
// after the transaction's own write is served from its write set and not
// recorded.
type txView struct {
	src        source
	reads      []readEntry
	writes     []state.Write
	readIdx    map[state.RegisterID]int
	writeIdx   map[state.RegisterID]int
	writeBytes int
	// blockedBy ≥ 0 ends the run: it read an estimate of that transaction.
	blockedBy int
	// storageErr is the first read failure; the run fails with it whatever
	// the Func returns, so a failed read is never taken for absence.
	storageErr error
}

var _ View = (*txView)(nil)

func newView(src source) *txView { return &txView{src: src, blockedBy: -1} }

// reset makes v a fresh view over src whose read and write sets start in
// the given buffers (their contents are overwritten).
func (v *txView) reset(src source, reads []readEntry, writes []state.Write) {
	*v = txView{src: src, reads: reads[:0], writes: writes[:0], blockedBy: -1}
}

// Get implements View.
func (v *txView) Get(id state.RegisterID) ([]byte, error) {
	if err := id.Check(); err != nil {
		return nil, err
	}
	if v.blockedBy >= 0 {
		return nil, errBlocked
	}
	if v.storageErr != nil {
		return nil, v.storageErr
	}
	if k := v.findWrite(id); k >= 0 {
		return v.writes[k].Value, nil
	}
	if k := v.findRead(id); k >= 0 {
		return v.reads[k].value, nil
	}
	if len(v.reads)+len(v.writes) >= MaxRegistersPerTx {
		return nil, fmt.Errorf("%w: more than %d registers", ErrTxLimit, MaxRegistersPerTx)
	}
	value, ver, blockedBy, err := v.src.read(id)
	if err != nil {
		v.storageErr = fmt.Errorf("read %v: %w", id, err)
		return nil, v.storageErr
	}
	if blockedBy >= 0 {
		v.blockedBy = blockedBy
		return nil, errBlocked
	}
	if v.readIdx != nil {
		v.readIdx[id] = len(v.reads)
	} else if len(v.reads) == linearLimit {
		v.readIdx = make(map[state.RegisterID]int, 2*linearLimit)
		for k, r := range v.reads {
			v.readIdx[r.id] = k
		}
		v.readIdx[id] = len(v.reads)
	}
	v.reads = append(v.reads, readEntry{id: id, value: value, ver: ver})
	return value, nil
}

// Set implements View.
func (v *txView) Set(id state.RegisterID, value []byte) error {
	if err := id.Check(); err != nil {
		return err
	}
	if err := state.CheckValue(value); err != nil {
		return err
	}
	if v.blockedBy >= 0 {
		return errBlocked
	}
	if k := v.findWrite(id); k >= 0 {
		bytesAfter := v.writeBytes - len(v.writes[k].Value) + len(value)
		if bytesAfter > MaxWriteBytesPerTx {
			return fmt.Errorf("%w: more than %d bytes written", ErrTxLimit, MaxWriteBytesPerTx)
		}
		v.writes[k].Value = bytes.Clone(value)
		v.writeBytes = bytesAfter
		return nil
	}
	if len(v.reads)+len(v.writes) >= MaxRegistersPerTx {
		return fmt.Errorf("%w: more than %d registers", ErrTxLimit, MaxRegistersPerTx)
	}
	if v.writeBytes+len(value) > MaxWriteBytesPerTx {
		return fmt.Errorf("%w: more than %d bytes written", ErrTxLimit, MaxWriteBytesPerTx)
	}
	if v.writeIdx != nil {
		v.writeIdx[id] = len(v.writes)
	} else if len(v.writes) == linearLimit {
		v.writeIdx = make(map[state.RegisterID]int, 2*linearLimit)
		for k, w := range v.writes {
			v.writeIdx[w.ID] = k
		}
		v.writeIdx[id] = len(v.writes)
	}
	v.writes = append(v.writes, state.Write{ID: id, Value: bytes.Clone(value)})
	v.writeBytes += len(value)
	return nil
}

func (v *txView) findWrite(id state.RegisterID) int {
	if v.writeIdx != nil {
		if k, ok := v.writeIdx[id]; ok {
			return k
		}
		return -1
	}
	for k := range v.writes {
		if v.writes[k].ID == id {
			return k
		}
	}
	return -1
}

func (v *txView) findRead(id state.RegisterID) int {
	if v.readIdx != nil {
		if k, ok := v.readIdx[id]; ok {
			return k
		}
		return -1
	}
	for k := range v.reads {
		if v.reads[k].id == id {
			return k
		}
	}
	return -1
}

// sortedWrites is the run's write set in ID order (one write per
// register: Set replaces in place).
func (v *txView) sortedWrites() []state.Write {
	ws := slices.Clone(v.writes)
	slices.SortFunc(ws, func(a, b state.Write) int { return CompareIDs(a.ID, b.ID) })
	return ws
}

// sortWritesInPlace sorts the run's write set in ID order where it is,
// for a caller that owns the view's buffers.
func (v *txView) sortWritesInPlace() []state.Write {
	slices.SortFunc(v.writes, func(a, b state.Write) int { return CompareIDs(a.ID, b.ID) })
	return v.writes
}

// readIDs lists the registers of a read set in ID order.
func readIDs(reads []readEntry) []state.RegisterID {
	ids := make([]state.RegisterID, len(reads))
	for k, r := range reads {
		ids[k] = r.id
	}
	slices.SortFunc(ids, CompareIDs)
	return ids
}

// runTx is one run of transaction i through v. A panic becomes the run's
// error, an outcome like any other: in Execute a speculative run that
// panicked on values no sequential run would read is discarded like any
// invalid run, and only a panic of the final run stops the block, exactly
// when Sequential stops on it.
func runTx(run Func, i int, v *txView) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	res, err = run(i, v)
	if err == nil && v.storageErr != nil {
		err = v.storageErr
	}
	return res, err
}

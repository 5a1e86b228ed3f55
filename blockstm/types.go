package blockstm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/floe-bft/floe/state"
)

// Limits. A block's multi-version memory holds at most one entry per
// (transaction, register written), so memory is bounded by MaxTxs ×
// MaxRegistersPerTx entries of at most state.MaxValueSize bytes, and by
// MaxWriteBytesPerTx per transaction; callers bound n further (a block's
// transaction limit) and computation (which bounds what a transaction can
// touch long before these limits).
const (
	// MaxTxs is the most transactions one call executes.
	MaxTxs = 100_000
	// MaxRegistersPerTx is the most distinct registers one transaction
	// may read or write; past it Get and Set return ErrTxLimit.
	MaxRegistersPerTx = 8192
	// MaxWriteBytesPerTx is the most value bytes one transaction's write
	// set may hold; past it Set returns ErrTxLimit.
	MaxWriteBytesPerTx = 4 << 20
	// MaxWorkers is the most workers Execute runs.
	MaxWorkers = 256
)

var (
	// ErrTooManyTxs is returned for n outside 0..MaxTxs.
	ErrTooManyTxs = errors.New("blockstm: transaction count out of range")
	// ErrTxLimit is returned by View when a transaction exceeds
	// MaxRegistersPerTx or MaxWriteBytesPerTx. It is the transaction's
	// fault: a Func turns it into a failed Result.
	ErrTxLimit = errors.New("blockstm: transaction exceeds its register limits")
	// ErrInvalidOptions is returned for Options out of range.
	ErrInvalidOptions = errors.New("blockstm: invalid options")
	// ErrPanic wraps a panic recovered from a Func; it stops the block.
	ErrPanic = errors.New("blockstm: transaction function panicked")
	// ErrRange is returned by NetWrites for a range outside the block.
	ErrRange = errors.New("blockstm: transaction range out of bounds")
	// errBlocked is what View returns to a speculative run that read a
	// value its writer is about to recompute. The run is discarded
	// whatever the Func does with the error.
	errBlocked = errors.New("blockstm: read depends on a transaction being re-executed")
)

// View is what one transaction reads and writes through; the host
// functions of programs call it. It sees the state as left by the
// transactions before it in the block, and its own earlier writes.
//
// Errors: ErrInvalidRegister (wrapped state.ErrInvalidRegister) and
// ErrTxLimit are the transaction's fault and a Func turns them into a
// failed Result. Any other error means the state could not be read
// (storage failure) or, in Execute, that this run is speculative and must
// stop: the Func returns it unchanged.
type View interface {
	// Get returns the register's value, nil if absent. The returned slice
	// is shared and must not be modified.
	Get(id state.RegisterID) ([]byte, error)
	// Set writes the register; a nil value deletes it. The value is
	// copied.
	Set(id state.RegisterID, value []byte) error
}

// Func executes transaction i through v and returns its outcome. It must
// be deterministic in (i, what it read), must not panic or loop forever
// whatever values it reads (a speculative run may read a combination of
// values no sequential run produces; its outcome is then discarded), and
// may be called several times for one i and concurrently for different i.
// A returned error is fatal to the whole block (a storage failure), not a
// transaction failure: a failed transaction is a Result with OK false.
type Func func(i int, v View) (Result, error)

// Event is something a transaction emits.
type Event struct {
	Type    string
	Payload []byte
}

// Result is one transaction's outcome. The writes of a failed transaction
// are applied like any other (a fee, say): a Func that fails a
// transaction writes nothing it must not.
type Result struct {
	OK          bool
	Error       string
	Events      []Event
	Computation uint64
}

// Output is a block's execution: per transaction its result, the
// registers it read and what it wrote, and the block's net writes.
type Output struct {
	// Results holds each transaction's result.
	Results []Result
	// Reads holds, per transaction, every register it read (from the
	// start state or from an earlier transaction), sorted by ID, each
	// once. A read of a register the transaction had already written is
	// not a read of the state and is not listed.
	Reads [][]state.RegisterID
	// Writes holds, per transaction, its last write to each register,
	// sorted by ID.
	Writes [][]state.Write
	// Final is the block's net writes: the last write to each register
	// across the block, sorted by ID (CompareIDs). Deletes are nil values.
	Final []state.Write
}

// CompareIDs orders register IDs by owner, then key, bytewise: the order
// of Reads, Writes and Final.
func CompareIDs(a, b state.RegisterID) int {
	if c := strings.Compare(a.Owner, b.Owner); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

// NetWrites returns the net writes of transactions [from, to): the last
// write to each register among them, sorted by ID. A block cut into
// chunks has each chunk's writes from it, for intermediate state roots.
func (o *Output) NetWrites(from, to int) ([]state.Write, error) {
	if from < 0 || to > len(o.Writes) || from > to {
		return nil, fmt.Errorf("%w: [%d, %d) of %d", ErrRange, from, to, len(o.Writes))
	}
	return netWrites(o.Writes[from:to]), nil
}

// netWrites merges per-transaction write sets, later ones winning.
func netWrites(perTx [][]state.Write) []state.Write {
	total := 0
	for _, ws := range perTx {
		total += len(ws)
	}
	if total == 0 {
		return nil
	}
	last := make(map[state.RegisterID]int, total)
	out := make([]state.Write, 0, total)
	for _, ws := range perTx {
		for _, w := range ws {
			if k, ok := last[w.ID]; ok {
				out[k].Value = w.Value
				continue
			}
			last[w.ID] = len(out)
			out = append(out, w)
		}
	}
	return sortWrites(out)
}

// sortWrites returns ws sorted by ID, for writes of distinct registers.
// It sorts positions and then moves each write once: swapping the writes
// themselves costs a write barrier per pointer while the collector runs.
func sortWrites(ws []state.Write) []state.Write {
	if len(ws) < 2 {
		return ws
	}
	pos := make([]int32, len(ws))
	for k := range pos {
		pos[k] = int32(k)
	}
	slices.SortFunc(pos, func(a, b int32) int { return CompareIDs(ws[a].ID, ws[b].ID) })
	out := make([]state.Write, len(ws))
	for k, p := range pos {
		out[k] = ws[p]
	}
	return out
}

// Options are a node's execution settings; they never change the Output.
type Options struct {
	// Workers is how many goroutines execute. 0 means GOMAXPROCS. One
	// worker still runs the whole parallel machinery (multi-version
	// memory, validation), so it measures its overhead; use Sequential
	// for the plain loop.
	Workers int
}

func checkTxCount(n int) error {
	if n < 0 || n > MaxTxs {
		return fmt.Errorf("%w: %d (0 to %d)", ErrTooManyTxs, n, MaxTxs)
	}
	return nil
}

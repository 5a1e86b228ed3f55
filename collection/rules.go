package collection

import (
	"errors"
	"fmt"

	"github.com/floe-bft/floe/consensus/model"
)

// DefaultExpiry is how many main-chain blocks a transaction stays
// collectable above its reference block. Flow uses 600, about 10 minutes at
// its ~1 block/s; floe's main chain finalizes ~10-20 blocks/s (17.5 on the
// local testnet, docs/security-suite.md), where 600 blocks would be 30-60
// seconds: less than a client's retry loop and a cluster's recovery from a
// few failed views. 3600 blocks is 3-6 minutes at that rate (about 8 at the
// 7-8 blocks/s of the container runs), minutes as the pipeline issue asks.
// The cost of a longer window is memory: the Index keeps every collected
// transaction's ID for the window.
const DefaultExpiry = 3600

// RefLookup is what the rules need of the main chain: the height and epoch
// of a finalized main-chain block, ok false for any other ID (unknown,
// not yet finalized, or on a fork that lost). Once a block is known it must
// stay known with the same answer, or a payload valid once would turn
// invalid; an implementation may forget blocks more than Expiry below the
// finalized height only if nothing will check a payload that old.
type RefLookup interface {
	RefHeight(id model.Identifier) (height, epoch uint64, ok bool)
}

// Main is what a cluster replica knows of the main chain when it checks or
// builds a payload: its finalized blocks and the latest finalized height.
// A payload's Ref above Finalized counts as unknown even if Refs answers
// for it, so that a lookup and a height read at slightly different moments
// cannot make a replica accept a reference it does not yet hold as final.
type Main struct {
	Refs      RefLookup
	Finalized uint64
}

// ref looks a reference block up; ok false for unknown and not-yet-final.
func (m Main) ref(id model.Identifier) (height, epoch uint64, ok bool) {
	h, e, ok := m.Refs.RefHeight(id)
	if !ok || h > m.Finalized {
		return 0, 0, false
	}
	return h, e, true
}

// Fork is what the rules ask of the cluster fork a payload extends: whether
// a transaction is already in one of its collections (Index.Fork gives one).
type Fork interface {
	Seen(id model.Identifier) bool
}

// Entry is what the Index keeps of one collected transaction.
type Entry struct {
	ID        model.Identifier
	RefHeight uint64
}

// Rules decide which payloads a replica of one cluster accepts. A payload
// extending a parent whose payload referenced parentRef is valid when:
//
//   - its collection is within Limits, every transaction well formed;
//   - its Ref is a finalized main-chain block of Epoch, not lower than
//     parentRef;
//   - every transaction belongs to cluster Index of K (ClusterOf), appears
//     once, references a finalized block of Epoch at or below Ref and at
//     most Expiry blocks below it, and is in no collection of the fork.
//
// Every rule depends only on the fork and finalized main-chain blocks, so
// every honest replica decides the same way (a replica behind on the main
// chain answers ErrUnknownRef until it catches up). Together with expiry,
// the last rule makes a transaction impossible to collect twice on one
// cluster fork; ClusterOf and Epoch keep other clusters from collecting it.
type Rules struct {
	Expiry uint64 // main-chain blocks
	Limits Limits
	K      uint32 // clusters in the epoch
	Index  uint32 // this cluster's index, below K
	Epoch  uint64 // the epoch the cluster belongs to
}

// Validate reports rules that cannot be applied (a configuration bug, not
// an invalid payload).
func (r *Rules) Validate() error {
	switch {
	case r.Expiry == 0:
		return errors.New("collection rules: zero expiry")
	case r.K == 0 || r.Index >= r.K:
		return fmt.Errorf("collection rules: cluster %d of %d", r.Index, r.K)
	case !r.Limits.valid():
		return fmt.Errorf("collection rules: limits %+v", r.Limits)
	}
	return nil
}

// expired reports whether a transaction referencing main height ref may no
// longer be collected in a payload referencing main height at: the one
// definition the rules and the Index's pruning share.
func expired(ref, at, expiry uint64) bool {
	return at > expiry && ref < at-expiry
}

// payloadRef checks a payload's (or a proposer's) reference block against
// the main chain and the parent's, and returns its height.
func (r *Rules) payloadRef(m Main, parentRef, ref model.Identifier) (uint64, error) {
	height, epoch, ok := m.ref(ref)
	if !ok {
		return 0, fmt.Errorf("%w: payload reference %v (finalized main height %d)", ErrUnknownRef, ref, m.Finalized)
	}
	if epoch != r.Epoch {
		return 0, fmt.Errorf("%w: payload reference %v is of epoch %d, cluster of %d", ErrWrongEpoch, ref, epoch, r.Epoch)
	}
	if parentRef == model.ZeroID {
		return height, nil // the parent is the cluster chain's root
	}
	parentHeight, _, ok := m.ref(parentRef)
	if !ok {
		return 0, fmt.Errorf("%w: parent's payload reference %v", ErrUnknownRef, parentRef)
	}
	if height < parentHeight {
		return 0, fmt.Errorf("%w: payload reference at height %d, parent's at %d", ErrRefRegressed, height, parentHeight)
	}
	return height, nil
}

// checkTx applies the per-transaction rules that need the main chain and
// the fork to the transaction with ID id, in a payload whose reference is
// at main height at. It returns the transaction's reference height.
func (r *Rules) checkTx(m Main, at uint64, tx Tx, id model.Identifier, fork Fork) (uint64, error) {
	if c := ClusterOf(id, r.K); c != r.Index {
		return 0, fmt.Errorf("%w: cluster %d, this is %d", ErrWrongCluster, c, r.Index)
	}
	height, epoch, ok := m.ref(tx.Ref)
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnknownRef, tx.Ref)
	}
	switch {
	case epoch != r.Epoch:
		return 0, fmt.Errorf("%w: reference of epoch %d, cluster of %d", ErrWrongEpoch, epoch, r.Epoch)
	case height > at:
		return 0, fmt.Errorf("%w: reference at height %d, payload's at %d", ErrRefAhead, height, at)
	case expired(height, at, r.Expiry):
		return 0, fmt.Errorf("%w: reference at height %d, payload's at %d, expiry %d", ErrExpired, height, at, r.Expiry)
	case fork.Seen(id):
		return 0, ErrSeen
	}
	return height, nil
}

// Check decides whether a replica accepts p in a cluster block whose parent
// block's payload referenced parentRef (model.ZeroID if the parent is the
// cluster chain's root) on the fork described by fork. It returns the
// entries to record in the Index when the block is added, or the first
// broken rule as an error wrapping its sentinel (and ErrInvalid).
func (r *Rules) Check(m Main, parentRef model.Identifier, p *Payload, fork Fork) ([]Entry, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := p.Collection.Check(r.Limits); err != nil {
		return nil, err
	}
	at, err := r.payloadRef(m, parentRef, p.Ref)
	if err != nil {
		return nil, err
	}
	ids := p.Collection.TxIDs()
	entries := make([]Entry, len(ids))
	inCollection := make(map[model.Identifier]struct{}, len(ids))
	for i, tx := range p.Collection.Txs() {
		if _, dup := inCollection[ids[i]]; dup {
			return nil, fmt.Errorf("transaction %d (%v): %w", i, ids[i], ErrRepeated)
		}
		inCollection[ids[i]] = struct{}{}
		height, err := r.checkTx(m, at, tx, ids[i], fork)
		if err != nil {
			return nil, fmt.Errorf("transaction %d (%v): %w", i, ids[i], err)
		}
		entries[i] = Entry{ID: ids[i], RefHeight: height}
	}
	return entries, nil
}

// Skipped is a candidate Select left out, and the rule it broke.
type Skipped struct {
	Index int // in the candidates
	Err   error
}

// Selection is what Select built.
type Selection struct {
	Payload *Payload
	// Entries are the payload's transactions for the Index.
	Entries []Entry
	// Skipped lists the candidates that broke a rule. ErrExpired,
	// ErrWrongCluster, ErrWrongEpoch, ErrMalformedTx, ErrTooLarge (one
	// transaction over MaxTxBytes) and ErrRepeated never heal: the pool can
	// drop them (an expired one is reported to its submitter as expired).
	// ErrUnknownRef and ErrRefAhead may heal as the main chain advances;
	// ErrSeen heals if the fork that holds the transaction loses. Candidates
	// left out only because the collection was full are not listed.
	Skipped []Skipped
}

// Select is the proposer's side of Check: it builds the payload of a block
// extending a parent whose payload referenced parentRef, with reference
// block ref (normally the latest finalized main-chain block), from
// candidates in order. It takes every candidate that passes every rule
// while the collection stays within Limits and holds at most room
// transactions (Index.Room: a full index makes the proposer propose empty
// collections until finalization prunes it), and skips the rest instead of
// failing. Whatever it returns, Check accepts. It fails only if ref itself
// is unusable (ErrUnknownRef, ErrWrongEpoch, ErrRefRegressed): then no
// payload with this ref is valid.
func (r *Rules) Select(m Main, parentRef, ref model.Identifier, candidates []Tx, fork Fork, room int) (*Selection, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	at, err := r.payloadRef(m, parentRef, ref)
	if err != nil {
		return nil, err
	}
	maxTxs := min(r.Limits.MaxTxs, room)
	var (
		s     = &Selection{}
		txs   []Tx
		ids   []model.Identifier
		size  = collectionHeader
		taken = make(map[model.Identifier]struct{})
	)
	for i, tx := range candidates {
		if len(txs) >= maxTxs {
			break
		}
		if err := tx.Check(r.Limits); err != nil {
			s.Skipped = append(s.Skipped, Skipped{Index: i, Err: err})
			continue
		}
		if size+tx.Size() > r.Limits.MaxBytes {
			continue // a smaller candidate may still fit
		}
		id := tx.ID()
		if _, dup := taken[id]; dup {
			s.Skipped = append(s.Skipped, Skipped{Index: i, Err: ErrRepeated})
			continue
		}
		height, err := r.checkTx(m, at, tx, id, fork)
		if err != nil {
			s.Skipped = append(s.Skipped, Skipped{Index: i, Err: err})
			continue
		}
		taken[id] = struct{}{}
		txs, ids = append(txs, tx), append(ids, id)
		size += tx.Size()
		s.Entries = append(s.Entries, Entry{ID: id, RefHeight: height})
	}
	s.Payload = &Payload{Ref: ref, Collection: newCollection(txs, ids)}
	return s, nil
}

package collection

import (
	"fmt"
	"strings"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// Bounds of an Aggregator.
const (
	// DefaultAggregatorCap is how many collections an Aggregator collects
	// shares for at once; opening one more evicts the oldest.
	DefaultAggregatorCap = 64
	// EarlySharesPerSigner bounds the shares held per member for
	// collections not opened yet (a faster member finalized before this
	// node). A member filling its slots pushes out only its own shares.
	EarlySharesPerSigner = 8
)

// Share is one guarantor's signature share (SignShare) over a collection.
type Share struct {
	CollectionID model.Identifier
	Ref          model.Identifier
	Signer       model.NodeID
	Signature    []byte
}

// BadSharesError reports members whose shares did not verify. Shares are
// not transferable evidence (anyone can write bytes that fail to verify),
// so this is for the local log, against the peer that sent them: callers
// should accept a member's share only from that member's authenticated
// connection, or a relay could frame it.
type BadSharesError struct {
	CollectionID model.Identifier
	Signers      []model.NodeID
}

// Error lists the bad signers.
func (e *BadSharesError) Error() string {
	ids := make([]string, len(e.Signers))
	for i, id := range e.Signers {
		ids[i] = id.String()
	}
	return fmt.Sprintf("%v: collection %v: shares of %s", ErrBadSignature, e.CollectionID, strings.Join(ids, ", "))
}

// Unwrap makes errors.Is(err, ErrBadSignature) (and ErrInvalid) hold.
func (e *BadSharesError) Unwrap() error { return ErrBadSignature }

// shareKey names what a share signs besides the chain.
type shareKey struct {
	collectionID model.Identifier
	ref          model.Identifier
}

// pending is one collection's shares.
type pending struct {
	key      shareKey
	sigs     map[int][]byte // member index → share
	verified map[int]bool   // shares that verified on their own
	bad      map[int]bool   // members whose share failed; ignored from now on
	weight   uint64
	done     bool
}

// Aggregator turns cluster members' signature shares into guarantees for
// one cluster chain. A node opens a collection (Expect) once its own
// replica finalized it, so only the node's own finality, never a peer,
// decides what takes one of its bounded slots; shares that arrive earlier
// wait in a small per-member buffer.
//
// Shares are verified optimistically: when the shares of a collection
// reach a supermajority, their aggregate is verified once; only if that
// fails is each share verified on its own, the bad ones dropped (and
// reported), and the aggregate formed from the rest. A byzantine member
// thus costs verification work once per collection, and honest clusters
// pay one pairing check per guarantee. Not safe for concurrent use.
type Aggregator struct {
	scheme  crypto.Scheme
	chain   model.ChainID
	cluster *committee.Committee
	max     int
	open    map[shareKey]*pending
	order   []shareKey // opening order, for eviction
	early   [][]Share  // per member index, oldest first
}

// NewAggregator returns an aggregator for chain run by cluster, collecting
// for at most maxCollections collections at once (0:
// DefaultAggregatorCap).
func NewAggregator(s crypto.Scheme, chain model.ChainID, cluster *committee.Committee, maxCollections int) *Aggregator {
	if maxCollections <= 0 {
		maxCollections = DefaultAggregatorCap
	}
	return &Aggregator{scheme: s, chain: chain, cluster: cluster, max: maxCollections,
		open: make(map[shareKey]*pending), early: make([][]Share, cluster.Size())}
}

// Expect opens collection collectionID with reference ref (this node
// finalized it), evicting the oldest open collection if all slots are
// taken. Shares that arrived early count now, so Expect may already
// return the guarantee; it returns the same as Add.
func (a *Aggregator) Expect(collectionID, ref model.Identifier) (*Guarantee, error) {
	k := shareKey{collectionID: collectionID, ref: ref}
	if _, ok := a.open[k]; ok {
		return nil, nil
	}
	if len(a.order) >= a.max {
		delete(a.open, a.order[0])
		a.order = a.order[1:]
	}
	p := &pending{key: k, sigs: make(map[int][]byte), verified: make(map[int]bool), bad: make(map[int]bool)}
	a.open[k] = p
	a.order = append(a.order, k)
	for i, shares := range a.early {
		kept := shares[:0]
		for _, sh := range shares {
			if (shareKey{collectionID: sh.CollectionID, ref: sh.Ref}) == k {
				a.record(p, i, sh.Signature)
			} else {
				kept = append(kept, sh)
			}
		}
		a.early[i] = kept
	}
	return a.form(p)
}

// Add records a share. It returns the guarantee the first time the
// collection's shares that verify reach more than 2/3 of the cluster's
// weight; shares after that, repeated shares and shares of members already
// caught with a bad one are ignored. A share of a collection not opened
// yet is held until Expect. Errors: a signer outside the cluster or a
// signature of the wrong size (ErrInvalid), and *BadSharesError when
// verification caught bad shares, which may come together with the
// guarantee (formed from the good shares): log the error, use the
// guarantee.
func (a *Aggregator) Add(sh Share) (*Guarantee, error) {
	i, err := a.cluster.Index(sh.Signer)
	if err != nil {
		return nil, fmt.Errorf("%w: share for collection %v: %w", ErrInvalid, sh.CollectionID, err)
	}
	if len(sh.Signature) != a.scheme.SignatureSize() {
		return nil, fmt.Errorf("%w: share for collection %v has a %d-byte signature", ErrInvalid, sh.CollectionID, len(sh.Signature))
	}
	p, ok := a.open[shareKey{collectionID: sh.CollectionID, ref: sh.Ref}]
	if !ok {
		a.hold(i, sh)
		return nil, nil
	}
	if !a.record(p, i, sh.Signature) {
		return nil, nil
	}
	return a.form(p)
}

// Open is how many collections are open.
func (a *Aggregator) Open() int { return len(a.open) }

// hold buffers an early share, replacing the member's earlier share for
// the same collection and dropping its oldest beyond the bound.
func (a *Aggregator) hold(i int, sh Share) {
	shares := a.early[i]
	for j := range shares {
		if shares[j].CollectionID == sh.CollectionID && shares[j].Ref == sh.Ref {
			shares[j] = sh
			return
		}
	}
	if len(shares) >= EarlySharesPerSigner {
		shares = append(shares[:0], shares[1:]...)
	}
	a.early[i] = append(shares, sh)
}

// record adds member i's share to p unless p is done, i already shared or
// was caught with a bad share. It reports whether the share counts.
func (a *Aggregator) record(p *pending, i int, sig []byte) bool {
	if p.done || p.bad[i] {
		return false
	}
	if _, ok := p.sigs[i]; ok {
		return false
	}
	p.sigs[i] = sig
	p.weight += a.cluster.Member(i).Weight
	return true
}

// form builds the guarantee once p's shares reach a supermajority.
func (a *Aggregator) form(p *pending) (*Guarantee, error) {
	if p.done || p.weight < a.cluster.SupermajorityThreshold() {
		return nil, nil
	}
	msg := Message(a.chain, p.key.collectionID, p.key.ref)
	g, err := a.aggregate(p, msg)
	if err == nil {
		p.done = true
		return g, nil
	}
	// Some share is bad: check each on its own.
	bad := &BadSharesError{CollectionID: p.key.collectionID}
	for i := 0; i < a.cluster.Size(); i++ { // canonical order
		sig, ok := p.sigs[i]
		if !ok || p.verified[i] {
			continue
		}
		if a.cluster.Member(i).StakingKey.Verify(crypto.DomainGuarantee, msg, sig) != nil {
			delete(p.sigs, i)
			p.bad[i] = true
			p.weight -= a.cluster.Member(i).Weight
			bad.Signers = append(bad.Signers, a.cluster.Member(i).ID)
			continue
		}
		p.verified[i] = true
	}
	if len(bad.Signers) == 0 {
		// Every share verified alone but not together: not reachable
		// with a sound scheme.
		return nil, fmt.Errorf("collection %v: shares verify one by one but not aggregated: %w", p.key.collectionID, err)
	}
	if p.weight < a.cluster.SupermajorityThreshold() {
		return nil, bad
	}
	g, err = a.aggregate(p, nil)
	if err != nil {
		return nil, err
	}
	p.done = true
	return g, bad
}

// aggregate aggregates p's shares into a guarantee; with msg it also
// verifies the aggregate (one check), and fails if it does not verify.
func (a *Aggregator) aggregate(p *pending, msg []byte) (*Guarantee, error) {
	signers, err := model.NewSignerSet(a.cluster.Size())
	if err != nil {
		return nil, err
	}
	sigs := make([][]byte, 0, len(p.sigs))
	keys := make([]crypto.PublicKey, 0, len(p.sigs))
	for i := 0; i < a.cluster.Size(); i++ { // canonical order: deterministic output
		if sig, ok := p.sigs[i]; ok {
			signers.Set(i)
			sigs = append(sigs, sig)
			keys = append(keys, a.cluster.Member(i).StakingKey)
		}
	}
	agg, err := a.scheme.AggregateSignatures(sigs)
	if err != nil {
		return nil, err
	}
	if msg != nil {
		key, err := a.scheme.AggregatePublicKeys(keys)
		if err != nil {
			return nil, err
		}
		if err := key.Verify(crypto.DomainGuarantee, msg, agg); err != nil {
			return nil, err
		}
	}
	return &Guarantee{CollectionID: p.key.collectionID, Ref: p.key.ref, Chain: a.chain, Signers: signers, Signature: agg}, nil
}

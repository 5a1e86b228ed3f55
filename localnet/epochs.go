package localnet

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// Rotation says which validator of the pool sits out each epoch's
// committee: with a pool of n+1, epoch e leaves out member (n − e) mod
// (n+1), so that every epoch one validator leaves and the one left out
// before joins.
func Rotation(pool, epochCounter int) (out int) {
	committee := pool - 1
	return ((committee-epochCounter)%pool + pool) % pool
}

// EpochDriver plays governance for a testnet with epochs: it watches a
// node's status and, each epoch, submits the EpochSetup for the next epoch
// (a rotated committee, see Rotation) and then its EpochCommit, signed with
// GovernanceKey.
type EpochDriver struct {
	nodes      []*Node
	identities []epoch.Identity // the whole pool, in node order
	chain      model.Identifier
	key        ed25519.PrivateKey
	views      uint64
	safety     uint64

	mu          sync.Mutex
	setup       *epoch.Spec // the setup submitted for the next epoch
	submittedAt time.Time

	committed   atomic.Uint64 // newest committed epoch seen
	started     atomic.Uint64 // newest epoch whose first view was reached
	extensions  atomic.Uint64
	lastExtends uint64
	lastErr     atomic.Value // string
}

// NewEpochDriver drives the epochs of a network whose genesis is g: nodes
// are asked in turn (any live one will do), and vals, the whole pool in
// node order, are the validators the committees rotate over.
func NewEpochDriver(nodes []*Node, vals []genesis.Validator, g *genesis.Genesis) (*EpochDriver, error) {
	p, err := g.EpochParams()
	if err != nil {
		return nil, err
	}
	pool := *g
	pool.Validators = vals
	ids, _, err := pool.Identities()
	if err != nil {
		return nil, err
	}
	return &EpochDriver{nodes: nodes, identities: ids, chain: p.Chain, key: GovernanceKey(),
		views: g.Params.EpochViews, safety: g.Params.EpochSafetyViews}, nil
}

// committeeFor returns epoch e's identity table.
func (d *EpochDriver) committeeFor(e uint64) []epoch.Identity {
	skip := Rotation(len(d.identities), int(e%uint64(len(d.identities))))
	var out []epoch.Identity
	for i, m := range d.identities {
		if i != skip {
			out = append(out, m)
		}
	}
	return out
}

// Run polls (every 100 ms) until ctx ends.
func (d *EpochDriver) Run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := d.step(ctx); err != nil {
			d.lastErr.Store(err.Error())
		}
	}
}

// status asks the nodes in turn: any live one will do.
func (d *EpochDriver) status(ctx context.Context) (api.StatusResponse, *Node, error) {
	var lastErr error
	for _, tn := range d.nodes {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := tn.Client.Status(cctx)
		cancel()
		if err == nil {
			return st, tn, nil
		}
		lastErr = err
	}
	return api.StatusResponse{}, nil, lastErr
}

func (d *EpochDriver) step(ctx context.Context) error {
	st, tn, err := d.status(ctx)
	if err != nil {
		return err
	}
	if st.Epoch.Counter > d.started.Load() {
		d.started.Store(st.Epoch.Counter)
	}
	newest := st.Epoch.Counter
	if st.NextEpoch != nil {
		newest = st.NextEpoch.Counter
	}
	d.committed.Store(max(d.committed.Load(), newest))
	if st.NextEpoch != nil {
		return nil // the next epoch is scheduled: nothing to do until it starts
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := st.Epoch
	if st.PendingSetup != nil {
		// The setup is final: confirm it (again, if a commit got lost).
		if d.setup == nil || d.setup.Counter != st.PendingSetup.Counter || time.Since(d.submittedAt) < time.Second {
			return nil
		}
		d.submittedAt = time.Now()
		return d.submit(ctx, tn, epoch.NewCommit(d.chain, d.setup, d.key))
	}
	if d.setup != nil && d.setup.Counter == cur.Counter+1 && d.setup.FirstView == cur.FinalView+1 &&
		time.Since(d.submittedAt) < 2*time.Second {
		return nil // submitted, not final yet
	}
	if d.setup != nil && d.setup.Counter == cur.Counter+1 && d.setup.FirstView != cur.FinalView+1 {
		// The epoch was extended (fallback): the old setup is stale.
		d.extensions.Add(1)
	}
	if client.TooLateForSetup(st.View, cur, d.safety) {
		return nil // too late for this epoch: it will be extended
	}
	next := cur.Counter + 1
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], next)
	seed = crypto.Sum([]byte("floe testnet epoch seed"), seed[:])
	ids := d.committeeFor(next)
	spec, err := client.NextEpochSpec(cur, d.views, ids, seed, client.NextClusters(cur, ids, 0))
	if err != nil {
		return err
	}
	d.setup = &spec
	d.submittedAt = time.Now()
	return d.submit(ctx, tn, epoch.NewSetup(d.chain, spec, d.key))
}

func (d *EpochDriver) submit(ctx context.Context, tn *Node, e *epoch.Event) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := tn.Client.SubmitEvent(cctx, e); err != nil {
		return fmt.Errorf("submit %v to %s: %w", e.Kind, tn.Name, err)
	}
	return nil
}

// Started is the newest epoch whose first view the network reached.
func (d *EpochDriver) Started() uint64 { return d.started.Load() }

// Committed is the newest committed epoch seen.
func (d *EpochDriver) Committed() uint64 { return d.committed.Load() }

// LastError is the last governance error (each is retried), "" if none.
func (d *EpochDriver) LastError() string {
	e, _ := d.lastErr.Load().(string)
	return e
}

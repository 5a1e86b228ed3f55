package access

import (
	"context"
	"errors"
	"net/http"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/light"
	"github.com/floe-bft/floe/role/observer"
)

// Node is an access node: an observer of the main chain (its read API:
// blocks, stream, status, state, sync, light proofs) with the transaction
// path of Service in place of the observer's refusal.
type Node struct {
	*observer.Observer
	svc *Service
}

var (
	_ api.Node          = (*Node)(nil)
	_ api.RouteProvider = (*Node)(nil)
	_ api.LightBackend  = (*Node)(nil)
)

// NodeConfig configures an access node: the observer's settings and the
// transaction path's (Access.Chain, .Directory and .Decode are filled in
// from the observer; Access.Logger and .Metrics default to the
// observer's).
type NodeConfig struct {
	Observer observer.Config
	Access   Config
}

// NewNode builds an access node following cfg.Observer.Upstreams.
func NewNode(cfg NodeConfig) (*Node, error) {
	g := cfg.Observer.Genesis
	if g == nil {
		return nil, errors.New("access: genesis is required")
	}
	n := &Node{}
	if prev := cfg.Observer.OnFinalized; prev != nil {
		cfg.Observer.OnFinalized = func(final []*model.Block) {
			prev(final)
			n.svc.Finalized(final[len(final)-1].Height)
		}
	} else {
		cfg.Observer.OnFinalized = func(final []*model.Block) { n.svc.Finalized(final[len(final)-1].Height) }
	}
	obs, err := observer.New(cfg.Observer)
	if err != nil {
		return nil, err
	}
	n.Observer = obs
	ac := cfg.Access
	ac.Chain = obs
	ac.Directory = ScheduleDirectory{Schedule: obs.Schedule, APIs: g.APIs(), Main: model.MainChain(g.ChainID)}
	ac.Decode = obs.Decoded
	if g.Accounts != nil && ac.Accounts == nil {
		ac.Accounts = &Accounts{Chain: model.MainChain(g.ChainID), GasPrice: g.Accounts.GasPrice}
	}
	if ac.Logger == nil {
		ac.Logger = cfg.Observer.Logger
	}
	if ac.Metrics == nil {
		ac.Metrics = cfg.Observer.Metrics
	}
	svc, err := New(ac)
	if err != nil {
		obs.Stop()
		return nil, err
	}
	n.svc = svc
	return n, nil
}

// Start starts the observer, then the transaction path (it reads the
// finalized blocks the observer holds).
func (n *Node) Start(ctx context.Context) error {
	if err := n.Observer.Start(ctx); err != nil {
		return err
	}
	if err := n.svc.Start(ctx); err != nil {
		n.Observer.Stop()
		return err
	}
	go func() {
		// Either half stopping stops the node.
		select {
		case <-n.Observer.Done():
			n.svc.Stop()
		case <-n.svc.Done():
			n.Observer.Stop()
		}
	}()
	return nil
}

// Stop stops the transaction path, then the observer.
func (n *Node) Stop() {
	n.svc.Stop()
	n.Observer.Stop()
}

// Err is the fatal error that stopped either half.
func (n *Node) Err() error {
	if err := n.svc.Err(); err != nil {
		return err
	}
	return n.Observer.Err()
}

// Service is the node's transaction path (for tests and operators).
func (n *Node) Service() *Service { return n.svc }

// SubmitTxs checks, routes and forwards transactions (Service.Submit).
func (n *Node) SubmitTxs(txs [][]byte) []api.Submission { return n.svc.Submit(txs) }

// TxStatus reports a transaction this node took, with its stages;
// anything else is unknown (404).
func (n *Node) TxStatus(id model.Identifier) (api.TxStatus, error) { return n.svc.TxStatus(id), nil }

// Status describes the node as the observer does, named "access".
func (n *Node) Status() api.Status {
	st := n.Observer.Status()
	st.Name = "access"
	st.MempoolTxs = n.svc.tr.size()
	return st
}

// State reads the network-wide register named key, proven against the
// newest finalized block's Result with an execution node's proof
// (Service.State), in place of the observer's own ledger, which executes
// nothing in a pipeline network.
func (n *Node) State(ctx context.Context, key []byte) (ledger.StateValue, error) {
	return n.svc.State(ctx, key)
}

// LightSource serves light clients: the observer's finality and epoch
// proofs, with state proofs from execution nodes checked against the
// chain's Results (LightSource).
func (n *Node) LightSource() light.Source { return NewLightSource(n.Observer.LightSource(), n.svc) }

// Routes serves the event stream (Service.Routes).
func (n *Node) Routes(handle func(pattern string, h http.HandlerFunc)) { n.svc.Routes(handle) }

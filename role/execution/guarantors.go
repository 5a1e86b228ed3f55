package execution

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/ledger"
)

// ErrUnplaceable: a finalized guarantee names a reference block or a
// cluster this node does not know, or a signer set that does not fit the
// cluster. Consensus nodes refuse such guarantees, so it means a
// byzantine supermajority or a bug; the executor stops rather than guess.
var ErrUnplaceable = errors.New("guarantee cannot be placed in a known cluster")

// ledgerResolver names guarantors from the ledger's epoch state and the
// genesis directory of APIs: the cluster is the one whose chain ID is the
// guarantee's chain in the epoch of its reference block (a finalized
// main-chain block), and the signers index the cluster's members in the
// canonical order of its committee (by node ID, as committee.New orders
// them), which is the order guarantee signatures are aggregated in.
func ledgerResolver(led *ledger.Ledger, apis map[model.NodeID]string) Resolver {
	return func(g *collection.Guarantee) ([]Guarantor, error) {
		ref, err := led.Store().Block(g.Ref)
		if err != nil {
			return nil, fmt.Errorf("%w: reference block %v: %w", ErrUnplaceable, g.Ref, err)
		}
		if fin, err := led.Store().FinalizedByHeight(ref.Height); err != nil || fin.ID() != g.Ref {
			return nil, fmt.Errorf("%w: reference block %v is not finalized", ErrUnplaceable, g.Ref)
		}
		ep, err := led.Directory().Schedule().EpochAt(ref.View)
		if err != nil {
			return nil, fmt.Errorf("%w: epoch of reference block %v: %w", ErrUnplaceable, g.Ref, err)
		}
		return guarantorsIn(ep, led.EpochParams().ChainID, g, apis)
	}
}

// guarantorsIn returns g's signers among the cluster of ep whose chain is
// g.Chain.
func guarantorsIn(ep *epoch.Epoch, main model.ChainID, g *collection.Guarantee, apis map[model.NodeID]string) ([]Guarantor, error) {
	for i := range ep.Clusters {
		members, chain := ep.Cluster(i, main)
		if chain != g.Chain {
			continue
		}
		slices.SortFunc(members, func(a, b epoch.Identity) int {
			ai, bi := a.ID(), b.ID()
			return bytes.Compare(ai[:], bi[:])
		})
		if g.Signers.Size() != len(members) {
			return nil, fmt.Errorf("%w: signer set of %d over a cluster of %d", ErrUnplaceable, g.Signers.Size(), len(members))
		}
		var out []Guarantor
		for _, idx := range g.Signers.Indices() {
			id := members[idx].ID()
			out = append(out, Guarantor{ID: id, URL: apis[id]})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: no signer", ErrUnplaceable)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: chain %v is no cluster of epoch %d", ErrUnplaceable, g.Chain, ep.Counter)
}

package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
)

// check compares every node's finalized chain with the record, verifies
// each new block once (certificates, parent link, timestamps), reads every
// node's evidence and looks a sample of acknowledged transactions up on
// every node. final checks all acknowledged transactions' heights.
func (r *Runner) check(ctx context.Context, final bool) string {
	var mempools []string
	for _, nd := range r.runningChain() {
		if st, err := nd.client.status(ctx); err == nil {
			mempools = append(mempools, fmt.Sprintf("%s %d", nd.Name, st.MempoolTxs))
		}
		if err := r.checkChain(ctx, nd); err != nil {
			r.violate("chain", "%s: %v", nd.Name, err)
		}
	}
	r.checkEvidence(ctx)
	r.checkTxs(ctx, final)
	return strings.Join(mempools, ", ")
}

// checkChain fetches a node's finalized blocks it has not been checked on,
// up to its current finalized height.
func (r *Runner) checkChain(ctx context.Context, nd *nodeState) error {
	st, err := nd.client.status(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	from := uint64(0)
	if nd.checkedAny {
		from = nd.checkedTo + 1
	}
	for from <= st.FinalizedHeight {
		blocks, err := nd.client.chain(ctx, from, 64)
		if err != nil {
			return fmt.Errorf("chain from %d: %w", from, err)
		}
		if len(blocks) == 0 {
			return fmt.Errorf("chain from %d: empty answer below its finalized height %d", from, st.FinalizedHeight)
		}
		for _, info := range blocks {
			b, err := r.decodeChainBlock(nd.Name, info)
			if err != nil {
				return err
			}
			if b.Height != from {
				return fmt.Errorf("served height %d when asked for %d", b.Height, from)
			}
			var root *[32]byte
			if info.StateRoot != "" {
				raw, err := hex.DecodeString(info.StateRoot)
				if err != nil || len(raw) != 32 {
					return fmt.Errorf("block %d: malformed state root %q", b.Height, info.StateRoot)
				}
				root = (*[32]byte)(raw)
			}
			if err := r.observeBlock(nd.Name, b, root); err != nil {
				return err
			}
			nd.checkedTo, nd.checkedAny = b.Height, true
			from++
		}
	}
	return nil
}

// observeBlock records one node's block and verifies it if it is new.
// Disagreements become violations; the error is for the runner's own
// limits.
func (r *Runner) observeBlock(node string, b *model.Block, root *[32]byte) error {
	d, err := r.chain.observe(node, b, root)
	if err != nil {
		return err
	}
	if d != nil {
		r.violate(d.kind, "%s", d.detail)
		return nil
	}
	need, parent, parentStamp := r.chain.claimVerify(b.Height)
	if !need {
		return nil
	}
	// Verified in height order, against the epoch schedule of the chain
	// below it (epochs.go).
	return r.epochs.verify(b, parent, parentStamp, r.violate)
}

// checkEvidence reads every reachable node's evidence log. Any record is a
// violation: honest nodes never equivocate. Each record is verified
// against the committee, so the report says whether it is proof or a
// node's unfounded claim (which would be a bug of its own).
func (r *Runner) checkEvidence(ctx context.Context) {
	for _, nd := range r.reachable() {
		resp, err := nd.client.evidence(ctx)
		if err != nil {
			r.logf("  %s: reading evidence: %v", nd.Name, err)
			continue
		}
		for _, e := range resp.Evidence {
			key := fmt.Sprintf("%s/%s/%s/%d", nd.Name, e.Kind, e.Offender, e.View)
			if r.evidence[key] {
				continue
			}
			r.evidence[key] = true
			who := e.OffenderName
			if who == "" {
				who = e.Offender
			}
			verdict := "verified: both messages are validly signed by the offender and conflict"
			if err := r.verifyEvidence(e); err != nil {
				verdict = "NOT verifiable: " + err.Error()
			}
			r.violate("evidence", "%s recorded %s by %s in view %d (%s)", nd.Name, e.Kind, who, e.View, verdict)
		}
		if resp.Dropped > 0 && !r.evidence[nd.Name+"/dropped"] {
			r.evidence[nd.Name+"/dropped"] = true
			r.violate("evidence", "%s dropped %d evidence records (log full)", nd.Name, resp.Dropped)
		}
	}
}

// verifyEvidence checks an evidence record independently of the node.
func (r *Runner) verifyEvidence(e api.EvidenceInfo) error {
	if len(e.Messages) != 2 {
		return fmt.Errorf("the node kept no messages")
	}
	offender, err := model.ParseIdentifier(e.Offender)
	if err != nil {
		return err
	}
	var raw [2][]byte
	for i, m := range e.Messages {
		if raw[i], err = hex.DecodeString(m); err != nil {
			return err
		}
	}
	if bytes.Equal(raw[0], raw[1]) {
		return fmt.Errorf("the two messages are the same")
	}
	for i := range raw {
		var view model.View
		var signer model.NodeID
		switch e.Kind {
		case model.DoubleProposal.String():
			p, err := model.DecodeProposal(raw[i])
			if err != nil {
				return err
			}
			if err := r.epochs.currentVerifier().Proposal(p); err != nil {
				return err
			}
			view, signer = p.Block.View, p.Block.ProposerID
		case model.DoubleVote.String():
			v, err := model.DecodeVote(raw[i])
			if err != nil {
				return err
			}
			if err := r.epochs.currentVerifier().Vote(v); err != nil {
				return err
			}
			view, signer = v.View, v.SignerID
		case model.DoubleTimeout.String():
			t, err := model.DecodeTimeout(raw[i])
			if err != nil {
				return err
			}
			if err := r.epochs.currentVerifier().Timeout(t); err != nil {
				return err
			}
			view, signer = t.View, t.SignerID
		default:
			return fmt.Errorf("unknown kind %q", e.Kind)
		}
		if view != e.View || signer != offender {
			return fmt.Errorf("message %d is by %s in view %d", i, signer.Hex(), view)
		}
	}
	return nil
}

// checkTxs checks that acknowledged transactions are on every node: each
// one's block is the recorded block at its height (which every node was
// compared against), and a sample is looked up through every node's API,
// which must report it finalized at that height. final also requires every
// node to have reached every acknowledged transaction's height.
func (r *Runner) checkTxs(ctx context.Context, final bool) {
	acked := r.ledger.ackedSnapshot()
	nodes := r.runningChain()
	if len(nodes) == 0 {
		return
	}
	minChecked := ^uint64(0)
	for _, nd := range nodes {
		if !nd.checkedAny {
			return
		}
		minChecked = min(minChecked, nd.checkedTo)
	}
	var covered []ackedTx
	beyond := 0
	for _, a := range acked {
		if a.height > minChecked {
			beyond++
			continue
		}
		id, ok := r.chain.idAt(a.height)
		if !ok || id != a.blockID {
			r.violate("lost-tx", "transaction %x was acknowledged in block %s at height %d, but every node holds %s there",
				a.id[:], a.blockID.Hex(), a.height, id.Hex())
			continue
		}
		covered = append(covered, a)
	}
	if final && beyond > 0 {
		r.violate("lost-tx", "%d acknowledged transactions are above height %d, which some node never reached", beyond, minChecked)
	}
	r.report.TxsVerifiedOnAllNodes = len(covered)
	samples := min(r.m.Checks.TxSamples, len(covered))
	for k := 0; k < samples; k++ {
		a := covered[r.rng.IntN(len(covered))]
		id := hex.EncodeToString(a.id[:])
		for _, nd := range nodes {
			resp, err := nd.client.tx(ctx, id)
			if err != nil {
				r.logf("  %s: looking up %s: %v", nd.Name, id, err)
				continue
			}
			r.report.TxLookups++
			if resp.Status != "finalized" || resp.Height == nil || *resp.Height != a.height {
				got := resp.Status
				if resp.Height != nil {
					got += fmt.Sprintf(" at height %d", *resp.Height)
				}
				r.violate("lost-tx", "%s reports transaction %s as %s; it was acknowledged at height %d by %s",
					nd.Name, id, got, a.height, a.node)
			}
		}
	}
}

package collector

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/mempool"
)

// handleSubmit is POST /v1/collector/transactions: a binary batch
// (mempool.EncodePayload) of encoded collection.Tx. A batch that does not
// decode is refused whole (400, nothing queued), one larger than
// MaxBodyBytes too (413). Otherwise each transaction is checked and
// queued on its own and the answer is api.SubmitResponse: 202 when any
// was accepted, 503 with Retry-After when none was and some were refused
// for want of room (or of a running cluster), else 400.
func (n *Node) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, ok := api.ReadBody(w, r, n.cfg.MaxBodyBytes)
	if !ok {
		return
	}
	raw, err := mempool.DecodePayload(body, n.cfg.MaxBatchTxs)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "malformed transaction batch: "+err.Error())
		return
	}
	if len(raw) == 0 {
		api.WriteError(w, http.StatusBadRequest, "empty transaction batch")
		return
	}
	resp := api.SubmitResponse{Results: []api.SubmitResult{}}
	retry := false
	for i, b := range raw {
		id, err := n.submitOne(b)
		if err == nil {
			resp.Accepted++
			continue
		}
		resp.Rejected++
		n.metrics.submitRefused.Inc()
		code := api.CodeInvalid
		switch {
		case errors.Is(err, ErrPoolFull), errors.Is(err, ErrNotReady), errors.Is(err, ErrTooManyUnresolved):
			code, retry = api.CodeFull, true
		case errors.Is(err, ErrDuplicate):
			code = api.CodeDuplicate
		}
		res := api.SubmitResult{Index: i, Error: err.Error(), Code: code}
		if id != model.ZeroID {
			res.ID = id.Hex()
		}
		resp.Results = append(resp.Results, res)
	}
	switch {
	case resp.Accepted > 0:
		api.WriteJSON(w, http.StatusAccepted, resp)
	case retry:
		resp.Error = fmt.Sprintf("none of %d transactions was accepted: %s", resp.Rejected, resp.Results[0].Error)
		w.Header().Set("Retry-After", "1")
		api.WriteJSON(w, http.StatusServiceUnavailable, resp)
	default:
		resp.Error = fmt.Sprintf("all %d transactions were rejected: %s", resp.Rejected, resp.Results[0].Error)
		api.WriteJSON(w, http.StatusBadRequest, resp)
	}
}

// submitOne decodes, routes and queues one transaction.
func (n *Node) submitOne(b []byte) (model.Identifier, error) {
	tx, err := collection.DecodeTx(b, n.rules.Limits)
	if err != nil {
		return model.ZeroID, err
	}
	id := tx.ID()
	c, known, err := n.route(tx)
	if err != nil {
		return id, err
	}
	if !known {
		if err := n.waiting.reserve(); err != nil {
			return id, err
		}
	}
	if err := c.Submit(tx); err != nil {
		return id, err
	}
	if !known {
		n.waiting.add(id, tx.Ref, c, time.Now())
	}
	return id, nil
}

// route finds the running cluster that may collect tx: the cluster of
// the transaction's reference epoch must be this node's, and running. A
// reference block this node has not followed yet (known false) is taken
// to be of the running epoch: the transaction waits in the pool until
// the block comes, within the bounds of unresolved.
func (n *Node) route(tx collection.Tx) (c *Cluster, known bool, err error) {
	n.mu.RLock()
	rc := n.running
	n.mu.RUnlock()
	id := tx.ID()
	h, counter, known := n.refs.RefHeight(tx.Ref)
	if known {
		if _, latest := n.refs.Latest(); h+n.rules.Expiry < latest {
			return nil, true, fmt.Errorf("%w: reference block at height %d, the main chain is at %d", collection.ErrExpired, h, latest)
		}
	} else {
		if rc == nil {
			return nil, false, ErrNotReady
		}
		counter = rc.epoch
	}
	e, ok := n.tracker.epochByCounter(counter)
	if !ok {
		return nil, known, fmt.Errorf("%w: epoch %d", ErrEpochNotRunning, counter)
	}
	mine, member := e.ClusterOfNode(n.self)
	if !member {
		return nil, known, fmt.Errorf("%w: epoch %d", ErrNotCollecting, counter)
	}
	if want := e.ClusterOfTx(id); want != mine {
		return nil, known, fmt.Errorf("%w: transaction %v belongs to cluster %d of epoch %d, this node is in cluster %d",
			collection.ErrWrongCluster, id, want, counter, mine)
	}
	if rc == nil {
		return nil, known, ErrNotReady
	}
	if rc.epoch != counter {
		return nil, known, fmt.Errorf("%w: reference epoch %d, running epoch %d", ErrEpochNotRunning, counter, rc.epoch)
	}
	return rc.c, known, nil
}

// handleTx is GET /v1/collector/transactions/{id}: pending (in the
// running cluster's pool), collected (in a retained collection; with the
// collection, its chain and whether its guarantee formed), or 404
// unknown.
func (n *Node) handleTx(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("id"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "transaction id must be 64 hex characters")
		return
	}
	resp := api.CollectorTxResponse{ID: id.Hex()}
	if col, chain, guaranteed, ok := n.txs.lookup(id); ok {
		resp.Status, resp.Collection, resp.Chain, resp.Guaranteed = "collected", col.Hex(), chain.Hex(), guaranteed
		api.WriteJSON(w, http.StatusOK, resp)
		return
	}
	if c := n.Cluster(); c != nil && c.IsPending(id) {
		resp.Status = "pending"
		api.WriteJSON(w, http.StatusOK, resp)
		return
	}
	resp.Status = "unknown"
	api.WriteJSON(w, http.StatusNotFound, resp)
}

// handleCollection is GET /v1/collections/{id}: the binary encoding of a
// retained collection, 404 if this node holds none by that ID.
func (n *Node) handleCollection(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("id"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "collection id must be 64 hex characters")
		return
	}
	col, ok := n.collection(id)
	if !ok || n.cfg.WithholdCollections {
		api.WriteError(w, http.StatusNotFound, "collection not retained by this node")
		return
	}
	b := col.Encode()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b); err != nil {
		n.log.Debug("write collection", "err", err)
	}
}

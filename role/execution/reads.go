package execution

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/storage"
)

// executedAt is the newest executed block as the reads see it.
type executedAt struct {
	height  uint64
	version uint64
	root    model.Identifier
	result  model.Identifier // this node's own result ID
}

// TxStatus reports a transaction this node executed: "executed" with the
// block height, its position, outcome, and the result, chunk, computation
// and events (api.TxExecution). Anything else is unknown here
// (storage.ErrNotFound: 404).
func (n *Node) TxStatus(id model.Identifier) (api.TxStatus, error) {
	st, err := n.store.Tx(id)
	if err != nil {
		return api.TxStatus{}, err
	}
	b, err := n.led.BlockByHeight(st.Height)
	if err != nil {
		return api.TxStatus{}, fmt.Errorf("block of executed height %d: %w", st.Height, err)
	}
	res := &storage.TxResult{ID: id, Height: st.Height, View: b.View, Index: st.Index, OK: st.OK, Error: st.Error}
	ex := &api.TxExecution{Result: st.Result.Hex(), Chunk: st.Chunk, Computation: st.Computation, Events: make([]api.EventInfo, len(st.Events))}
	for i, e := range st.Events {
		ex.Events[i] = api.EventInfo{Type: e.Type, Payload: hex.EncodeToString(e.Payload)}
	}
	return api.TxStatus{ID: id, Status: api.TxExecuted, Result: res, Execution: ex}, nil
}

// State reads the network-wide register named key (owner empty: what the
// key/value application writes) at the newest executed block, with a
// proof against that block's end state, which merkle.Verify checks with
// the register's path (state.RegisterID.Path).
func (n *Node) State(_ context.Context, key []byte) (ledger.StateValue, error) {
	id := state.RegisterID{Key: string(key)}
	if err := id.Check(); err != nil {
		return ledger.StateValue{}, fmt.Errorf("%w: %v", storage.ErrInvalid, err)
	}
	at := n.runner.executed.Load()
	v, proof, err := n.runner.stateStore().Prove(at.version, id)
	if err != nil {
		return ledger.StateValue{}, err
	}
	return ledger.StateValue{Key: key, Value: v, Proof: proof.Encode(), Height: at.height, Root: at.root}, nil
}

// ErrNotExecutedHere: the node has not executed the height asked for.
var ErrNotExecutedHere = errors.New("height not executed here")

// RegisterAt reads register id in the end state of executed height (0:
// the newest executed height), with its proof against that state (over
// id.Encode()). Expected errors: ErrNotExecutedHere,
// state.ErrVersionPruned (the height's state versions were pruned),
// state.ErrUnknownVersion, state.ErrInvalidRegister (a bad owner or key).
func (n *Node) RegisterAt(id state.RegisterID, height uint64) (api.ExecutionStateResponse, error) {
	if err := id.Check(); err != nil {
		return api.ExecutionStateResponse{}, err
	}
	at, err := n.executedAtHeight(height)
	if err != nil {
		return api.ExecutionStateResponse{}, err
	}
	v, proof, err := n.runner.stateStore().Prove(at.version, id)
	if err != nil {
		return api.ExecutionStateResponse{}, fmt.Errorf("state of height %d (version %d): %w", at.height, at.version, err)
	}
	resp := api.ExecutionStateResponse{
		Owner: hex.EncodeToString([]byte(id.Owner)), Key: hex.EncodeToString([]byte(id.Key)), Found: v != nil, Proof: hex.EncodeToString(proof.Encode()),
		Height: at.height, EndState: at.root.Hex(), Result: at.result.Hex(),
	}
	if v != nil {
		resp.Value = hex.EncodeToString(v)
	}
	return resp, nil
}

// executedAtHeight is executed height (0: the newest) as the reads see
// it: ErrNotExecutedHere for a height not executed, or without a stored
// result.
func (n *Node) executedAtHeight(height uint64) (executedAt, error) {
	at := *n.runner.executed.Load()
	if height == 0 || height == at.height {
		return at, nil
	}
	if height > at.height {
		return executedAt{}, fmt.Errorf("%w: height %d (executed: %d)", ErrNotExecutedHere, height, at.height)
	}
	res, version, err := n.store.Result(height)
	if errors.Is(err, engine.ErrNotFound) {
		return executedAt{}, fmt.Errorf("%w: height %d has no stored result", ErrNotExecutedHere, height)
	}
	if err != nil {
		return executedAt{}, err
	}
	return executedAt{height: height, version: version, root: res.EndState(), result: res.ID()}, nil
}

// RegistersAt proves registers ids in the end state of executed height
// (0: the newest) with one batch proof. Errors as RegisterAt's.
func (n *Node) RegistersAt(ids []state.RegisterID, height uint64) (api.ExecutionRegistersResponse, error) {
	for _, id := range ids {
		if err := id.Check(); err != nil {
			return api.ExecutionRegistersResponse{}, err
		}
	}
	at, err := n.executedAtHeight(height)
	if err != nil {
		return api.ExecutionRegistersResponse{}, err
	}
	proof, err := n.runner.stateStore().ProveBatch(at.version, ids)
	if err != nil {
		return api.ExecutionRegistersResponse{}, fmt.Errorf("state of height %d (version %d): %w", at.height, at.version, err)
	}
	return api.ExecutionRegistersResponse{Height: at.height, EndState: at.root.Hex(), Result: at.result.Hex(),
		Proof: hex.EncodeToString(proof.Encode())}, nil
}

// maxRegistersBody bounds a POST /v1/execution/registers body.
const maxRegistersBody = 64 << 10

// handleRegisters serves POST /v1/execution/registers
// (api.ExecutionRegistersRequest): RegistersAt.
func (n *Node) handleRegisters(w http.ResponseWriter, r *http.Request) {
	var req api.ExecutionRegistersRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRegistersBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("body must be a JSON registers request of at most %d bytes: %v", maxRegistersBody, err))
		return
	}
	if len(req.Registers) == 0 || len(req.Registers) > api.MaxRegistersPerRequest {
		api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("1 to %d registers per request", api.MaxRegistersPerRequest))
		return
	}
	ids := make([]state.RegisterID, len(req.Registers))
	for i, ref := range req.Registers {
		owner, err1 := hex.DecodeString(ref.Owner)
		key, err2 := hex.DecodeString(ref.Key)
		if err1 != nil || err2 != nil {
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("register %d: owner and key must be hex", i))
			return
		}
		ids[i] = state.RegisterID{Owner: string(owner), Key: string(key)}
	}
	resp, err := n.RegistersAt(ids, req.Height)
	switch {
	case err == nil:
		api.WriteJSON(w, http.StatusOK, resp)
	case errors.Is(err, state.ErrInvalidRegister):
		api.WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotExecutedHere), errors.Is(err, state.ErrUnknownVersion), errors.Is(err, state.ErrVersionPruned):
		api.WriteError(w, http.StatusNotFound, err.Error())
	default:
		api.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

// handleState serves GET /v1/execution/state/{key}?height=H&owner=O (key
// and owner in hex; no owner: a network-wide register): RegisterAt. An absent register is 200 with found false and the proof
// of its absence; a height not executed here, or whose state was pruned,
// is 404.
func (n *Node) handleState(w http.ResponseWriter, r *http.Request) {
	key, err := hex.DecodeString(r.PathValue("key"))
	if err != nil || len(key) == 0 || len(key) > state.MaxKeySize {
		api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("key must be 1..%d bytes of hex", state.MaxKeySize))
		return
	}
	var height uint64
	var owner []byte
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("repeated query parameter %q", k))
			return
		}
		switch k {
		case "height":
			if height, err = strconv.ParseUint(vs[0], 10, 64); err != nil || height == 0 {
				api.WriteError(w, http.StatusBadRequest, "height must be a positive decimal integer")
				return
			}
		case "owner":
			if owner, err = hex.DecodeString(vs[0]); err != nil || len(owner) == 0 || len(owner) > state.MaxOwnerSize {
				api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("owner must be 1..%d bytes of hex", state.MaxOwnerSize))
				return
			}
		default:
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (height, owner)", k))
			return
		}
	}
	resp, err := n.RegisterAt(state.RegisterID{Owner: string(owner), Key: string(key)}, height)
	switch {
	case err == nil:
		api.WriteJSON(w, http.StatusOK, resp)
	case errors.Is(err, state.ErrInvalidRegister):
		api.WriteError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotExecutedHere), errors.Is(err, state.ErrUnknownVersion):
		api.WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, state.ErrVersionPruned):
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("%v: this node keeps the state of its newest %d executed heights", err, n.cfg.Retain))
	default:
		api.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

func (n *Node) handleResult(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "height must be a decimal integer")
		return
	}
	res, _, err := n.store.Result(h)
	if errors.Is(err, engine.ErrNotFound) {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("height %d is not executed here", h))
		return
	}
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	resp := api.ExecutionResultResponse{Height: h, Block: res.Block.Hex(), Result: res.ID().Hex(), EndState: res.EndState().Hex(),
		Chunks: len(res.Chunks), Encoded: hex.EncodeToString(res.Encode())}
	if pub, err := n.store.Published(h); err == nil && pub.ID() != res.ID() {
		resp.Published = pub.ID().Hex()
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

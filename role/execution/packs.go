package execution

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/payload"
)

// ErrNotPackRequester: a signed pack request from a node that is not a
// member of the current epoch in a role that checks chunks.
var ErrNotPackRequester = errors.New("not authorized for chunk data packs")

// packRequesterRoles are the roles whose members may fetch chunk data
// packs: until the verification role exists, the nodes that check
// execution (consensus, which will seal) and the other executors. With
// verification nodes this narrows to a chunk's assigned verifiers.
var packRequesterRoles = map[epoch.Role]bool{epoch.RoleConsensus: true, epoch.RoleExecution: true}

// handlePack serves a chunk data pack by chunk ID (binary
// execution.ChunkDataPack) to a staked node that signs its request
// (authorizePack; docs/execution.md, "Chunk data packs").
func (n *Node) handlePack(w http.ResponseWriter, r *http.Request) {
	id, err := model.ParseIdentifier(r.PathValue("chunk"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "chunk id must be 64 hex characters")
		return
	}
	if status, err := n.authorizePack(r, id, time.Now()); err != nil {
		n.m.packsRefused.Inc()
		api.WriteError(w, status, err.Error())
		return
	}
	if n.cfg.Fault == FaultWithholdPacks {
		api.WriteError(w, http.StatusNotFound, "chunk data pack not held here")
		return
	}
	b, err := n.store.Pack(id)
	if errors.Is(err, engine.ErrNotFound) {
		api.WriteError(w, http.StatusNotFound, "chunk data pack not held here (never made, or pruned)")
		return
	}
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", api.ContentTypeBinary)
	_, _ = w.Write(b)
}

// authorizePack checks a pack request's signed authorization: it parses,
// its time is within payload.PackAuthSkew of now, the requester is a
// member of the epoch of the newest finalized block in a requester role,
// and the signature names this chain and chunk under the member's
// staking key. Cheap checks come first: a signature costs ~1 ms.
// It returns the HTTP status to answer with on refusal.
func (n *Node) authorizePack(r *http.Request, chunk model.Identifier, now time.Time) (int, error) {
	a, err := payload.ParsePackAuth(r.Header.Get(payload.PackAuthHeader))
	if err != nil {
		return http.StatusUnauthorized, err
	}
	if err := a.CheckTime(now); err != nil {
		return http.StatusUnauthorized, err
	}
	fin, err := n.led.BlockByHeight(n.led.FinalizedHeight())
	if err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("finalized block: %w", err)
	}
	ep, err := n.led.Directory().Schedule().EpochAt(fin.View)
	if err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("epoch of the finalized block: %w", err)
	}
	m, ok := ep.Member(a.Node)
	if !ok || !packRequesterRoles[m.Role] {
		return http.StatusForbidden, fmt.Errorf("%w: %v is not a consensus or execution member of epoch %d", ErrNotPackRequester, a.Node, ep.Counter)
	}
	pub, err := n.led.Scheme().DecodePublicKey(m.StakingKey)
	if err != nil {
		return http.StatusForbidden, fmt.Errorf("%w: member key: %v", ErrNotPackRequester, err)
	}
	if err := a.Verify(n.led.EpochParams().ChainID, chunk, pub); err != nil {
		return http.StatusUnauthorized, err
	}
	return http.StatusOK, nil
}

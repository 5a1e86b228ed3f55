package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/floe-bft/floe/epoch"
)

// GovernanceBackend is implemented by backends that accept epoch service
// events (participants do; a read-only backend need not).
type GovernanceBackend interface {
	SubmitServiceEvent(e *epoch.Event) error
}

// maxServiceEventBytes bounds a service event body: an EpochSetup for the
// largest committee is well under this.
const maxServiceEventBytes = 1 << 20

// ServiceEventResponse acknowledges a service event: 202 with status
// "queued" when this submission queued it, 200 with "already_queued" or
// "in_effect" when an earlier one did (nothing changes and nothing is
// broadcast again).
type ServiceEventResponse struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Statuses of ServiceEventResponse.
const (
	StatusQueued        = "queued"
	StatusAlreadyQueued = "already_queued"
	StatusInEffect      = "in_effect"
)

// handleServiceEvent is POST /v1/governance/events: a binary
// (application/octet-stream) governance-signed EpochSetup or EpochCommit.
// It is checked (shape, governance signature) and queued for a block; the
// epoch rules decide at finalization whether it takes effect (see
// GET /v1/status for the pending setup and the epochs).
func (s *Server) handleServiceEvent(w http.ResponseWriter, r *http.Request) {
	gb, ok := s.b.(GovernanceBackend)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this node does not accept service events")
		return
	}
	if r.Header.Get("Content-Type") != ContentTypeBinary {
		writeError(w, http.StatusUnsupportedMediaType, "service events are posted as "+ContentTypeBinary)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxServiceEventBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("service event larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	e, err := epoch.DecodeEvent(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := gb.SubmitServiceEvent(e); {
	case err == nil:
	case errors.Is(err, epoch.ErrAlreadyQueued):
		// Resubmitting is safe and changes nothing: the answer says so,
		// and the node does not broadcast the event again.
		writeJSON(w, http.StatusOK, ServiceEventResponse{ID: e.ID().Hex(), Kind: e.Kind.String(), Status: StatusAlreadyQueued})
		return
	case errors.Is(err, epoch.ErrSettled):
		writeJSON(w, http.StatusOK, ServiceEventResponse{ID: e.ID().Hex(), Kind: e.Kind.String(), Status: StatusInEffect, Detail: err.Error()})
		return
	case errors.Is(err, epoch.ErrInvalid), errors.Is(err, epoch.ErrRejected):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, epoch.ErrQueueFull):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	default:
		s.backendError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, ServiceEventResponse{ID: e.ID().Hex(), Kind: e.Kind.String(), Status: StatusQueued})
}

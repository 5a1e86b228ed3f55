package client

import (
	"context"
	"net/http"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// SubmitEvent posts a signed governance service event in its binary
// encoding (POST /v1/governance/events). The node checks its shape and
// signature and queues it for a block; a refusal is an *Error.
func (c *Client) SubmitEvent(ctx context.Context, e *epoch.Event) (api.ServiceEventResponse, error) {
	var resp api.ServiceEventResponse
	err := c.do(ctx, http.MethodPost, "/v1/governance/events", api.ContentTypeBinary, e.Encode(), &resp)
	return resp, err
}

// The helpers below are what a governance client decides from a node's
// status: which epoch the next setup follows, its spec, and whether it is
// too late for one.

// LastEpoch is the newest epoch a status knows: the committed next epoch if
// there is one, else the current one. The next setup follows it.
func LastEpoch(st api.StatusResponse) api.EpochInfo {
	if st.NextEpoch != nil {
		return *st.NextEpoch
	}
	return st.Epoch
}

// NextEpochSpec is the spec of the epoch after last: the next counter, from
// the view after last ends, views long, its collectors dealt into clusters
// clusters from seed (see NextClusters for a count to use). It fails when
// that count does not fit the table's collectors.
func NextEpochSpec(last api.EpochInfo, views uint64, ids []epoch.Identity, seed [32]byte, clusters int) (epoch.Spec, error) {
	s := epoch.Spec{Counter: last.Counter + 1, FirstView: last.FinalView + 1, FinalView: last.FinalView + model.View(views),
		Identities: ids, Seed: seed}
	var err error
	s.Clusters, err = epoch.AssignClusters(ids, seed, clusters)
	return s, err
}

// NextClusters is the cluster count of the epoch after last for the table
// ids: requested when positive; otherwise as many clusters as last had
// (a governance run that does not mention clusters keeps them), at least
// one and at most one per collector, or none without collectors.
func NextClusters(last api.EpochInfo, ids []epoch.Identity, requested int) int {
	if requested > 0 {
		return requested
	}
	collectors := 0
	for _, m := range ids {
		if m.Role == epoch.RoleCollection {
			collectors++
		}
	}
	if collectors == 0 {
		return 0
	}
	return min(max(len(last.Clusters), 1), collectors, epoch.MaxClusters)
}

// TooLateForSetup reports whether a transition after last can no longer be
// settled at view: the first block finalized at or past final − safety
// extends the epoch instead.
func TooLateForSetup(view model.View, last api.EpochInfo, safety uint64) bool {
	return uint64(view)+safety >= uint64(last.FinalView)
}

package governance

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
)

// Status is the governance part of a node's status: what 'floe governance
// status --json' prints.
type Status struct {
	ChainID      string         `json:"chain_id"`
	View         model.View     `json:"view"`
	Epoch        api.EpochInfo  `json:"epoch"`
	NextEpoch    *api.EpochInfo `json:"next_epoch"`
	PendingSetup *api.EpochInfo `json:"pending_setup"`
}

// WriteStatus prints a node's current epoch, next epoch and pending setup,
// as indented JSON (Status) or as lines for a reader.
func WriteStatus(w io.Writer, st api.StatusResponse, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(Status{ChainID: st.ChainID, View: st.View, Epoch: st.Epoch,
			NextEpoch: st.NextEpoch, PendingSetup: st.PendingSetup})
	}
	fmt.Fprintf(w, "chain:         %s (view %d)\n", st.ChainID, st.View)
	cur := describeEpoch(st.Epoch)
	if st.Epoch.FinalView >= epoch.Forever {
		cur = fmt.Sprintf("epoch %d (views %d.., forever: no epoch changes, %d members)", st.Epoch.Counter, st.Epoch.FirstView, st.Epoch.Members)
	}
	fmt.Fprintf(w, "current epoch: %s\n", cur)
	next, pending := "none", "none"
	if st.NextEpoch != nil {
		next = describeEpoch(*st.NextEpoch) + ", committed"
	}
	if st.PendingSetup != nil {
		pending = describeEpoch(*st.PendingSetup) + ", awaiting its commit"
	}
	fmt.Fprintf(w, "next epoch:    %s\n", next)
	_, err := fmt.Fprintf(w, "pending setup: %s\n", pending)
	return err
}

// sameEpoch reports whether a status summary describes the spec.
func sameEpoch(info *api.EpochInfo, s *epoch.Spec) bool {
	return info != nil && info.Counter == s.Counter && info.FirstView == s.FirstView && info.FinalView == s.FinalView &&
		info.Members == len(s.Identities) && len(info.Clusters) == len(s.Clusters)
}

func describeSpec(s *epoch.Spec) string {
	return fmt.Sprintf("epoch %d (views %d..%d, %d members%s)", s.Counter, s.FirstView, s.FinalView, len(s.Identities), clustersNote(len(s.Clusters)))
}

func describeEpoch(e api.EpochInfo) string {
	return fmt.Sprintf("epoch %d (views %d..%d, %d members%s)", e.Counter, e.FirstView, e.FinalView, e.Members, clustersNote(len(e.Clusters)))
}

// clustersNote mentions clusters only where there are collectors, so a
// consensus-only network reads as it always did.
func clustersNote(k int) string {
	if k == 0 {
		return ""
	}
	return fmt.Sprintf(", clusters: %d", k)
}

// tooLateError explains a transition that can no longer be settled.
func tooLateError(st api.StatusResponse, last api.EpochInfo, safety uint64) error {
	return fmt.Errorf("too late: the node is at view %d, past the threshold %d (epoch %d ends at view %d, epoch_safety_views %d); "+
		"the epoch will be extended (fallback), then run setup again for the new view range",
		st.View, uint64(last.FinalView)-min(safety, uint64(last.FinalView)), last.Counter, last.FinalView, safety)
}

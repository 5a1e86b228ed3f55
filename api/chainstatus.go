package api

import (
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/ledger"
)

// ChainStatus is the part of a node's Status every role reports alike:
// the chain, its finalized and executed heights, and the epochs as of
// view. The role adds who it is, its peers and its queues.
func ChainStatus(l *ledger.Ledger, view model.View) Status {
	st := Status{
		ChainID: l.Genesis().ChainID, View: view,
		FinalizedHeight: l.FinalizedHeight(), ExecutedHeight: l.ExecutedHeight(),
	}
	if b, err := l.BlockByHeight(st.FinalizedHeight); err == nil {
		st.FinalizedID = b.ID()
	}
	if root, err := l.StateRoot(st.ExecutedHeight); err == nil {
		st.StateRoot = root
	}
	d := l.Directory()
	cur, err := d.Schedule().EpochAt(view)
	if err != nil {
		cur = d.Schedule().Last()
	}
	st.Epoch = epochSummary(&cur.Spec)
	if last := d.Schedule().Last(); last.Counter > cur.Counter {
		next := epochSummary(&last.Spec)
		st.NextEpoch = &next
	}
	if d.Pending() != nil {
		p := epochSummary(d.Pending())
		st.PendingSetup = &p
	}
	for _, m := range cur.Committee().Members() {
		st.Committee = append(st.Committee, CommitteeMember{ID: m.ID, Name: d.NameOf(m.ID), Weight: m.Weight})
	}
	return st
}

func epochSummary(s *epoch.Spec) EpochSummary {
	sum := EpochSummary{Counter: s.Counter, FirstView: s.FirstView, FinalView: s.FinalView, Members: len(s.Identities),
		Roles: make(map[string]int)}
	for _, m := range s.Identities {
		sum.Roles[m.Role.String()]++
	}
	for _, c := range s.Clusters {
		names := make([]string, len(c))
		for i, idx := range c {
			names[i] = s.Identities[idx].Name
		}
		sum.Clusters = append(sum.Clusters, names)
	}
	return sum
}

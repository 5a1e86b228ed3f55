package governance

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/epoch"
)

// ReadSetupFile reads a signed EpochSetup written by Setup and checks that
// a governance key of p signed it for this chain.
func ReadSetupFile(path string, p epoch.Params) (*epoch.Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := epoch.DecodeEvent(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if e.Kind != epoch.KindSetup {
		return nil, fmt.Errorf("%s holds an %v, not an EpochSetup", path, e.Kind)
	}
	if err := e.Verify(p.Chain, p.Authorities); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e.Setup, nil
}

// Commit confirms the setup in setupPath: it checks that the node shows it
// as the pending setup (with wait > 0, waiting for that first), signs an
// EpochCommit naming it and posts it; with wait > 0 it then waits until
// the node shows the epoch as committed. A setup already committed is
// reported, not an error.
func (s *Session) Commit(ctx context.Context, setupPath string, wait time.Duration) error {
	if setupPath == "" {
		return fmt.Errorf("--setup is required (the file 'floe governance setup' wrote)")
	}
	spec, err := ReadSetupFile(setupPath, s.Params)
	if err != nil {
		return err
	}
	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	if sameEpoch(st.NextEpoch, spec) || sameEpoch(&st.Epoch, spec) {
		fmt.Fprintf(s.Out, "%s is already committed\n", describeSpec(spec))
		return nil
	}
	if st.PendingSetup == nil && wait > 0 {
		err = s.WaitFor(ctx, wait, "the setup's finalization", func(x api.StatusResponse) bool {
			st = x
			return x.PendingSetup != nil
		})
		if err != nil {
			return err
		}
	}
	switch p := st.PendingSetup; {
	case p == nil:
		return fmt.Errorf("no setup is pending on the node (newest epoch: %s): post %s with 'floe governance setup' and wait until it is finalized",
			describeEpoch(client.LastEpoch(st)), setupPath)
	case !sameEpoch(p, spec):
		return fmt.Errorf("the pending setup, %s, is not the one in %s, %s", describeEpoch(*p), setupPath, describeSpec(spec))
	}
	if last := client.LastEpoch(st); client.TooLateForSetup(st.View, last, s.Params.SafetyViews) {
		return tooLateError(st, last, s.Params.SafetyViews)
	}
	resp, err := s.Submit(ctx, epoch.NewCommit(s.Params.Chain, spec, s.Key))
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "queued EpochCommit %s for %s\n", resp.ID, describeSpec(spec))
	if wait > 0 {
		if err := s.WaitFor(ctx, wait, "the commit's finalization", func(x api.StatusResponse) bool {
			return sameEpoch(x.NextEpoch, spec) || sameEpoch(&x.Epoch, spec)
		}); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "committed: %s\n", describeSpec(spec))
	}
	return nil
}

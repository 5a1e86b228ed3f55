package governance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// SetupRequest describes the next epoch's committee ('floe governance
// setup' flags).
type SetupRequest struct {
	// Validators are the validator.json files of the next committee, in
	// the order of its identity table.
	Validators []string
	// Views is the epoch's length; 0: the genesis epoch_views.
	Views uint64
	// SeedHex is the 32-byte hex random source (leader selection and
	// clustering); empty: random.
	SeedHex string
	// Clusters is how many clusters the collectors are dealt into; 0:
	// client.NextClusters (as many as the current epoch, within what the
	// collectors allow).
	Clusters int
	// Out is where the signed setup is written (empty:
	// epoch-<N>-setup.bin); Force overwrites it.
	Out   string
	Force bool
	// Wait > 0 waits up to that long for the setup to be finalized.
	Wait time.Duration
}

// Setup builds the epoch after the newest one the node knows (the
// committed next epoch if there is one, else the current), signs it,
// writes the signed event to r.Out (commit needs it) and posts it.
//
// Everything is checked before anything is posted: every validator entry
// well formed with a valid proof of possession, no setup pending already,
// the node not past the safety threshold of the newest epoch. A file
// written for an event the node then refuses is removed again.
func (s *Session) Setup(ctx context.Context, r SetupRequest) error {
	if len(r.Validators) == 0 {
		return fmt.Errorf("--validators is required")
	}
	vals := make([]genesis.Validator, len(r.Validators))
	for i, path := range r.Validators {
		var err error
		if vals[i], err = genesis.ReadValidator(path); err != nil {
			return fmt.Errorf("--validators: %w", err)
		}
	}
	if err := genesis.CheckUnique(vals); err != nil {
		return fmt.Errorf("--validators: %w", err)
	}
	ids, err := genesis.IdentitiesOf(vals)
	if err != nil {
		return fmt.Errorf("--validators: %w", err)
	}
	views := r.Views
	if views == 0 {
		views = s.Params.EpochViews
	}
	if views < s.Params.MinEpochViews() {
		return fmt.Errorf("--views %d is too short: an epoch lasts at least %d views (2 × epoch_safety_views + 1)", views, s.Params.MinEpochViews())
	}
	var seed [32]byte
	if r.SeedHex == "" {
		_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails
	} else if b, err := hex.DecodeString(r.SeedHex); err != nil || len(b) != len(seed) {
		return fmt.Errorf("--seed must be %d bytes of hex", len(seed))
	} else {
		copy(seed[:], b)
	}

	st, err := s.Status(ctx)
	if err != nil {
		return err
	}
	last := client.LastEpoch(st)
	if p := st.PendingSetup; p != nil {
		return fmt.Errorf("a setup is already pending: %s awaits its commit ('floe governance commit'), or the fallback at the end of epoch %d discards it",
			describeEpoch(*p), last.Counter)
	}
	if client.TooLateForSetup(st.View, last, s.Params.SafetyViews) {
		return tooLateError(st, last, s.Params.SafetyViews)
	}
	if r.Clusters < 0 {
		return fmt.Errorf("--clusters must not be negative")
	}
	spec, err := client.NextEpochSpec(last, views, ids, seed, client.NextClusters(last, ids, r.Clusters))
	if err != nil {
		return fmt.Errorf("--clusters: %w", err)
	}
	if _, err := epoch.New(s.Params.Scheme, spec); err != nil {
		return fmt.Errorf("--validators: %w", err)
	}
	ev := epoch.NewSetup(s.Params.Chain, spec, s.Key)
	out := r.Out
	if out == "" {
		out = fmt.Sprintf("epoch-%d-setup.bin", spec.Counter)
	}
	if err := config.CheckNoClobber(out, r.Force); err != nil {
		return err
	}
	if err := os.WriteFile(out, ev.Encode(), 0o644); err != nil {
		return err
	}
	resp, err := s.Submit(ctx, ev)
	if err != nil {
		os.Remove(out) // nothing was queued: the file would only mislead
		return err
	}
	fmt.Fprintf(s.Out, "queued EpochSetup %s for %s; wrote %s\n", resp.ID, describeSpec(&spec), out)
	if r.Wait > 0 {
		if err := s.WaitFor(ctx, r.Wait, "the setup's finalization", func(st api.StatusResponse) bool {
			return sameEpoch(st.PendingSetup, &spec) || sameEpoch(st.NextEpoch, &spec)
		}); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "setup finalized: epoch %d is pending; commit it with 'floe governance commit --setup %s'\n", spec.Counter, out)
	}
	return nil
}

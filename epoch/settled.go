package epoch

import "fmt"

// CheckSettled tells whether a service event can still change the epoch
// state whose schedule and pending setup are given. It returns ErrSettled
// when the event already took effect as it is (its setup is the pending
// one, or its epoch is in the schedule), ErrRejected when its epoch was
// already decided by another event, and nil when it may still apply.
//
// A node answers resubmissions with it instead of queueing and broadcasting
// them again: a finalized event re-posted by anyone would otherwise cost a
// broadcast to every peer and a slot in a block each time.
func CheckSettled(sch *Schedule, pending *Spec, e *Event) error {
	last := sch.Last()
	switch e.Kind {
	case KindSetup:
		sp := e.Setup
		if pending != nil && pending.Counter == sp.Counter {
			if pending.ID() == sp.ID() {
				return fmt.Errorf("%w: the setup of epoch %d is finalized and awaits its commit", ErrSettled, sp.Counter)
			}
			return nil // may apply if the pending setup goes stale
		}
		if sp.Counter <= last.Counter {
			if ep, err := sch.Epoch(sp.Counter); err == nil && ep.Spec.ID() == sp.ID() {
				return fmt.Errorf("%w: epoch %d is committed", ErrSettled, sp.Counter)
			}
			return fmt.Errorf("%w: EpochSetup for epoch %d, which is already decided (newest epoch %d)", ErrRejected, sp.Counter, last.Counter)
		}
	case KindCommit:
		c := e.Commit
		if c.Counter <= last.Counter {
			if ep, err := sch.Epoch(c.Counter); err == nil && ep.Spec.ID() == c.SetupID {
				return fmt.Errorf("%w: epoch %d is committed", ErrSettled, c.Counter)
			}
			return fmt.Errorf("%w: EpochCommit for epoch %d, which is already decided (newest epoch %d)", ErrRejected, c.Counter, last.Counter)
		}
	}
	return nil
}

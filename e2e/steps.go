package e2e

import (
	"context"
	"fmt"
	"time"
)

// fault is what applying one step did: when the fault began and healed,
// and which nodes it hit.
type fault struct {
	target  string
	applied time.Time
	healed  time.Time
	// measure says whether recovery is measured: not while some nodes
	// were never started (the network may be unable to finalize).
	measure bool
	// after, if set, runs once recovery was measured (an epoch step's
	// checks); its note goes into the step's report.
	after func(ctx context.Context) (note string, err error)
	// split says a cluster partition split collector cluster cluster:
	// the step's report compares the clusters during the fault.
	split   bool
	cluster int
}

// runStep applies one step, waits for recovery, lets the network run for
// the observation window and checks it.
func (r *Runner) runStep(ctx context.Context, s Step) (StepReport, error) {
	sr := StepReport{Action: s.Action, Recovery: -1, Resume: -1, began: time.Now()}
	r.logf("step %d: %s", r.currentStep(), describeStep(s))
	if s.LoadRate > 0 {
		// The heavier load runs for a window before the fault too, so that
		// "before" is measured under it.
		prev := r.loadRate.Swap(int64(s.LoadRate))
		defer r.loadRate.Store(prev)
		r.logf("  load %d tx/s for this step; %s under it before the fault", s.LoadRate, r.m.Checks.Window.Duration)
		sleep(ctx, r.m.Checks.Window.Duration)
	}
	before := time.Now()
	f, err := r.apply(ctx, s)
	if err != nil {
		return sr, err
	}
	sr.Target = f.target
	sr.Fault = f.healed.Sub(f.applied)
	if s.Action == ActionWait {
		sr.Fault = 0
	}
	sr.TxBefore, sr.BlocksBefore = r.series.rate(before.Add(-r.m.Checks.Window.Duration), before)
	sr.TxDuring, sr.BlocksDuring = r.series.rate(f.applied, f.healed)
	stall := r.series.longestStall(f.applied, f.healed)
	sr.StallS = int(stall / time.Second)
	if s.MaxStall.Duration > 0 && stall > s.MaxStall.Duration {
		r.violate("stall", "no block finalized for %s in a row while %s was %s (max_stall %s)",
			stall, f.target, s.Action, s.MaxStall.Duration)
	}
	if err := r.checkContainers(ctx); err != nil {
		return sr, err
	}
	after := f.healed
	if f.measure {
		heightAtHeal := maxHeight(r.statuses(ctx))
		sr.HeightAtHeal = heightAtHeal
		resume, all, ok := r.awaitRecovery(ctx, f.healed, heightAtHeal)
		sr.Resume, sr.Recovery = resume, all
		if !ok {
			// A node that exited says why in its log: name it.
			if err := r.checkContainers(ctx); err != nil {
				return sr, fmt.Errorf("the network did not recover: %w", err)
			}
			return sr, fmt.Errorf("the network did not recover")
		}
		after = f.healed.Add(all)
		r.logf("  recovered: finalization resumed after %s, every node above height %d after %s",
			ms(resume), heightAtHeal, ms(all))
	}
	if f.after != nil {
		note, err := f.after(ctx)
		sr.Note = note
		if err != nil {
			return sr, err
		}
	}
	sleep(ctx, r.m.Checks.Window.Duration)
	sr.TxAfter, sr.BlocksAfter = r.series.rate(after, after.Add(r.m.Checks.Window.Duration))
	if err := r.checkContainers(ctx); err != nil {
		return sr, err
	}
	if r.allUp() {
		sr.Mempools = r.check(ctx, false)
	} else {
		r.checkEvidence(ctx)
	}
	if r.pipe != nil && s.Action != ActionStart {
		notes := []string{sr.Note, f.clusterNote(r), r.checkPipeline(ctx, f.healed, false)}
		sr.Note = joinNotes(notes)
		r.logf("  %s", sr.Note)
	}
	return sr, ctx.Err()
}

// apply carries out a step's fault and heals it.
func (r *Runner) apply(ctx context.Context, s Step) (fault, error) {
	switch s.Action {
	case ActionStart:
		return r.applyStart(ctx, s)
	case ActionWait:
		now := time.Now()
		sleep(ctx, s.Duration.Duration)
		return fault{target: "-", applied: now, healed: time.Now(), measure: false}, nil
	case ActionKill:
		return r.applyKill(ctx, s)
	case ActionPause:
		return r.applyFreeze(ctx, s)
	case ActionDisconnect:
		return r.applyDisconnect(ctx, s)
	case ActionPartition:
		return r.applyPartition(ctx, s)
	case ActionStopAll:
		return r.applyStopAll(ctx, s)
	case ActionStop:
		return r.applyStop(ctx, s)
	case ActionEpoch:
		return r.epochTransition(ctx, s)
	}
	return fault{}, fmt.Errorf("unknown action %q", s.Action)
}

// startable lists nodes never started or stopped by a stop step.
func (r *Runner) startable() []*nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*nodeState
	for _, nd := range r.nodes {
		if !nd.started || nd.down {
			out = append(out, nd)
		}
	}
	return out
}

// running lists started nodes that are not down.
func (r *Runner) running() []*nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*nodeState
	for _, nd := range r.nodes {
		if nd.started && !nd.down {
			out = append(out, nd)
		}
	}
	return out
}

// runningChain lists the running validators and followers.
func (r *Runner) runningChain() []*nodeState {
	var out []*nodeState
	for _, nd := range r.running() {
		if nd.Role == "" {
			out = append(out, nd)
		}
	}
	return out
}

// applyStart starts the selected (default: all) nodes not started yet or
// stopped, one every Interval, in random or given order.
func (r *Runner) applyStart(ctx context.Context, s Step) (fault, error) {
	pool := r.startable()
	if len(pool) == 0 {
		return fault{}, fmt.Errorf("no node to start: every node runs")
	}
	nodes := pool
	if len(s.Nodes) > 0 {
		var err error
		if nodes, _, err = r.resolve(ctx, s.Nodes, pool); err != nil {
			return fault{}, err
		}
	}
	if s.Order == "random" {
		r.rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	}
	f := fault{applied: time.Now()}
	for k, nd := range nodes {
		if k > 0 {
			sleep(ctx, s.Interval.Duration)
		}
		if err := r.dk.Start(ctx, nd.Container); err != nil {
			return f, err
		}
		r.setFlag([]*nodeState{nd}, func(n *nodeState) { n.started, n.down = true, false })
		r.logf("  started %s", nd.Name)
		if k > 0 {
			f.target += " "
		}
		f.target += nd.Name
	}
	f.healed = time.Now()
	f.measure = r.allUp()
	return f, nil
}

// applyStop stops the selected nodes; they stay down until a start step.
func (r *Runner) applyStop(ctx context.Context, s Step) (fault, error) {
	nodes, note, err := r.resolve(ctx, s.Nodes, r.running())
	if err != nil {
		return fault{}, err
	}
	r.noteRestarted(nodes)
	f := fault{target: sortedNames(nodes) + note + " (SIG" + s.Signal + ")", applied: time.Now()}
	if err := r.stopper(ctx, s.Signal)(containersOf(nodes)); err != nil {
		return f, err
	}
	r.setFlag(nodes, func(n *nodeState) { n.down = true })
	f.healed = time.Now()
	return f, nil
}

// applyKill sends SIGKILL to the selected nodes at once and restarts them
// after the step's duration.
func (r *Runner) applyKill(ctx context.Context, s Step) (fault, error) {
	nodes, note, err := r.resolve(ctx, s.Nodes, r.running())
	if err != nil {
		return fault{}, err
	}
	r.noteRestarted(nodes)
	return r.outage(ctx, nodes, sortedNames(nodes)+note, s.Duration.Duration,
		func(c []string) error { return r.dk.Kill(ctx, "KILL", c...) },
		func(c []string) error { return r.dk.Start(ctx, c...) },
		func(n *nodeState, on bool) { n.down = on })
}

// applyFreeze pauses the selected nodes (cgroup freezer: the process stops
// mid-instruction, its sockets stay open) for the step's duration.
func (r *Runner) applyFreeze(ctx context.Context, s Step) (fault, error) {
	nodes, note, err := r.resolve(ctx, s.Nodes, r.running())
	if err != nil {
		return fault{}, err
	}
	return r.outage(ctx, nodes, sortedNames(nodes)+note, s.Duration.Duration,
		func(c []string) error { return r.dk.Pause(ctx, c...) },
		func(c []string) error { return r.dk.Unpause(ctx, c...) },
		func(n *nodeState, on bool) { n.paused = on })
}

// applyStopAll stops every node (SIGTERM with a grace period, or SIGKILL)
// and starts them all again after the step's duration.
func (r *Runner) applyStopAll(ctx context.Context, s Step) (fault, error) {
	r.noteRestarted(r.running())
	return r.outage(ctx, r.running(), "all (SIG"+s.Signal+")", s.Duration.Duration, r.stopper(ctx, s.Signal),
		func(c []string) error { return r.dk.Start(ctx, c...) },
		func(n *nodeState, on bool) { n.down = on })
}

// stopper stops containers: docker stop for TERM (a clean stop within the
// grace period), docker kill for KILL.
func (r *Runner) stopper(ctx context.Context, signal string) func([]string) error {
	if signal == "KILL" {
		return func(c []string) error { return r.dk.Kill(ctx, "KILL", c...) }
	}
	return func(c []string) error { return r.dk.Stop(ctx, c...) }
}

// outage takes nodes' containers out with one command, waits, and brings
// them back with another, keeping the runner's flag for them in step.
func (r *Runner) outage(ctx context.Context, nodes []*nodeState, target string, d time.Duration,
	out, back func(containers []string) error, flag func(n *nodeState, on bool)) (fault, error) {
	f := fault{target: target, applied: time.Now(), measure: r.allUp()}
	containers := containersOf(nodes)
	if err := out(containers); err != nil {
		return f, err
	}
	r.setFlag(nodes, func(n *nodeState) { flag(n, true) })
	r.faultApplied()
	sleep(ctx, d)
	if err := back(containers); err != nil {
		return f, err
	}
	r.setFlag(nodes, func(n *nodeState) { flag(n, false) })
	f.healed = time.Now()
	return f, nil
}

// applyDisconnect detaches the selected nodes from the network (their
// interface disappears) and reattaches them with the same address.
func (r *Runner) applyDisconnect(ctx context.Context, s Step) (fault, error) {
	nodes, note, err := r.resolve(ctx, s.Nodes, r.running())
	if err != nil {
		return fault{}, err
	}
	f := fault{target: sortedNames(nodes) + note, applied: time.Now(), measure: r.allUp()}
	for _, nd := range nodes {
		if err := r.dk.Disconnect(ctx, r.net.NetworkName(), nd.Container); err != nil {
			return f, err
		}
		r.setFlag([]*nodeState{nd}, func(n *nodeState) { n.disconnected = true })
	}
	r.faultApplied()
	sleep(ctx, s.Duration.Duration)
	for _, nd := range nodes {
		if err := r.dk.Connect(ctx, r.net.NetworkName(), nd.Container, nd.IP); err != nil {
			return f, err
		}
		r.setFlag([]*nodeState{nd}, func(n *nodeState) { n.disconnected = false })
	}
	f.healed = time.Now()
	return f, nil
}

// applyPartition drops traffic between validators on different sides (see
// partition.go) for the step's duration. Followers are not partitioned:
// they keep reaching the validator they follow.
func (r *Runner) applyPartition(ctx context.Context, s Step) (fault, error) {
	vals, w := r.nodes[:len(r.ids)], r.weights
	cluster := -1
	if s.Topology == TopologyCluster || r.groupsNameCollectors(s) {
		// A partition among collectors: the validators keep all links.
		var err error
		if vals, w, cluster, err = r.collectorPartition(&s); err != nil {
			return fault{}, err
		}
		s.Topology = TopologyGroups
	}
	names := make([]string, len(vals))
	for i, nd := range vals {
		names[i] = nd.Name
	}
	reach, desc, err := partitionSides(s, w, names, r.rng)
	if err != nil {
		return fault{}, err
	}
	if cluster >= 0 {
		desc = fmt.Sprintf("cluster %d: %s", cluster, desc)
	}
	f := fault{target: desc, applied: time.Now(), measure: r.allUp(), split: cluster >= 0, cluster: max(cluster, 0)}
	pids := make([]int, len(vals))
	for i, nd := range vals {
		st, err := r.dk.Inspect(ctx, nd.Container)
		if err != nil {
			return f, err
		}
		if !st.Running || st.Pid == 0 {
			return f, fmt.Errorf("%s is not running: cannot partition it", nd.Name)
		}
		pids[i] = st.Pid
	}
	for i, nd := range vals {
		ok := map[int]bool{}
		for _, j := range reach[i] {
			ok[j] = true
		}
		var blocked []string
		for j, other := range vals {
			if j != i && !ok[j] {
				blocked = append(blocked, other.IP)
			}
		}
		if err := r.dk.Isolate(ctx, pids[i], blocked); err != nil {
			return f, fmt.Errorf("partition %s: %w", nd.Name, err)
		}
	}
	r.setFlag(vals, func(n *nodeState) { n.partitioned = true })
	r.faultApplied()
	sleep(ctx, s.Duration.Duration)
	for i, nd := range vals {
		if err := r.dk.Heal(ctx, pids[i]); err != nil {
			return f, fmt.Errorf("heal %s: %w", nd.Name, err)
		}
	}
	r.setFlag(vals, func(n *nodeState) { n.partitioned = false })
	f.healed = time.Now()
	return f, nil
}

func containersOf(nodes []*nodeState) []string {
	out := make([]string, len(nodes))
	for i, nd := range nodes {
		out[i] = nd.Container
	}
	return out
}

func describeStep(s Step) string {
	if s.Action == ActionEpoch {
		return "epoch transition during " + describeStep(s.faultStep())
	}
	d := s.Action
	if len(s.Nodes) > 0 {
		d += fmt.Sprintf(" %v", s.Nodes)
	}
	if s.Topology != "" {
		d += " " + s.Topology
	}
	if s.Duration.Duration > 0 {
		d += " for " + s.Duration.Duration.String()
	}
	if s.Interval.Duration > 0 {
		d += " every " + s.Interval.Duration.String()
	}
	if s.Signal != "" {
		d += " (SIG" + s.Signal + ")"
	}

	return d
}

// ms prints a duration in milliseconds, or "-" for none.
func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

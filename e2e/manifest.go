// Package e2e runs floe networks in containers, one node per container on
// a private Docker network, and subjects them to the faults a real
// deployment sees: killed and restarted nodes (the leader among them),
// frozen processes, cut cables, partitions, staggered starts, whole-network
// restarts and skewed clocks. A manifest (TOML, see manifests/) describes
// the network, the transaction load and a schedule of perturbations; the
// runner applies them one after the other and, after each one heals, checks
// that the network recovered in bounded time, that every node holds the same
// chain and state, that nothing acknowledged as finalized was lost, and that
// no node signed conflicting messages. See docs/e2e.md.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/workload"
)

// Duration is a time.Duration written as "30s", "2m" in manifests, as
// in floe.toml.
type Duration = config.Duration

// Manifest describes one end-to-end test network and its schedule.
type Manifest struct {
	// Name names the run: the Docker project, containers and directories.
	Name        string `toml:"name"`
	Description string `toml:"description"`
	// Validators is the committee size (equal weights).
	Validators int `toml:"validators"`
	// Followers are non-voting nodes ('floe follow'), named follower0,
	// follower1, ...; follower j follows validator j mod Validators. They
	// take no transactions (the load goes to validators only) but are
	// checked like validators.
	Followers int `toml:"followers"`
	// Seed fixes keys, the leader schedule, random node choices and the
	// start order, so a run's choices repeat (timing does not).
	Seed uint64 `toml:"seed"`
	// Subnet is the private network, an IPv4 /24 or larger; node i gets
	// host address 10+i.
	Subnet string `toml:"subnet"`
	// APIPortBase: node i's API is published on 127.0.0.1:APIPortBase+i.
	APIPortBase int    `toml:"api_port_base"`
	LogLevel    string `toml:"log_level"`

	Genesis GenesisParams `toml:"genesis"`
	// Pipeline, when its clusters is set, makes the network a pipeline
	// network (docs/pipeline.md): collectors, execution and access nodes
	// beside the validators, the load through the access nodes.
	Pipeline PipelineSpec   `toml:"pipeline"`
	Load     LoadSpec       `toml:"load"`
	Checks   CheckSpec      `toml:"checks"`
	Nodes    []NodeOverride `toml:"node"`
	Steps    []Step         `toml:"step"`
	Expect   Expectations   `toml:"expect"`

	// path is the file the manifest came from, for messages.
	path string
}

// GenesisParams override the consensus parameters of genesis.DefaultParams.
type GenesisParams struct {
	TimeoutMinMS    int64 `toml:"timeout_min_ms"`
	TimeoutMaxMS    int64 `toml:"timeout_max_ms"`
	BlockIntervalMS int64 `toml:"block_interval_ms"`
	// EpochViews enables epochs (genesis.Params.TestEpochs): epochs of
	// this many views, settled a quarter of an epoch before their end.
	// 0: one epoch for ever (the default). Required by "epoch" steps.
	EpochViews uint64 `toml:"epoch_views"`
}

// PipelineSpec are the role members of a pipeline network: collectors
// (collector0, ...; dealt into Clusters clusters of ClusterSize by the
// genesis epoch's random source), execution nodes (execution0, ...) and
// access nodes (access0, ...). Clusters 0: no pipeline.
type PipelineSpec struct {
	Clusters    int `toml:"clusters"`
	ClusterSize int `toml:"cluster_size"`
	Executors   int `toml:"executors"`
	Access      int `toml:"access"`
	// App is what the network runs: "accounts" (the default: genesis
	// accounts, the load signs native-token transfers between them) or
	// "kv" (unsigned key/value writes).
	App string `toml:"app"`
}

// accounts reports whether the pipeline runs the accounts VM.
func (p PipelineSpec) accounts() bool {
	return p.enabled() && (p.App == "" || p.App == workload.AppAccounts)
}

// enabled reports whether the manifest asks for a pipeline network.
func (p PipelineSpec) enabled() bool { return p.Clusters > 0 }

// members is how many role members the pipeline has.
func (p PipelineSpec) members() int {
	if !p.enabled() {
		return 0
	}
	return p.Clusters*p.ClusterSize + p.Executors + p.Access
}

// Bounds of a pipeline network in containers.
const (
	maxClusters    = 8
	maxClusterSize = 16
	maxRoleNodes   = 8 // execution or access nodes
)

func (p PipelineSpec) validate() error {
	if !p.enabled() {
		if p != (PipelineSpec{}) {
			return fmt.Errorf("pipeline: clusters is required (1 to %d) when cluster_size, executors or access is set", maxClusters)
		}
		return nil
	}
	switch {
	case p.Clusters < 1 || p.Clusters > maxClusters:
		return fmt.Errorf("pipeline.clusters = %d: want 1 to %d", p.Clusters, maxClusters)
	case p.ClusterSize < 1 || p.ClusterSize > maxClusterSize:
		return fmt.Errorf("pipeline.cluster_size = %d: want 1 to %d", p.ClusterSize, maxClusterSize)
	case p.Executors < 1 || p.Executors > maxRoleNodes:
		return fmt.Errorf("pipeline.executors = %d: want 1 to %d", p.Executors, maxRoleNodes)
	case p.Access < 1 || p.Access > maxRoleNodes:
		return fmt.Errorf("pipeline.access = %d: want 1 to %d", p.Access, maxRoleNodes)
	case p.App != "" && p.App != workload.AppAccounts && p.App != workload.AppKV:
		return fmt.Errorf("pipeline.app = %q: want %q or %q", p.App, workload.AppAccounts, workload.AppKV)
	}
	return nil
}

// LoadSpec is the transaction load the runner keeps up during the run.
type LoadSpec struct {
	// Rate in transactions per second (0: no load).
	Rate int `toml:"rate"`
}

// CheckSpec bounds recovery and sets how long each step is observed.
type CheckSpec struct {
	// MaxRecovery bounds the time from healing a fault until every node
	// has finalized a block above the height the network had at the heal.
	MaxRecovery Duration `toml:"max_recovery"`
	// Window is how long the network runs undisturbed after each recovery
	// (throughput "after") and before each fault (throughput "before").
	Window Duration `toml:"window"`
	// TxSamples is how many acknowledged transactions are looked up on
	// every node after each step (all of them are checked through the
	// blocks regardless).
	TxSamples int `toml:"tx_samples"`
}

// NodeOverride sets per-node options. Name "*" applies to every node.
type NodeOverride struct {
	Name string `toml:"name"`
	// ClockOffset shifts the node's consensus clock (FLOE_CLOCK_OFFSET).
	ClockOffset Duration `toml:"clock_offset"`
	// UnsafeForgetSafetyData makes the node forget its safety data at every
	// start (FLOE_UNSAFE_FORGET_SAFETY_DATA): a deliberately broken node.
	UnsafeForgetSafetyData bool `toml:"unsafe_forget_safety_data"`
	// WithholdCollections makes a collector a byzantine guarantor: it
	// signs guarantees but never serves its collections
	// (FLOE_TEST_WITHHOLD_COLLECTIONS); execution must fetch them from
	// another signer.
	WithholdCollections bool `toml:"withhold_collections"`
	// ForgeGuarantees makes a collector hand every guarantee to the
	// consensus nodes with a broken signature (FLOE_TEST_FORGE_GUARANTEES):
	// they must refuse those and include the honest members' copies.
	ForgeGuarantees bool `toml:"forge_guarantees"`
	// ExecutionFault makes an execution node byzantine
	// (FLOE_TEST_EXECUTION_FAULT): ExecFaultWrongEndState or
	// ExecFaultWrongEvents publish receipts for results other than the
	// ones it computed (consensus must record disagreements),
	// ExecFaultWithholdPacks serves no chunk data pack. It still executes
	// honestly.
	ExecutionFault string `toml:"execution_fault"`
}

// The execution test faults (role/execution.Fault, EnvFault).
const (
	ExecFaultWrongEndState = "wrong_end_state" // publishes every state commitment flipped, consistently chained
	ExecFaultWrongEvents   = "wrong_events"    // publishes every chunk's events hash flipped
	ExecFaultWithholdPacks = "withhold_packs"  // serves no chunk data pack (404)
)

// publishesWrong reports whether an execution fault makes the node
// publish results other than the ones it computed.
func publishesWrong(fault string) bool {
	return fault == ExecFaultWrongEndState || fault == ExecFaultWrongEvents
}

// Expectations turn a run that should fail into a test of the runner: it
// passes only if a violation of every listed kind was detected.
type Expectations struct {
	Violations []string `toml:"violations"`
}

// Step is one entry of the schedule.
type Step struct {
	// Action is one of the Action* constants. Without a "start" step
	// first, every node starts at once before the schedule.
	Action string `toml:"action"`
	// Nodes selects nodes: a name ("node2"), "leader" (the leader of the
	// newest view any running node is in), "random" (a node not selected
	// yet in this step), "f" (f such nodes: the most the committee
	// tolerates) or "all".
	Nodes []string `toml:"nodes"`
	// Duration is how long the fault lasts before it is healed, or how long
	// a "wait" step waits.
	Duration Duration `toml:"duration"`
	// Interval separates the starts of a "start" step.
	Interval Duration `toml:"interval"`
	// Order of a "start" step: "random" (default) or "given".
	Order string `toml:"order"`
	// Topology of a "partition" step: "minority" (f nodes cut off together
	// from the rest), "split" (two halves, neither with a supermajority),
	// "ring" (each node reaches only its two neighbours) or "groups".
	Topology string `toml:"topology"`
	// Groups lists the sides of a "groups" partition by node name; a node
	// in no group is alone. The groups name validators or collectors (not
	// both); the other kind keeps all its links.
	Groups [][]string `toml:"groups"`
	// Cluster is the collector cluster a "cluster" partition splits into
	// two halves, neither with a supermajority of the cluster (its members
	// keep reaching every other node).
	Cluster *int `toml:"cluster"`
	// Signal for "stop-all" ("TERM" by default: a clean stop) and "stop"
	// ("KILL" by default): "TERM" or "KILL".
	Signal string `toml:"signal"`
	// Fault of an "epoch" step: kill, pause, disconnect or partition, with
	// the step's nodes, topology, groups and duration as for that action.
	// The epoch transition is submitted while the fault is in place.
	Fault string `toml:"fault"`
	// LoadRate, when set, replaces load.rate for this step: from the
	// window before the fault until the end of the window after recovery
	// (a fault under heavy load).
	LoadRate int `toml:"load_rate"`
	// MaxStall, when set, bounds the longest run of whole seconds with no
	// block finalized while the fault is in place; a longer one is a
	// "stall" violation. Only for faults the network must ride through
	// (kill, pause, disconnect of at most f validators).
	MaxStall Duration `toml:"max_stall"`
}

// Schedule actions.
const (
	ActionStart      = "start"      // start Nodes (default: all) not started yet or stopped, staggered by Interval
	ActionStop       = "stop"       // stop Nodes (SIGKILL, or TERM by Signal); they stay down until a start
	ActionWait       = "wait"       // let the network run for Duration
	ActionKill       = "kill"       // SIGKILL Nodes, restart them after Duration
	ActionPause      = "pause"      // docker pause Nodes for Duration
	ActionDisconnect = "disconnect" // docker network disconnect Nodes for Duration
	ActionPartition  = "partition"  // drop traffic between sides for Duration
	ActionStopAll    = "stop-all"   // stop every node, start all again after Duration
	// ActionEpoch applies Fault and, while it is in place, plays governance:
	// submits the EpochSetup of the next epoch (same members, a new leader
	// seed) and its EpochCommit, then heals the fault and checks that every
	// node and follower reports the new epoch committed (Runner.epochTransition).
	ActionEpoch = "epoch"
)

// Partition topologies.
const (
	TopologyMinority = "minority"
	TopologySplit    = "split"
	TopologyRing     = "ring"
	TopologyGroups   = "groups"
	// TopologyCluster splits one collector cluster (Step.Cluster) into
	// two halves: that cluster stalls, the others go on.
	TopologyCluster = "cluster"
)

// SelectCollector selects a collector not chosen yet in the step, at
// random (pipeline networks).
const SelectCollector = "collector"

// ViolationKinds are the kinds of failure the runner detects; manifests
// name them in [expect] violations.
var ViolationKinds = []string{
	"recovery",    // finalization did not resume in time
	"stall",       // finalization stopped longer than a step's max_stall during its fault
	"fork",        // two nodes finalized different blocks at one height
	"state",       // two nodes hold different state roots at one height
	"chain",       // a block does not verify (certificate, parent link, timestamp)
	"lost-tx",     // an acknowledged transaction is missing on some node
	"repeated-tx", // a pipeline transaction was executed twice
	"evidence",    // some node recorded equivocation (conflicting signatures)
	"node-exited", // a node stopped by itself
	"epoch",       // an epoch transition was not committed on every node in time
	"results",     // execution results: honest executors differ, a disagreement is missing or unexplained, a data pack does not verify
	"aborted",     // the schedule could not be carried out
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Limits on what a manifest may ask for, so a typo cannot take down the
// machine.
const (
	maxValidators = 32
	maxFollowers  = 16
	maxSteps      = 200
	maxRate       = 50_000
	maxDuration   = 2 * time.Hour
)

// LoadManifest reads and validates a manifest file. Unknown keys are errors.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.path = path
	return m, nil
}

// ParseManifest decodes and validates a manifest, filling in defaults.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("unknown keys:\n%s", sm.String())
		}
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if !namePattern.MatchString(m.Name) {
		return fmt.Errorf("name %q: want 1-40 lowercase letters, digits and dashes", m.Name)
	}
	if m.Validators < 1 || m.Validators > maxValidators {
		return fmt.Errorf("validators = %d: want 1 to %d", m.Validators, maxValidators)
	}
	if m.Followers < 0 || m.Followers > maxFollowers {
		return fmt.Errorf("followers = %d: want 0 to %d", m.Followers, maxFollowers)
	}
	if err := m.Pipeline.validate(); err != nil {
		return err
	}
	if m.Subnet == "" {
		m.Subnet = "172.30.1.0/24"
	}
	if _, err := nodeIPs(m.Subnet, m.totalNodes()); err != nil {
		return err
	}
	if m.APIPortBase == 0 {
		m.APIPortBase = 28080
	}
	if n := m.totalNodes(); m.APIPortBase < 1024 || m.APIPortBase+n > 65535 {
		return fmt.Errorf("api_port_base = %d: want 1024 to %d", m.APIPortBase, 65535-n)
	}
	if m.LogLevel == "" {
		m.LogLevel = "info"
	}
	switch m.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", m.LogLevel)
	}
	if _, err := m.genesisParams(); err != nil {
		return err
	}
	if m.Load.Rate < 0 || m.Load.Rate > maxRate {
		return fmt.Errorf("load.rate = %d: want 0 to %d transactions per second", m.Load.Rate, maxRate)
	}
	if m.Checks.MaxRecovery.Duration == 0 {
		m.Checks.MaxRecovery.Duration = 60 * time.Second
	}
	if m.Checks.Window.Duration == 0 {
		m.Checks.Window.Duration = 10 * time.Second
	}
	if m.Checks.TxSamples == 0 {
		m.Checks.TxSamples = 20
	}
	if d := m.Checks.MaxRecovery.Duration; d < time.Second || d > maxDuration {
		return fmt.Errorf("checks.max_recovery = %v: want 1s to %v", d, maxDuration)
	}
	if d := m.Checks.Window.Duration; d < time.Second || d > maxDuration {
		return fmt.Errorf("checks.window = %v: want 1s to %v", d, maxDuration)
	}
	if m.Checks.TxSamples < 0 || m.Checks.TxSamples > 10_000 {
		return fmt.Errorf("checks.tx_samples = %d: want 0 to 10000", m.Checks.TxSamples)
	}
	validators := map[string]bool{}
	for i := 0; i < m.Validators; i++ {
		validators[nodeName(i)] = true
	}
	names := map[string]bool{} // validators and followers: what steps may name
	for n := range validators {
		names[n] = true
	}
	for j := 0; j < m.Followers; j++ {
		names[followerName(j)] = true
	}
	collectors, executors := map[string]bool{}, map[string]bool{}
	for _, rm := range m.Pipeline.roleMembers() {
		names[rm.name] = true
		switch rm.role {
		case config.RoleCollection:
			collectors[rm.name] = true
		case config.RoleExecution:
			executors[rm.name] = true
		}
	}
	wrongExecutors := 0
	for _, o := range m.Nodes {
		switch {
		case o.ExecutionFault != "" && !executors[o.Name]:
			return fmt.Errorf("[[node]] %s: execution_fault applies to an execution node (execution0, ...) only", o.Name)
		case executors[o.Name]:
			switch o.ExecutionFault {
			case ExecFaultWrongEndState, ExecFaultWrongEvents:
				wrongExecutors++
			case ExecFaultWithholdPacks:
			case "":
				return fmt.Errorf("[[node]] %s: an execution node takes execution_fault only (%s, %s or %s)", o.Name,
					ExecFaultWrongEndState, ExecFaultWrongEvents, ExecFaultWithholdPacks)
			default:
				return fmt.Errorf("[[node]] %s: execution_fault %q: want %s, %s or %s", o.Name, o.ExecutionFault,
					ExecFaultWrongEndState, ExecFaultWrongEvents, ExecFaultWithholdPacks)
			}
			if o.ClockOffset.Duration != 0 || o.UnsafeForgetSafetyData || o.WithholdCollections || o.ForgeGuarantees {
				return fmt.Errorf("[[node]] %s: an execution node takes execution_fault only", o.Name)
			}
			continue
		case (o.WithholdCollections || o.ForgeGuarantees) && !collectors[o.Name]:
			return fmt.Errorf("[[node]] %s: withhold_collections and forge_guarantees apply to a collector (collector0, ...) only", o.Name)
		case collectors[o.Name]:
			if o.ClockOffset.Duration != 0 || o.UnsafeForgetSafetyData {
				return fmt.Errorf("[[node]] %s: a collector takes withhold_collections and forge_guarantees only", o.Name)
			}
			continue
		case o.Name != "*" && !validators[o.Name]:
			return fmt.Errorf("[[node]] name %q: no such node (node0 to node%d, a collector, an execution node, or \"*\")", o.Name, m.Validators-1)
		}
		if d := o.ClockOffset.Duration; d > 24*time.Hour || d < -24*time.Hour {
			return fmt.Errorf("[[node]] %s: clock_offset %v: at most 24h either way", o.Name, d)
		}
	}
	if wrongExecutors > 0 && wrongExecutors >= m.Pipeline.Executors {
		// Byzantine executors publishing the same wrong results agree with
		// each other: with no honest one nobody disagrees.
		return fmt.Errorf("[[node]]: every execution node publishes wrong results; at least one must be honest (or withhold_packs) to disagree with them")
	}
	if len(m.Steps) > maxSteps {
		return fmt.Errorf("%d steps: at most %d", len(m.Steps), maxSteps)
	}
	for i := range m.Steps {
		if m.Steps[i].Action == ActionStart && i > 0 && m.Steps[0].Action != ActionStart && !stoppedBefore(m.Steps[:i]) {
			return fmt.Errorf("step %d (start): nothing to start (every node started at once before the schedule and none was stopped)", i+1)
		}
		if err := m.Steps[i].validate(names, m.Pipeline); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, m.Steps[i].Action, err)
		}
		if m.Steps[i].Action == ActionEpoch && m.Genesis.EpochViews == 0 {
			return fmt.Errorf("step %d (epoch): the network has no epochs: set [genesis] epoch_views", i+1)
		}
		if m.Steps[i].Action == ActionPartition || m.Steps[i].Fault == ActionPartition {
			// One partition cuts validators or collectors, not both: the
			// nodes in no group are alone among their kind.
			kinds := map[bool]bool{}
			for _, g := range m.Steps[i].Groups {
				for _, n := range g {
					if !validators[n] && !collectors[n] {
						return fmt.Errorf("step %d: groups: %s is neither a validator nor a collector; partitions cut validators or collectors only", i+1, n)
					}
					kinds[collectors[n]] = true
				}
			}
			if len(kinds) > 1 {
				return fmt.Errorf("step %d: groups name validators and collectors: a partition cuts one kind (the other keeps all its links)", i+1)
			}
			if c := m.Steps[i].Cluster; c != nil && *c >= m.Pipeline.Clusters {
				return fmt.Errorf("step %d: cluster = %d: the network has clusters 0 to %d", i+1, *c, m.Pipeline.Clusters-1)
			}
		}
	}
	for _, v := range m.Expect.Violations {
		if !knownViolation(v) {
			return fmt.Errorf("expect.violations: %q is not one of %s", v, strings.Join(ViolationKinds, ", "))
		}
	}
	return nil
}

func stoppedBefore(steps []Step) bool {
	for _, s := range steps {
		if s.Action == ActionStop {
			return true
		}
	}
	return false
}

func knownViolation(kind string) bool {
	for _, k := range ViolationKinds {
		if k == kind {
			return true
		}
	}
	return false
}

func (s *Step) validate(names map[string]bool, pl PipelineSpec) error {
	for _, sel := range s.Nodes {
		switch {
		case sel == "leader", sel == "random", sel == "f", sel == "all", names[sel]:
		case sel == SelectCollector && pl.enabled():
		default:
			return fmt.Errorf("nodes: %q is neither a node, follower or role member name nor leader, random, f, all (or collector in a pipeline network)", sel)
		}
	}
	if s.LoadRate < 0 || s.LoadRate > maxRate {
		return fmt.Errorf("load_rate = %d: want 0 to %d transactions per second", s.LoadRate, maxRate)
	}
	if ms := s.MaxStall.Duration; ms != 0 {
		switch s.Action {
		case ActionKill, ActionPause, ActionDisconnect:
		default:
			return fmt.Errorf("max_stall does not apply to %s: only to kill, pause and disconnect, which the network must ride through", s.Action)
		}
		if ms < time.Second || ms > maxDuration {
			return fmt.Errorf("max_stall %v: want 1s to %v", ms, maxDuration)
		}
	}
	d := s.Duration.Duration
	if d < 0 || d > maxDuration {
		return fmt.Errorf("duration %v: want 0 to %v", d, maxDuration)
	}
	needNodes := func() error {
		if len(s.Nodes) == 0 {
			return fmt.Errorf("nodes is required")
		}
		return nil
	}
	needDuration := func() error {
		if d == 0 {
			return fmt.Errorf("duration is required")
		}
		return nil
	}
	unused := func(what string, set bool) error {
		if set {
			return fmt.Errorf("%s does not apply to %s", what, s.Action)
		}
		return nil
	}
	if err := errors.Join(
		unused("interval", s.Interval.Duration != 0 && s.Action != ActionStart),
		unused("order", s.Order != "" && s.Action != ActionStart),
		unused("topology", s.Topology != "" && s.Action != ActionPartition && s.Fault != ActionPartition),
		unused("groups", len(s.Groups) > 0 && s.Action != ActionPartition && s.Fault != ActionPartition),
		unused("cluster", s.Cluster != nil && s.Topology != TopologyCluster),
		unused("signal", s.Signal != "" && s.Action != ActionStopAll && s.Action != ActionStop),
		unused("fault", s.Fault != "" && s.Action != ActionEpoch),
	); err != nil {
		return err
	}
	switch s.Action {
	case ActionStart:
		if s.Interval.Duration < 0 || s.Interval.Duration > maxDuration {
			return fmt.Errorf("interval %v: want 0 to %v", s.Interval.Duration, maxDuration)
		}
		switch s.Order {
		case "":
			s.Order = "random"
		case "random", "given":
		default:
			return fmt.Errorf("order %q: want random or given", s.Order)
		}
		return unused("duration", d != 0)
	case ActionWait:
		return errors.Join(needDuration(), unused("nodes", len(s.Nodes) > 0))
	case ActionKill, ActionPause, ActionDisconnect:
		return errors.Join(needNodes(), needDuration())
	case ActionPartition:
		if err := errors.Join(needDuration(), unused("nodes", len(s.Nodes) > 0)); err != nil {
			return err
		}
		switch s.Topology {
		case TopologyMinority, TopologySplit, TopologyRing:
			return unused("groups", len(s.Groups) > 0)
		case TopologyCluster:
			if !pl.enabled() {
				return fmt.Errorf("topology cluster needs a pipeline network ([pipeline] clusters)")
			}
			if s.Cluster == nil {
				return fmt.Errorf("cluster is required with topology cluster")
			}
			if *s.Cluster < 0 || *s.Cluster >= pl.Clusters {
				return fmt.Errorf("cluster = %d: the network has clusters 0 to %d", *s.Cluster, pl.Clusters-1)
			}
			if pl.ClusterSize < 2 {
				return fmt.Errorf("topology cluster: a cluster of %d cannot be split", pl.ClusterSize)
			}
			return unused("groups", len(s.Groups) > 0)
		case TopologyGroups:
			seen := map[string]bool{}
			for _, g := range s.Groups {
				for _, n := range g {
					if !names[n] {
						return fmt.Errorf("groups: no node %q", n)
					}
					if seen[n] {
						return fmt.Errorf("groups: %s is in two groups", n)
					}
					seen[n] = true
				}
			}
			if len(s.Groups) == 0 {
				return fmt.Errorf("groups is required with topology groups")
			}
			return nil
		default:
			return fmt.Errorf("topology %q: want minority, split, ring, groups or cluster", s.Topology)
		}
	case ActionStop:
		return errors.Join(s.signalOr("KILL"), needNodes(), unused("duration", d != 0))
	case ActionStopAll:
		return errors.Join(s.signalOr("TERM"), needDuration(), unused("nodes", len(s.Nodes) > 0))
	case ActionEpoch:
		switch s.Fault {
		case ActionKill, ActionPause, ActionDisconnect, ActionPartition:
		case "":
			return fmt.Errorf("fault is required: kill, pause, disconnect or partition (the transition happens while it is in place)")
		default:
			return fmt.Errorf("fault %q: want kill, pause, disconnect or partition", s.Fault)
		}
		sub := s.faultStep()
		if err := sub.validate(names, pl); err != nil {
			return fmt.Errorf("fault %s: %w", s.Fault, err)
		}
		s.Topology = sub.Topology
		return nil
	case "":
		return fmt.Errorf("action is required")
	default:
		return fmt.Errorf("unknown action %q: want start, stop, wait, kill, pause, disconnect, partition, stop-all or epoch", s.Action)
	}
}

// faultStep is the fault of an "epoch" step as a step of its own.
func (s *Step) faultStep() Step {
	sub := *s
	sub.Action, sub.Fault = s.Fault, ""
	return sub
}

// signalOr checks Signal, defaulting it to def.
func (s *Step) signalOr(def string) error {
	switch s.Signal {
	case "":
		s.Signal = def
	case "TERM", "KILL":
	default:
		return fmt.Errorf("signal %q: want TERM or KILL", s.Signal)
	}
	return nil
}

// genesisParams are genesis.DefaultParams with the manifest's overrides,
// validated the way a genesis file is.
func (m *Manifest) genesisParams() (genesis.Params, error) {
	p := genesis.DefaultParams()
	if v := m.Genesis.TimeoutMinMS; v != 0 {
		p.TimeoutMinMS = v
	}
	if v := m.Genesis.TimeoutMaxMS; v != 0 {
		p.TimeoutMaxMS = v
	}
	if v := m.Genesis.BlockIntervalMS; v != 0 {
		p.BlockIntervalMS = v
	}
	if err := p.Timeouts().Validate(); err != nil {
		return p, fmt.Errorf("genesis: %w", err)
	}
	if p.BlockIntervalMS < 0 || p.BlockIntervalMS >= p.TimeoutMinMS {
		return p, fmt.Errorf("genesis: block_interval_ms must be in [0, timeout_min_ms)")
	}
	if v := m.Genesis.EpochViews; v != 0 {
		if v < minEpochViews || v > maxEpochViews {
			return p, fmt.Errorf("genesis: epoch_views = %d: want %d to %d (0: no epochs)", v, minEpochViews, maxEpochViews)
		}
		p.TestEpochs(v)
	}
	return p, nil
}

// override returns the options of node name ("*" entries first, then the
// node's own).
func (m *Manifest) override(name string) NodeOverride {
	o := NodeOverride{Name: name}
	for _, pass := range []string{"*", name} {
		for _, x := range m.Nodes {
			if x.Name != pass {
				continue
			}
			if x.ClockOffset.Duration != 0 {
				o.ClockOffset = x.ClockOffset
			}
			o.UnsafeForgetSafetyData = o.UnsafeForgetSafetyData || x.UnsafeForgetSafetyData
			o.WithholdCollections = o.WithholdCollections || x.WithholdCollections
		}
	}
	return o
}

// collectorOverride returns a collector's test faults (its own [[node]]
// entry only: "*" entries are the validators').
func (m *Manifest) collectorOverride(name string) NodeOverride {
	o := NodeOverride{Name: name}
	for _, x := range m.Nodes {
		if x.Name == name {
			o.WithholdCollections = o.WithholdCollections || x.WithholdCollections
			o.ForgeGuarantees = o.ForgeGuarantees || x.ForgeGuarantees
		}
	}
	return o
}

// executorOverride returns an execution node's test fault (its own
// [[node]] entry only).
func (m *Manifest) executorOverride(name string) NodeOverride {
	o := NodeOverride{Name: name}
	for _, x := range m.Nodes {
		if x.Name == name && x.ExecutionFault != "" {
			o.ExecutionFault = x.ExecutionFault
		}
	}
	return o
}

// usesPartitions reports whether the schedule needs iptables.
func (m *Manifest) usesPartitions() bool {
	for _, s := range m.Steps {
		if s.Action == ActionPartition || s.Fault == ActionPartition {
			return true
		}
	}
	return false
}

// Bounds of epoch_views: an epoch must outlast a step's fault with room
// for the setup and commit to finalize (a quarter of it is the safety
// margin), and not outlast any sensible run.
const (
	minEpochViews = 40
	maxEpochViews = 1_000_000
)

func nodeName(i int) string { return fmt.Sprintf("node%d", i) }

func followerName(j int) string { return fmt.Sprintf("follower%d", j) }

// totalNodes counts every container: validators, followers, role members.
func (m *Manifest) totalNodes() int { return m.Validators + m.Followers + m.Pipeline.members() }

// roleMember is one role member of a pipeline network.
type roleMember struct{ name, role string }

// roleMembers lists the role members in node order: collectors, execution
// nodes, access nodes (as localnet orders them).
func (p PipelineSpec) roleMembers() []roleMember {
	if !p.enabled() {
		return nil
	}
	var out []roleMember
	for i := 0; i < p.Clusters*p.ClusterSize; i++ {
		out = append(out, roleMember{fmt.Sprintf("collector%d", i), config.RoleCollection})
	}
	for i := 0; i < p.Executors; i++ {
		out = append(out, roleMember{fmt.Sprintf("execution%d", i), config.RoleExecution})
	}
	for i := 0; i < p.Access; i++ {
		out = append(out, roleMember{fmt.Sprintf("access%d", i), config.RoleAccess})
	}
	return out
}

// nodeIPs gives n nodes the host addresses 10, 11, ... of subnet.
func nodeIPs(subnet string, n int) ([]netip.Addr, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("subnet %q: want an IPv4 prefix such as 172.30.1.0/24", subnet)
	}
	p = p.Masked()
	if p.Bits() > 24 || p.Bits() < 8 {
		return nil, fmt.Errorf("subnet %q: want a prefix length from /8 to /24", subnet)
	}
	if !p.Addr().IsPrivate() {
		return nil, fmt.Errorf("subnet %q: want a private range (10/8, 172.16/12, 192.168/16)", subnet)
	}
	ips := make([]netip.Addr, n)
	a := p.Addr().As4()
	for i := range ips {
		host := 10 + i
		ips[i] = netip.AddrFrom4([4]byte{a[0], a[1], a[2], a[3] + byte(host)})
	}
	return ips, nil
}

package consensus

import (
	"fmt"
	"time"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/forks"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/consensus/safety"
	"github.com/floe-bft/floe/crypto"
)

// Payloads is the application's side of block building. Both methods are
// called from inside Step, so they must be fast, deterministic for the
// simulator, and free of blocking I/O.
type Payloads interface {
	// Build returns the payload for a block the replica is about to propose
	// on parent.
	Build(view model.View, parent *model.Block) []byte
	// Validate checks the payload of a block that extends parent (a block
	// of the tree or its root); an error (wrapping model.ErrInvalid)
	// rejects the block. Rules that relate a payload to its parent's (an
	// execution result that never goes back) live here too: the core knows
	// nothing of what payloads carry.
	Validate(b, parent *model.Block) error
}

// WorkReporter is an optional interface of Payloads: a leader whose
// application has nothing to order waits Config.IdleBlockInterval before it
// proposes, instead of spinning through empty blocks at network speed.
type WorkReporter interface {
	// HasWork reports whether a block extending parent has something to
	// carry, or whether a block between the finalized one and parent
	// carries something that still awaits finality (its 2-chain must not
	// wait for the idle interval).
	HasWork(parent *model.Block) bool
}

// BlockFiller is an optional interface of Payloads: a leader waiting out
// Config.MinBlockInterval proposes at once when a block extending parent
// would already be full, so a long interval batches light load into fewer
// blocks without slowing heavy load.
type BlockFiller interface {
	// Full reports whether a block extending parent would be full.
	Full(parent *model.Block) bool
}

// Faults switches off protocol rules. Only tests set it, to prove that the
// simulator catches a replica that breaks them; a node never does.
type Faults struct {
	Safety safety.Faults
	Forks  forks.Faults
	// AcceptNonLeaderProposal skips the core's own check that a proposal
	// comes from its view's leader (the verifier checks it too).
	AcceptNonLeaderProposal bool
	// DropEvidence never reports equivocation.
	DropEvidence bool
	// WeakQuorum forms QCs and TCs one weight unit below a supermajority.
	WeakQuorum bool
}

// Config is what a replica needs to run the protocol.
type Config struct {
	Self   model.NodeID
	Key    crypto.PrivateKey
	Scheme crypto.Scheme // aggregates signatures into QCs and TCs
	// Schedule gives the committee of each view. The replica need not be a
	// member of every (or any) committee: in views where it is not, it
	// follows the protocol without signing anything.
	Schedule committee.Schedule
	Timeouts pacemaker.Config
	Payloads Payloads
	// MaxPendingProposals bounds proposals held while their parent is
	// fetched (default 128).
	MaxPendingProposals int
	// MinBlockInterval keeps a leader's block at least this long after its
	// parent: it waits until this long after the parent's proposal reached
	// it (or after entering its view, when a TC opened the view or the
	// parent came by sync). The parent's certifying round trip runs inside
	// the interval, so under load a view lasts the interval, not the
	// interval plus a round trip. Jolteon is optimistically responsive, so
	// without it an idle network spins through empty views as fast as
	// messages travel; a few milliseconds let transactions accumulate and
	// cap the block rate.
	// A leader whose Payloads implement BlockFiller and report a full block
	// does not wait. Zero proposes at once (the simulator).
	MinBlockInterval time.Duration
	// IdleBlockInterval makes a leader with nothing to order (Payloads
	// implements WorkReporter and says so) wait this long after entering
	// its view before it proposes. A WorkEvent ends the wait at once. It
	// must be below the minimum timeout, so idle views still succeed and
	// timeouts keep meaning failure. Zero disables idle pacing.
	IdleBlockInterval time.Duration
	// Reputation draws leaders from recent activity in each proposal's own
	// ancestry (package reputation); the zero value keeps the plain
	// stake-weighted schedule. With it on, the core (which sees the
	// parent) checks proposers, and the verifier must skip that check.
	Reputation reputation.Params
	Faults     Faults
}

func (c *Config) validate() error {
	if c.Key == nil || c.Scheme == nil || c.Schedule == nil || c.Payloads == nil {
		return fmt.Errorf("consensus config: key, scheme, schedule and payloads are required")
	}
	if c.MaxPendingProposals == 0 {
		c.MaxPendingProposals = 128
	}
	if c.MinBlockInterval < 0 || c.MinBlockInterval >= c.Timeouts.Min {
		return fmt.Errorf("consensus config: block interval %v must be in [0, minimum timeout %v)", c.MinBlockInterval, c.Timeouts.Min)
	}
	if c.IdleBlockInterval != 0 && (c.IdleBlockInterval < c.MinBlockInterval || c.IdleBlockInterval >= c.Timeouts.Min) {
		return fmt.Errorf("consensus config: idle block interval %v must be 0 or in [block interval %v, minimum timeout %v)",
			c.IdleBlockInterval, c.MinBlockInterval, c.Timeouts.Min)
	}
	if err := c.Reputation.Validate(); err != nil {
		return fmt.Errorf("consensus config: %w", err)
	}
	return c.Timeouts.Validate()
}

// State is what a replica restarts from: everything it persisted.
type State struct {
	// Root is the last finalized block.
	Root *model.Block
	// Blocks are persisted blocks above Root, in any order.
	Blocks []*model.Block
	// Recent are finalized blocks below Root, in any order: with
	// reputation on, leaders are computed from Reputation.Span() views of
	// ancestry, which may reach below the finalized block. Missing ones only
	// risk a replica computing another leader than its peers for a view.
	Recent   []*model.Block
	Safety   safety.Data
	Liveness pacemaker.Data
}

// GenesisState is the state of a replica that has never run: the root block
// is final, certified by the root QC, and the replica is in the view after it.
func GenesisState(root *model.Block, rootQC *model.QC) State {
	return State{
		Root:     root,
		Safety:   safety.Data{LockedView: rootQC.View, HighestAcknowledgedView: root.View, HighestProposedView: root.View},
		Liveness: pacemaker.Data{CurrentView: root.View + 1, NewestQC: rootQC},
	}
}

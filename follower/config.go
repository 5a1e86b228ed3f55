package follower

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/prometheus/client_golang/prometheus"
)

// Expected outcomes of handing the engine a proposal or a range. Only
// ErrInvalid means the sender misbehaved (it is reported); the others are
// benign and only counted.
var (
	// ErrInvalid wraps every rejection of a block, proposal or range that
	// no honest node sends: a bad signature or certificate, a proposer who
	// is not the view's leader, a broken hash link, a malformed range. It
	// wraps model.ErrInvalid, so errors.Is works with either.
	ErrInvalid = fmt.Errorf("follower: %w", model.ErrInvalid)
	// ErrUnknownEpoch: the view lies outside every epoch the schedule
	// knows. The block is dropped at once, without being verified or
	// cached; an honest node may send it (it is ahead of us), so the sender
	// is not reported. It wraps committee.ErrUnknownView.
	ErrUnknownEpoch = fmt.Errorf("follower: %w", committee.ErrUnknownView)
	// ErrStale: at or below the finalized view; it can never matter again.
	ErrStale = errors.New("follower: at or below the finalized view")
	// ErrKnown: the block is already cached, certified or stored.
	ErrKnown = errors.New("follower: block already known")
	// ErrViewFull: the view already holds MaxProposalsPerView proposals (its
	// leader equivocated, and evidence was recorded).
	ErrViewFull = errors.New("follower: too many proposals for one view")
	// ErrViewCertified: another block of the view is already certified, so
	// no other proposal of that view can ever be.
	ErrViewCertified = errors.New("follower: another block of the view is certified")
	// ErrStopped: the engine was stopped (or stopped itself after a store
	// failure; Err says why).
	ErrStopped = errors.New("follower: stopped")
)

// ScheduleSource returns the schedule blocks are checked against. It is
// called for every input, so a schedule that grows with new epochs is seen
// at once; it must be safe for concurrent use and cheap.
type ScheduleSource func() committee.Schedule

// StaticSchedule is a ScheduleSource for a schedule that never changes.
func StaticSchedule(s committee.Schedule) ScheduleSource {
	return func() committee.Schedule { return s }
}

// Config configures an Engine.
type Config struct {
	// Schedule says which committee (identity table) owns each view.
	Schedule ScheduleSource
	// Scheme verifies signatures (crypto.BLS() for real networks).
	Scheme crypto.Scheme
	// Root is the trusted root block (genesis or snapshot) and RootQC its
	// signature-less certificate. They are used when the store is empty.
	Root   *model.Block
	RootQC *model.QC
	// Store persists certified blocks and finality.
	Store Store
	// LeadersFromAncestry: the chain draws leaders with reputation
	// (package reputation), so a proposer check needs the proposal's
	// parent. The follower then skips it: it stores only certified blocks,
	// and the QC that certifies one was signed by a supermajority whose
	// honest members checked the proposer with the parent.
	LeadersFromAncestry bool

	// MaxUncertified bounds the blocks in the uncertified cache (default
	// 1024); MaxUncertifiedBytes bounds their payloads (default 64 MiB).
	// Beyond either, the blocks of the lowest views are evicted.
	MaxUncertified      int
	MaxUncertifiedBytes int
	// MaxProposalsPerView bounds the distinct proposals kept for one view
	// (default 4). More than one means the leader equivocated; the rest are
	// dropped before any signature check.
	MaxProposalsPerView int
	// MaxDetached bounds certified blocks whose parent is not connected
	// yet (default 4096, enough for several parallel range answers).
	MaxDetached int
	// MaxPendingQCs bounds verified QCs for blocks not seen yet (default 1024).
	MaxPendingQCs int
	// MaxRange bounds the blocks of one range (default MaxRangeBlocks).
	MaxRange int
	// Workers is the size of the verification pool (default 2); QueueSize
	// bounds inputs waiting for a worker (default 4·Workers).
	Workers   int
	QueueSize int
	// PerBlockValidation checks the certificate of every block of a range
	// instead of the chained check (hash links plus the last block's QC).
	// It exists to measure what chained validation saves (floe bench
	// follower) and for operators who want it anyway; it changes cost, not
	// what is accepted.
	PerBlockValidation bool
	// MaxRecords bounds the misbehaviour records kept (default 1024).
	MaxRecords int

	// OnFinalized is called with newly finalized blocks, oldest first, after
	// they were stored, in order, one call at a time. It must not block for
	// long: it runs while the engine's state is locked.
	OnFinalized func([]*model.Block)
	// BeforeSave is called with newly finalized blocks before they are
	// stored; what it returns is stored in the same batch (a node passes
	// its epoch state, so the schedule always matches the finalized chain
	// on disk). An error stops the engine.
	BeforeSave func(finalized []*model.Block) (extra []byte, err error)
	// OnProposal is called with every proposal the engine verified and
	// kept (re-serving followers stream them on).
	OnProposal func(*model.Proposal)
	// OnCertified is called with newly connected certified blocks after
	// they were stored, under the same rules (re-serving followers use it).
	OnCertified func(blocks []*model.Block, tipQC *model.QC)

	Logger  *slog.Logger
	Metrics prometheus.Registerer // nil: metrics are kept but not registered
}

// MaxRangeBlocks is the default and largest range the engine accepts, and
// what sync endpoints serve at most per request.
const MaxRangeBlocks = 512

func (c *Config) withDefaults() error {
	switch {
	case c.Schedule == nil:
		return errors.New("follower config: no schedule source")
	case c.Scheme == nil:
		return errors.New("follower config: no signature scheme")
	case c.Root == nil || c.RootQC == nil || c.RootQC.BlockID != c.Root.ID():
		return errors.New("follower config: root block and its root QC are required")
	case c.Store == nil:
		return errors.New("follower config: no store")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxUncertified, 1024)
	def(&c.MaxUncertifiedBytes, 64<<20)
	def(&c.MaxProposalsPerView, 4)
	def(&c.MaxDetached, 4096)
	def(&c.MaxPendingQCs, 1024)
	def(&c.MaxRange, MaxRangeBlocks)
	def(&c.Workers, 2)
	def(&c.QueueSize, 4*c.Workers)
	def(&c.MaxRecords, 1024)
	if c.MaxRange > MaxRangeBlocks {
		c.MaxRange = MaxRangeBlocks
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

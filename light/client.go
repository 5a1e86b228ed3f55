package light

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/verify"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// maxMerkleProof bounds an encoded Merkle proof.
const maxMerkleProof = merkle.MaxProofSize

// Genesis is everything a light client trusts: the genesis identity table,
// leader seed and collector clusters, and the chain's epoch rules — the
// chain ID (the genesis block ID, which service events are signed for), the
// signature scheme, the epoch and safety lengths, and the governance keys
// allowed to sign service events.
type Genesis struct {
	Params     epoch.Params
	Identities []epoch.Identity
	Seed       [32]byte
	// Clusters are the genesis epoch's (epoch.AssignClusters of the table
	// and seed); later epochs' come in their EpochSetup and are checked
	// the same way.
	Clusters [][]uint16
	// Pipeline marks a pipeline network (genesis params.clusters > 0):
	// its state is execution nodes' register state, whose Merkle paths
	// hash the register's encoding (state.RegisterID.Encode) rather than
	// the raw key, so state proofs are checked over that encoding.
	Pipeline bool
}

// Step is what one Advance did to the client's schedule.
type Step struct {
	// Counter is the epoch the step concerns: the adopted epoch, or, for a
	// step that only extended, the extended one.
	Counter uint64
	// Extensions is how many fallback extensions of the previous newest
	// epoch the step applied.
	Extensions int
	// Adopted is the newly adopted epoch, nil if the step only extended.
	Adopted *epoch.Epoch
	// Setup and Commit locate the events that set up and committed Adopted.
	SetupHeight, CommitHeight uint64
}

// Changed reports whether the step changed the client's schedule.
func (s Step) Changed() bool { return s.Extensions > 0 || s.Adopted != nil }

// eventPos is a service event's place in the chain: block height, then its
// index in the block's payload.
type eventPos struct {
	height uint64
	index  int
}

func (p eventPos) before(q eventPos) bool {
	return p.height < q.height || (p.height == q.height && p.index < q.index)
}

// Client is a light client. It starts from a trusted Genesis and only ever
// extends its schedule with epochs proven by a committee it already knows.
// Safe for concurrent use; verification holds the client's lock.
type Client struct {
	params   epoch.Params
	rootQC   *model.QC
	pipeline bool

	mu       sync.Mutex
	epochs   []*epoch.Epoch
	schedule *epoch.Schedule
	verifier *verify.Verifier
	// lastEvent is where the newest epoch was committed: the next epoch's
	// setup must come after it in the chain.
	lastEvent eventPos
}

// New starts a client from its trusted genesis.
func New(g Genesis) (*Client, error) {
	st, err := epoch.Genesis(g.Params, g.Identities, g.Seed, g.Clusters)
	if err != nil {
		return nil, fmt.Errorf("light client genesis: %w", err)
	}
	// The root QC is what the block at height 1 carries for the genesis
	// block; it is unsigned and accepted by equality, and its signer
	// bitmap spans the committee (the consensus members), not the table.
	rootQC, err := model.NewRootQC(0, g.Params.Chain, st.Schedule().Last().Committee().Size())
	if err != nil {
		return nil, fmt.Errorf("light client genesis: %w", err)
	}
	c := &Client{params: g.Params, rootQC: rootQC, pipeline: g.Pipeline}
	c.setEpochs(st.Schedule().Epochs())
	return c, nil
}

func (c *Client) setEpochs(epochs []*epoch.Epoch) {
	sch, err := epoch.NewSchedule(epochs)
	if err != nil {
		panic(fmt.Sprintf("light client built a non-contiguous schedule: %v", err)) // Advance only appends checked epochs
	}
	c.epochs = sch.Epochs()
	c.schedule = sch
	c.verifier = verify.New(c.params.ChainID, sch, c.params.Scheme, c.rootQC)
}

// Schedule returns the epochs the client knows (an immutable snapshot).
func (c *Client) Schedule() *epoch.Schedule {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.schedule
}

// Latest is the newest epoch the client knows.
func (c *Client) Latest() *epoch.Epoch { return c.Schedule().Last() }

// Advance checks a transition proof for the epoch after the client's newest
// and, if it holds, extends the client's schedule. A proof that fails any
// check changes nothing. Errors wrap ErrForged, ErrIncomplete, ErrMalformed
// or ErrUnknownEpoch.
func (c *Client) Advance(t *Transition) (Step, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t == nil {
		return Step{}, fmt.Errorf("%w: no transition proof", ErrIncomplete)
	}
	last := c.epochs[len(c.epochs)-1]
	if t.Counter != last.Counter+1 {
		return Step{}, fmt.Errorf("%w: proof for epoch %d, the client needs epoch %d", ErrIncomplete, t.Counter, last.Counter+1)
	}
	if c.params.EpochViews == 0 || last.FinalView == epoch.Forever {
		return Step{}, fmt.Errorf("%w: this chain has no epoch changes, yet the proof claims epoch %d", ErrForged, t.Counter)
	}
	if len(t.Extensions) > MaxExtensions {
		return Step{}, fmt.Errorf("%w: %d extensions", ErrMalformed, len(t.Extensions))
	}
	// Work on a copy; adopt only when everything holds.
	epochs := append([]*epoch.Epoch(nil), c.epochs...)
	step := Step{Counter: last.Counter}
	for i, ext := range t.Extensions {
		cur := epochs[len(epochs)-1]
		switch {
		case ext.From < cur.FinalView:
			continue // an extension the client already applied
		case ext.From > cur.FinalView:
			return Step{}, fmt.Errorf("%w: extension %d starts from view %d, epoch %d ends at view %d (an earlier extension is missing)",
				ErrIncomplete, i, ext.From, cur.Counter, cur.FinalView)
		}
		ext, err := c.checkExtension(epochs, ext)
		if err != nil {
			return Step{}, fmt.Errorf("extension %d of epoch %d: %w", i, cur.Counter, err)
		}
		epochs[len(epochs)-1] = ext
		step.Extensions++
	}
	if t.Setup == nil {
		if t.Commit != nil {
			return Step{}, fmt.Errorf("%w: commit segment without a setup segment", ErrMalformed)
		}
		if step.Extensions > 0 {
			c.setEpochs(epochs)
		}
		return step, nil
	}
	sch, err := epoch.NewSchedule(epochs)
	if err != nil {
		return Step{}, fmt.Errorf("%w: %v", ErrForged, err)
	}
	next, setupPos, commitPos, err := c.checkEvents(verify.New(c.params.ChainID, sch, c.params.Scheme, c.rootQC), epochs[len(epochs)-1], t)
	if err != nil {
		return Step{}, fmt.Errorf("epoch %d: %w", t.Counter, err)
	}
	c.setEpochs(append(epochs, next))
	c.lastEvent = commitPos
	step.Counter = next.Counter
	step.Adopted = next
	step.SetupHeight, step.CommitHeight = setupPos.height, commitPos.height
	return step, nil
}

// checkExtension verifies one extension of the newest epoch under a
// schedule in which that epoch is already extended (the committee must
// sign past its old final view) and returns the extended epoch.
func (c *Client) checkExtension(epochs []*epoch.Epoch, ext Extension) (*epoch.Epoch, error) {
	cur := epochs[len(epochs)-1]
	spec := cur.Spec
	spec.FinalView = cur.FinalView + model.View(c.params.EpochViews)
	extended, err := epoch.New(c.params.Scheme, spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForged, err)
	}
	tentative := append(append([]*epoch.Epoch(nil), epochs[:len(epochs)-1]...), extended)
	sch, err := epoch.NewSchedule(tentative)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForged, err)
	}
	final, err := verifySegment(verify.New(c.params.ChainID, sch, c.params.Scheme, c.rootQC), ext.Segment)
	if err != nil {
		return nil, asForged(err)
	}
	if v := final[0].Header.View; v <= cur.FinalView {
		return nil, fmt.Errorf("%w: the witness block is in view %d, not past the epoch's final view %d", ErrForged, v, cur.FinalView)
	}
	return extended, nil
}

// asForged turns an unknown-epoch error inside a transition proof into a
// forgery: every block of a transition proof belongs to an epoch the client
// already knows.
func asForged(err error) error {
	if errors.Is(err, ErrUnknownEpoch) && !errors.Is(err, ErrForged) {
		return fmt.Errorf("%w: %w", ErrForged, err)
	}
	return err
}

// checkEvents verifies the setup and commit segments and re-applies the
// epoch state machine's rules (epoch.State) to the events they finalize:
// the setup names epoch cur+1, starts right after cur's final view, lasts
// long enough and has a valid identity table; the commit confirms exactly
// that setup and its keys; both are signed by a governance key for this
// chain and sit in blocks early enough (view + SafetyViews < cur's final
// view) that the chain did not fall back to extending cur instead.
func (c *Client) checkEvents(v *verify.Verifier, cur *epoch.Epoch, t *Transition) (*epoch.Epoch, eventPos, eventPos, error) {
	var none eventPos
	setupFinal, err := verifySegment(v, t.Setup)
	if err != nil {
		return nil, none, none, fmt.Errorf("setup segment: %w", asForged(err))
	}
	sb := setupFinal[0]
	events, err := payload.ServiceEventsOf(sb.Payload)
	if err != nil {
		return nil, none, none, fmt.Errorf("%w: setup block payload: %v", ErrForged, err)
	}
	if len(events) == 0 {
		return nil, none, none, fmt.Errorf("%w: the setup segment's first block carries no service events", ErrIncomplete)
	}
	if err := c.inTime(cur, sb, "setup"); err != nil {
		return nil, none, none, err
	}
	var (
		next     *epoch.Epoch
		setup    *epoch.Spec
		setupPos eventPos
		firstErr error
	)
	for i, e := range events {
		if e.Kind != epoch.KindSetup {
			continue
		}
		pos := eventPos{sb.Header.Height, i}
		n, err := c.checkSetup(cur, e, pos)
		if err == nil {
			next, setup, setupPos = n, e.Setup, pos
			break
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if next == nil {
		if firstErr != nil {
			return nil, none, none, firstErr
		}
		return nil, none, none, fmt.Errorf("%w: the setup block carries no EpochSetup", ErrIncomplete)
	}
	// The commit: in its own segment, or later in the setup's.
	candidates := setupFinal
	if t.Commit != nil {
		commitFinal, err := verifySegment(v, t.Commit)
		if err != nil {
			return nil, none, none, fmt.Errorf("commit segment: %w", asForged(err))
		}
		if commitFinal[0].Header.Height <= sb.Header.Height {
			return nil, none, none, fmt.Errorf("%w: commit block at height %d does not follow the setup block at height %d",
				ErrForged, commitFinal[0].Header.Height, sb.Header.Height)
		}
		candidates = commitFinal[:1]
	}
	firstErr = nil
	for _, b := range candidates {
		events, err := payload.ServiceEventsOf(b.Payload)
		if err != nil {
			return nil, none, none, fmt.Errorf("%w: block at height %d: %v", ErrForged, b.Header.Height, err)
		}
		for i, e := range events {
			pos := eventPos{b.Header.Height, i}
			if e.Kind != epoch.KindCommit || !setupPos.before(pos) {
				continue
			}
			err := c.checkCommit(cur, setup, e, b)
			if err == nil {
				return next, setupPos, pos, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr != nil {
		return nil, none, none, firstErr
	}
	return nil, none, none, fmt.Errorf("%w: no final block of the proof carries the EpochCommit for epoch %d", ErrIncomplete, setup.Counter)
}

// inTime checks that an event block is early enough in cur: from view
// FinalView-SafetyViews on, the chain extends cur before applying a
// block's events, and any setup or commit for cur+1 in it is void.
func (c *Client) inTime(cur *epoch.Epoch, b FinalBlock, what string) error {
	if uint64(b.Header.View)+c.params.SafetyViews >= uint64(cur.FinalView) {
		return fmt.Errorf("%w: %s block in view %d, past epoch %d's safety threshold (final view %d − %d)",
			ErrForged, what, b.Header.View, cur.Counter, cur.FinalView, c.params.SafetyViews)
	}
	return nil
}

func (c *Client) checkSetup(cur *epoch.Epoch, e *epoch.Event, pos eventPos) (*epoch.Epoch, error) {
	if err := e.Verify(c.params.Chain, c.params.Authorities); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForged, err)
	}
	sp := e.Setup
	switch {
	case !c.lastEvent.before(pos):
		return nil, fmt.Errorf("%w: EpochSetup at height %d precedes the commit of epoch %d (height %d)", ErrForged, pos.height, cur.Counter, c.lastEvent.height)
	case sp.Counter != cur.Counter+1:
		return nil, fmt.Errorf("%w: EpochSetup for epoch %d, want %d", ErrForged, sp.Counter, cur.Counter+1)
	case sp.FirstView != cur.FinalView+1:
		return nil, fmt.Errorf("%w: EpochSetup for epoch %d starts at view %d, want %d", ErrForged, sp.Counter, sp.FirstView, cur.FinalView+1)
	case uint64(sp.FinalView-sp.FirstView)+1 < c.params.MinEpochViews():
		return nil, fmt.Errorf("%w: EpochSetup for epoch %d lasts %d views, minimum %d", ErrForged, sp.Counter, sp.FinalView-sp.FirstView+1, c.params.MinEpochViews())
	}
	next, err := epoch.New(c.params.Scheme, *sp)
	if err != nil {
		return nil, fmt.Errorf("%w: EpochSetup for epoch %d: %v", ErrForged, sp.Counter, err)
	}
	return next, nil
}

func (c *Client) checkCommit(cur *epoch.Epoch, setup *epoch.Spec, e *epoch.Event, b FinalBlock) error {
	if err := e.Verify(c.params.Chain, c.params.Authorities); err != nil {
		return fmt.Errorf("%w: %v", ErrForged, err)
	}
	if err := c.inTime(cur, b, "commit"); err != nil {
		return err
	}
	cm := e.Commit
	switch {
	case cm.Counter != setup.Counter || cm.SetupID != setup.ID():
		return fmt.Errorf("%w: EpochCommit for epoch %d does not confirm the proven setup of epoch %d", ErrForged, cm.Counter, setup.Counter)
	case len(cm.StakingKeys) != len(setup.Identities):
		return fmt.Errorf("%w: EpochCommit confirms %d keys, the setup has %d members", ErrForged, len(cm.StakingKeys), len(setup.Identities))
	}
	for i, k := range cm.StakingKeys {
		if !bytes.Equal(k, setup.Identities[i].StakingKey) {
			return fmt.Errorf("%w: EpochCommit key %d differs from the setup's committee", ErrForged, i)
		}
	}
	return nil
}

// VerifyFinal checks that a segment proves final the block at height (any
// height if height is 0) and returns that block.
func (c *Client) VerifyFinal(seg *Segment, height uint64) (FinalBlock, error) {
	c.mu.Lock()
	v := c.verifier
	c.mu.Unlock()
	final, err := verifySegment(v, seg)
	if err != nil {
		return FinalBlock{}, err
	}
	if height != 0 && final[0].Header.Height != height {
		return FinalBlock{}, fmt.Errorf("%w: asked for height %d, the segment starts at height %d", ErrIncomplete, height, final[0].Header.Height)
	}
	return final[0], nil
}

// StateResult is a verified statement about the application state.
type StateResult struct {
	Block  FinalBlock // the final block whose execution result was used
	Height uint64     // the height after which the state is read (the result's)
	Root   model.Identifier
	Key    []byte
	Value  []byte // nil: absent
}

// Found reports whether the key is present.
func (r StateResult) Found() bool { return r.Value != nil }

// VerifyState checks a state proof for key: its segment proves a block
// final, and its Merkle proof proves the value (or absence) against that
// block's state commitment. height, if not 0, is the block height asked
// for. In a pipeline network the key names the network-wide register
// (state.RegisterID{Key: key}) and the proof is over its encoding; the
// commitment is the Result the block carries, which until sealing exists
// is one execution node's signed word (docs/light.md, "Pipeline
// networks").
func (c *Client) VerifyState(p *StateProof, key []byte, height uint64) (StateResult, error) {
	if p == nil {
		return StateResult{}, fmt.Errorf("%w: no state proof", ErrIncomplete)
	}
	path := key
	if c.pipeline {
		id := state.RegisterID{Key: string(key)}
		if err := id.Check(); err != nil {
			return StateResult{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		path = id.Encode()
	}
	if !bytes.Equal(p.Key, key) {
		return StateResult{}, fmt.Errorf("%w: proof is for another key", ErrIncomplete)
	}
	b, err := c.VerifyFinal(p.Segment, height)
	if err != nil {
		return StateResult{}, err
	}
	if p.Result == nil {
		return StateResult{}, fmt.Errorf("%w: state proof without the block's result", ErrIncomplete)
	}
	res, err := p.Result.Verify(b.Header.PayloadHash)
	if err != nil {
		return StateResult{}, fmt.Errorf("%w: %v", ErrForged, err)
	}
	if err := merkle.Verify(merkle.Hash(res.Root), path, p.Value, p.Proof); err != nil {
		return StateResult{}, fmt.Errorf("%w: state at height %d: %v", ErrForged, res.Height, err)
	}
	return StateResult{Block: b, Height: res.Height, Root: res.Root, Key: bytes.Clone(key), Value: bytes.Clone(p.Value)}, nil
}

// maxFastForwardSteps bounds one FastForward (a century of weekly epochs,
// each possibly extended a few times).
const maxFastForwardSteps = 1 << 16

// FastForward advances the client epoch by epoch until the source has no
// newer epoch, reporting every step to onStep (may be nil). It stops at the
// first answer that fails verification and returns its error; the steps
// before it stay adopted.
func (c *Client) FastForward(ctx context.Context, src Source, onStep func(Step)) ([]Step, error) {
	var steps []Step
	for len(steps) < maxFastForwardSteps {
		if err := ctx.Err(); err != nil {
			return steps, err
		}
		next := c.Latest().Counter + 1
		t, err := src.Transition(ctx, next)
		if errors.Is(err, ErrUnavailable) {
			return steps, nil
		}
		if err != nil {
			return steps, fmt.Errorf("fetch transition to epoch %d: %w", next, err)
		}
		step, err := c.Advance(t)
		if err != nil {
			return steps, fmt.Errorf("transition to epoch %d: %w", next, err)
		}
		if !step.Changed() {
			return steps, nil
		}
		steps = append(steps, step)
		if onStep != nil {
			onStep(step)
		}
		if step.Adopted == nil {
			return steps, nil // extended; the next epoch is not committed yet
		}
	}
	return steps, nil
}

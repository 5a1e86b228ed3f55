// Package testchain builds synthetic floe chains with real keys for tests
// and benchmarks: blocks with real QCs and TCs, service events signed by a
// governance key, and a small application state with a Merkle root.
package testchain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/light"
	blockpayload "github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// EpochChainConfig describes a multi-epoch chain.
type EpochChainConfig struct {
	// Scheme signs everything; nil means BLS12-381. Use crypto.Fast only
	// where nothing tests forgery.
	Scheme crypto.Scheme
	// Epochs is how many epoch transitions the chain goes through: epochs
	// 1..Epochs are set up and committed.
	Epochs int
	// Members is the committee size (default 4). Each epoch replaces one
	// member: epoch k's committee is members k..k+Members-1 of a key pool.
	Members int
	// Collectors is how many collection members each epoch's table lists
	// after its committee (a window over a second key pool, moving like
	// the committee's); they are dealt into Clusters clusters (0: the
	// default, one). They never sign the chain's blocks.
	Collectors, Clusters int
	// EpochViews and SafetyViews are the chain's epoch rules (defaults
	// 100 and 10).
	EpochViews, SafetyViews uint64
	// Extend lists epochs that fall back once: their successor's setup
	// comes too late, the epoch is extended by EpochViews, and the setup
	// is repeated for the new view range.
	Extend map[uint64]bool
	// Tail is how many blocks in consecutive views follow the last
	// transition (default 8), so that recent heights are provable.
	Tail int
	// Registers commits the state as a pipeline network's execution
	// nodes do: each key is the network-wide register
	// state.RegisterID{Key: key}, whose path hashes the register's
	// encoding; the light genesis is then a pipeline network's.
	Registers bool
}

// EpochChain is a finalized chain built from an EpochChainConfig. Heights
// are indices into Blocks; Blocks[0] is the genesis root. It implements
// light.BlockReader and light.StateProver.
type EpochChain struct {
	Params     epoch.Params
	Identities []epoch.Identity // genesis identity table
	Seed       [32]byte         // genesis leader seed
	Clusters   [][]uint16       // genesis clusters
	Blocks     []*model.Block
	// Governance signs the service events; its public key is the one
	// authority in Params.
	Governance ed25519.PrivateKey
	// SetupHeights and CommitHeights locate the accepted events of each
	// epoch (by counter); ExtendedAt, the blocks that triggered fallback.
	SetupHeights, CommitHeights map[uint64]uint64
	ExtendedAt                  map[uint64][]uint64

	cfg    EpochChainConfig
	state  *epoch.State
	keys   map[model.NodeID]crypto.PrivateKey
	pool   []memberKey
	rootQC *model.QC
	// writes[h] is what executing height h wrote; roots[h] is the state
	// root after it.
	writes map[uint64][]kv
	roots  []model.Identifier
	tree   *merkle.Tree
}

type memberKey struct {
	identity epoch.Identity
	staking  crypto.PrivateKey
}

type kv struct{ key, value []byte }

// NewEpochChain builds the chain. It applies every block to an
// epoch.State, exactly as nodes would, and fails if the state machine does
// not accept the events as planned.
func NewEpochChain(cfg EpochChainConfig) (*EpochChain, error) {
	if cfg.Scheme == nil {
		cfg.Scheme = crypto.BLS()
	}
	if cfg.Members == 0 {
		cfg.Members = 4
	}
	if cfg.EpochViews == 0 {
		cfg.EpochViews = 100
	}
	if cfg.SafetyViews == 0 {
		cfg.SafetyViews = 10
	}
	if cfg.Tail == 0 {
		cfg.Tail = 8
	}
	if cfg.EpochViews < 4*cfg.SafetyViews+16 {
		return nil, fmt.Errorf("testchain: epoch_views %d too short for the block plan (want ≥ 4·safety + 16)", cfg.EpochViews)
	}
	c := &EpochChain{
		cfg: cfg, keys: make(map[model.NodeID]crypto.PrivateKey),
		SetupHeights: map[uint64]uint64{}, CommitHeights: map[uint64]uint64{}, ExtendedAt: map[uint64][]uint64{},
		writes: map[uint64][]kv{}, tree: merkle.New(),
	}
	gov := sha256.Sum256([]byte("testchain governance"))
	c.Governance = ed25519.NewKeyFromSeed(gov[:])
	for i := 0; i < cfg.Members+cfg.Epochs+cfg.Collectors+cfg.Epochs; i++ {
		k, err := c.member(i)
		if err != nil {
			return nil, err
		}
		c.pool = append(c.pool, k)
		c.keys[k.identity.ID()] = k.staking
	}
	root, err := model.NewRootBlock(ChainID, 0, 0, 0, []byte("floe genesis:testchain"))
	if err != nil {
		return nil, err
	}
	c.Blocks = []*model.Block{root}
	c.roots = []model.Identifier{model.Identifier(merkle.Empty)}
	c.Params = epoch.Params{
		Chain: root.ID(), ChainID: root.ChainID, Scheme: cfg.Scheme, EpochViews: cfg.EpochViews, SafetyViews: cfg.SafetyViews,
		Authorities: []ed25519.PublicKey{c.Governance.Public().(ed25519.PublicKey)},
	}
	c.Identities = c.committeeOf(0)
	c.Seed = seedOf(0)
	if c.Clusters, err = c.clustersOf(c.Identities, c.Seed); err != nil {
		return nil, err
	}
	if c.state, err = epoch.Genesis(c.Params, c.Identities, c.Seed, c.Clusters); err != nil {
		return nil, err
	}
	if c.rootQC, err = model.NewRootQC(0, root.ID(), cfg.Members); err != nil {
		return nil, err
	}
	if err := c.build(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *EpochChain) member(i int) (memberKey, error) {
	seed := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("testchain member"), uint64(i)))
	sk, err := c.cfg.Scheme.KeyFromSeed(seed[:])
	if err != nil {
		return memberKey{}, err
	}
	pop, err := sk.ProvePossession()
	if err != nil {
		return memberKey{}, err
	}
	role := epoch.RoleConsensus
	if i >= c.cfg.Members+c.cfg.Epochs {
		role = epoch.RoleCollection
	}
	return memberKey{staking: sk, identity: epoch.Identity{
		Name: fmt.Sprintf("m%d", i), Role: role, Weight: 1 + uint64(i%3),
		StakingKey: sk.PublicKey().Bytes(), Possession: pop,
		NetworkKey: ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey),
		Address:    fmt.Sprintf("127.0.0.1:%d", 40000+i),
	}}, nil
}

// committeeOf is epoch k's identity table: a window over the key pool that
// moves by one member per epoch, then as many collectors from a window over
// the collectors' pool that moves alike.
func (c *EpochChain) committeeOf(k uint64) []epoch.Identity {
	out := make([]epoch.Identity, c.cfg.Members, c.cfg.Members+c.cfg.Collectors)
	for i := range out {
		out[i] = c.pool[int(k)+i].identity
	}
	collectors := c.pool[c.cfg.Members+c.cfg.Epochs:]
	for i := 0; i < c.cfg.Collectors; i++ {
		out = append(out, collectors[int(k)+i].identity)
	}
	return out
}

// clustersOf deals an epoch's collectors into the configured clusters.
func (c *EpochChain) clustersOf(ids []epoch.Identity, seed [32]byte) ([][]uint16, error) {
	k := c.cfg.Clusters
	if k == 0 {
		k = epoch.DefaultClusters(ids)
	}
	return epoch.AssignClusters(ids, seed, k)
}

func seedOf(k uint64) [32]byte {
	return sha256.Sum256(binary.BigEndian.AppendUint64([]byte("testchain seed"), k))
}

func (c *EpochChain) last() *model.Block { return c.Blocks[len(c.Blocks)-1] }

// build lays out, for every epoch, a few blocks in consecutive views with
// the next epoch's setup, a jump (by TC) to the middle of the epoch for the
// commit, and a jump to the next epoch's first view. Only these blocks
// exist: the views in between are skipped by timeout certificates, which
// keeps a year of epochs to a few hundred blocks.
func (c *EpochChain) build() error {
	view := model.View(1)
	for k := uint64(0); k < uint64(c.cfg.Epochs); k++ {
		cur := c.state.Schedule().Last()
		if cur.Counter != k {
			return fmt.Errorf("testchain: epoch %d is current, planned %d", cur.Counter, k)
		}
		if err := c.run(&view, 2, nil); err != nil {
			return err
		}
		if err := c.setup(&view, k); err != nil {
			return err
		}
		if c.cfg.Extend[k] {
			// Fall back: a finalized block past the safety threshold
			// without a commit extends epoch k (and voids the setup).
			f := c.state.Schedule().Last().FinalView
			view = f - model.View(c.cfg.SafetyViews)
			if err := c.run(&view, 2, nil); err != nil {
				return err
			}
			if nf := c.state.Schedule().Last().FinalView; nf != f+model.View(c.cfg.EpochViews) {
				return fmt.Errorf("testchain: epoch %d not extended (final view %d)", k, nf)
			}
			// Pass the old final view (witnesses of the extension), then
			// set up again for the new view range.
			view = f + 1
			if err := c.run(&view, 2, nil); err != nil {
				return err
			}
			if err := c.setup(&view, k); err != nil {
				return err
			}
		}
		e := c.state.Schedule().Last()
		mid := e.FirstView + (e.FinalView-e.FirstView)/2
		view = max(view+1, mid)
		pending := c.state.Pending()
		if pending == nil {
			return fmt.Errorf("testchain: no pending setup for epoch %d", k+1)
		}
		commit := epoch.NewCommit(c.Params.Chain, pending, c.Governance)
		if err := c.add(view, []*epoch.Event{commit}); err != nil {
			return err
		}
		c.CommitHeights[k+1] = c.last().Height
		view++
		if err := c.run(&view, 3, nil); err != nil {
			return err
		}
		if got := c.state.Schedule().Last().Counter; got != k+1 {
			return fmt.Errorf("testchain: epoch %d not committed", k+1)
		}
		view = e.FinalView + 1
	}
	return c.run(&view, c.cfg.Tail+2, nil)
}

// setup adds the EpochSetup of epoch k+1 and the blocks that finalize it.
func (c *EpochChain) setup(view *model.View, k uint64) error {
	cur := c.state.Schedule().Last()
	spec := epoch.Spec{
		Counter: k + 1, FirstView: cur.FinalView + 1, FinalView: cur.FinalView + model.View(c.cfg.EpochViews),
		Identities: c.committeeOf(k + 1), Seed: seedOf(k + 1),
	}
	var err error
	if spec.Clusters, err = c.clustersOf(spec.Identities, spec.Seed); err != nil {
		return err
	}
	if err := c.add(*view, []*epoch.Event{epoch.NewSetup(c.Params.Chain, spec, c.Governance)}); err != nil {
		return err
	}
	c.SetupHeights[k+1] = c.last().Height
	*view++
	return c.run(view, 3, nil)
}

// run adds n blocks in consecutive views from *view on.
func (c *EpochChain) run(view *model.View, n int, events []*epoch.Event) error {
	for i := 0; i < n; i++ {
		if err := c.add(*view, events); err != nil {
			return err
		}
		*view++
	}
	return nil
}

// add appends a block in view v extending the newest block: with a QC for
// it, a TC for v-1 when views were skipped, a result commitment to the
// previous height, and either service events or a few state writes.
func (c *EpochChain) add(v model.View, events []*epoch.Event) error {
	parent := c.last()
	h := parent.Height + 1
	qc := c.rootQC
	if !parent.IsRoot() {
		var err error
		if qc, err = c.SignQC(parent.View, parent.ID()); err != nil {
			return err
		}
	}
	var tc *model.TC
	if qc.View+1 != v {
		var err error
		if tc, err = c.signTC(v-1, qc); err != nil {
			return err
		}
	}
	com, err := c.state.Schedule().CommitteeAt(v)
	if err != nil {
		return fmt.Errorf("testchain: block in view %d: %w", v, err)
	}
	pl := &blockpayload.Payload{Result: &blockpayload.Result{Height: h - 1, Root: c.roots[h-1]}}
	if len(events) > 0 {
		pl.ServiceEvents = events
	} else {
		pl.Transactions = [][]byte{[]byte(fmt.Sprintf("block %d", h))}
		c.writes[h] = []kv{
			{[]byte(fmt.Sprintf("k/%d", h)), []byte(fmt.Sprintf("v/%d", h))},
			{[]byte("latest"), []byte(fmt.Sprintf("%d", h))},
		}
	}
	payload := pl.Encode()
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID,
		View: v, Height: h, ParentID: parent.ID(), QC: qc, TC: tc,
		ProposerID: com.Leader(v), Timestamp: int64(h) * 1000,
		PayloadHash: model.PayloadHash(payload),
	}, payload)
	if err != nil {
		return err
	}
	out, err := c.state.Apply(v, events)
	if err != nil {
		return err
	}
	if len(out.Rejected) > 0 {
		return fmt.Errorf("testchain: height %d: %v", h, out.Rejected[0].Err)
	}
	if out.Extended {
		cnt := c.state.Schedule().Last().Counter
		c.ExtendedAt[cnt] = append(c.ExtendedAt[cnt], h)
	}
	c.Blocks = append(c.Blocks, b)
	c.roots = append(c.roots, c.execute(h))
	return nil
}

// path is a key's place in the state tree.
func (c *EpochChain) path(key []byte) merkle.Hash {
	if c.cfg.Registers {
		return state.RegisterID{Key: string(key)}.Path()
	}
	return merkle.KeyHash(key)
}

func (c *EpochChain) execute(h uint64) model.Identifier {
	var ops []merkle.Op
	for _, w := range c.writes[h] {
		ops = append(ops, merkle.Op{Key: c.path(w.key), Value: merkle.ValueHash(w.value)})
	}
	return model.Identifier(c.tree.Update(ops))
}

// SignQC has the whole committee of view v sign block id.
func (c *EpochChain) SignQC(v model.View, id model.Identifier) (*model.QC, error) {
	return c.SignQCBy(v, id, -1)
}

// SignQCBy is SignQC with only the first n members (canonical order)
// signing; n < 0 means all.
func (c *EpochChain) SignQCBy(v model.View, id model.Identifier, n int) (*model.QC, error) {
	signers, agg, _, err := c.sign(v, n, crypto.DomainVote, model.VoteMessage(c.Params.ChainID, v, id))
	if err != nil {
		return nil, err
	}
	return model.NewQC(v, id, signers, agg)
}

func (c *EpochChain) signTC(v model.View, newest *model.QC) (*model.TC, error) {
	signers, agg, count, err := c.sign(v, -1, crypto.DomainTimeout, model.TimeoutMessage(c.Params.ChainID, v, newest.View))
	if err != nil {
		return nil, err
	}
	views := make([]model.View, count)
	for i := range views {
		views[i] = newest.View
	}
	return model.NewTC(v, newest, views, signers, agg)
}

// sign has the first n members (all if n < 0) of view v's committee sign
// msg and aggregates their signatures.
func (c *EpochChain) sign(v model.View, n int, d crypto.Domain, msg []byte) (model.SignerSet, []byte, int, error) {
	com, err := c.state.Schedule().CommitteeAt(v)
	if err != nil {
		return model.SignerSet{}, nil, 0, err
	}
	signers, err := model.NewSignerSet(com.Size())
	if err != nil {
		return model.SignerSet{}, nil, 0, err
	}
	var sigs [][]byte
	for i, m := range com.Members() {
		if n >= 0 && i >= n {
			break
		}
		sig, err := c.keys[m.ID].Sign(d, msg)
		if err != nil {
			return model.SignerSet{}, nil, 0, err
		}
		sigs = append(sigs, sig)
		signers.Set(i)
	}
	agg, err := c.cfg.Scheme.AggregateSignatures(sigs)
	return signers, agg, len(sigs), err
}

// Schedule is the schedule the chain's blocks establish.
func (c *EpochChain) Schedule() *epoch.Schedule { return c.state.Schedule() }

// Committee returns the committee of view v.
func (c *EpochChain) Committee(v model.View) (*committee.Committee, error) {
	return c.state.Schedule().CommitteeAt(v)
}

// FinalizedByHeight returns the block at height.
func (c *EpochChain) FinalizedByHeight(height uint64) (*model.Block, error) {
	if height >= uint64(len(c.Blocks)) {
		return nil, fmt.Errorf("testchain: no block at height %d", height)
	}
	return c.Blocks[height], nil
}

// FinalizedHeight is the newest height. (Every block counts as finalized;
// the newest two are provable only with a QC from elsewhere.)
func (c *EpochChain) FinalizedHeight() uint64 { return c.last().Height }

// ErrNoState is returned by ProveState for a height the chain has not
// executed.
var ErrNoState = errors.New("testchain: no state at that height")

// ProveState proves key's value after executing resultHeight, by rebuilding
// the state of that height (the chain is small).
func (c *EpochChain) ProveState(key []byte, resultHeight uint64) (value, proof []byte, err error) {
	if resultHeight >= uint64(len(c.roots)) {
		return nil, nil, ErrNoState
	}
	values := map[string][]byte{}
	t := merkle.New()
	for h := uint64(1); h <= resultHeight; h++ {
		var ops []merkle.Op
		for _, w := range c.writes[h] {
			ops = append(ops, merkle.Op{Key: c.path(w.key), Value: merkle.ValueHash(w.value)})
			values[string(w.key)] = w.value
		}
		t.Update(ops)
	}
	if model.Identifier(t.Root()) != c.roots[resultHeight] {
		return nil, nil, fmt.Errorf("testchain: rebuilt state root of height %d differs", resultHeight)
	}
	return slices.Clone(values[string(key)]), t.Prove(c.path(key)).Encode(), nil
}

// Root is the state root after executing height.
func (c *EpochChain) Root(height uint64) model.Identifier { return c.roots[height] }

// LightGenesis is what a light client of this chain trusts.
func (c *EpochChain) LightGenesis() light.Genesis {
	return light.Genesis{Params: c.Params, Identities: c.Identities, Seed: c.Seed, Clusters: c.Clusters, Pipeline: c.cfg.Registers}
}

// LightSource serves light proofs of this chain, with an event index built
// by scanning it.
func (c *EpochChain) LightSource() (*light.ChainSource, error) {
	idx, err := light.NewScanIndex(c.LightGenesis())
	if err != nil {
		return nil, err
	}
	if err := idx.Update(c); err != nil {
		return nil, err
	}
	return &light.ChainSource{Blocks: c, Index: idx, Prover: c}, nil
}

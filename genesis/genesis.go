// Package genesis holds what every node of a network must agree on before
// the first block: the committee (staking keys with proofs of possession,
// weights, network keys and addresses), the leader-selection seed and the
// consensus parameters; and each node's own keys.
package genesis

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/floe-bft/floe/app/kvstore"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/consensus/pacemaker"
	"github.com/floe-bft/floe/consensus/reputation"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/payload"
)

// Validator is one member of the identity table as written in the genesis
// file (and in validator.json). Every role has one; only consensus members
// are in the committee.
type Validator struct {
	Name string `json:"name"`
	// Role is the member's role: "consensus", "collection", "execution"
	// or "access". Absent means consensus: files written before roles
	// existed list only the committee.
	Role       string `json:"role,omitempty"`
	Weight     uint64 `json:"weight"`
	StakingKey string `json:"staking_key"` // BLS12-381 G1, hex
	Possession string `json:"possession"`  // proof of possession of the staking key, hex
	NetworkKey string `json:"network_key"` // ed25519 public key, hex
	Address    string `json:"address"`     // host:port of its peer-to-peer listener
	// API is the base URL of the member's client API (http://host:port),
	// where the pipeline's roles reach each other: access nodes submit to
	// collectors, collectors hand guarantees and execution nodes results
	// to consensus nodes, execution and access nodes fetch collections
	// from their guarantors. It is a directory entry of the genesis file,
	// not of the signed identity table (docs/pipeline.md, "Roles and
	// wiring"). Optional outside pipeline networks.
	API string `json:"api,omitempty"`
}

// ParsedRole is the member's role (consensus when absent).
func (v Validator) ParsedRole() (epoch.Role, error) {
	if v.Role == "" {
		return epoch.RoleConsensus, nil
	}
	return epoch.ParseRole(v.Role)
}

// Params are the consensus parameters.
type Params struct {
	TimeoutMinMS         int64   `json:"timeout_min_ms"`
	TimeoutMaxMS         int64   `json:"timeout_max_ms"`
	HappyPathFailedViews int     `json:"happy_path_failed_views"`
	TimeoutIncrease      float64 `json:"timeout_increase"`
	// BlockIntervalMS is how long a leader waits after entering its view
	// before proposing, unless its block is already full: it batches light
	// load into fewer, larger blocks (50 by default: at 1,000 tx/s a third
	// of the CPU of 5 ms, for ~110 ms more latency; docs/performance.md).
	BlockIntervalMS int64 `json:"block_interval_ms"`
	// IdleBlockIntervalMS is how long a leader with nothing to order waits
	// before proposing (0: never waits longer than block_interval_ms). It
	// keeps an idle network from spinning through empty blocks; work ends
	// the wait at once.
	IdleBlockIntervalMS int64 `json:"idle_block_interval_ms,omitempty"`
	MaxBlockBytes       int   `json:"max_block_bytes"`
	MaxBlockTxs         int   `json:"max_block_txs"`
	// EpochViews is the genesis epoch's length in views and the length of a
	// fallback extension; 0 means one epoch forever (no committee changes).
	EpochViews uint64 `json:"epoch_views,omitempty"`
	// EpochSafetyViews: the next epoch must be committed in a block
	// finalized more than this many views before the current epoch ends.
	EpochSafetyViews uint64 `json:"epoch_safety_views,omitempty"`
	// LeaderReputation draws leaders from recent activity in each block's
	// ancestry so that a crashed member stops leading views that can only
	// fail (docs/leader-reputation.md). Absent: the plain stake-weighted
	// schedule, as every chain created before it had.
	LeaderReputation *LeaderReputation `json:"leader_reputation,omitempty"`
	// Clusters is how many clusters the genesis epoch's collectors are
	// dealt into (epoch.AssignClusters). 0 or absent: one cluster if there
	// are collectors, none otherwise; with collectors it is 1..their
	// number (at most epoch.MaxClusters).
	Clusters int `json:"clusters,omitempty"`
}

// LeaderReputation are the reputation parameters (package reputation).
type LeaderReputation struct {
	// WindowViews of history count as recent activity.
	WindowViews uint64 `json:"window_views"`
	// LagViews: activity in the views just before a view does not count
	// for it (at least 2).
	LagViews uint64 `json:"lag_views"`
	// ActiveFactor is how much more an active member weighs (2..15).
	ActiveFactor uint64 `json:"active_factor"`
}

// DefaultLeaderReputation is what DefaultParams, `floe genesis` and
// `floe testnet` write.
func DefaultLeaderReputation() *LeaderReputation {
	d := reputation.Default()
	return &LeaderReputation{WindowViews: d.Window, LagViews: d.Lag, ActiveFactor: d.ActiveFactor}
}

// Reputation converts the parameters for the consensus core (the zero
// value, reputation off, when absent).
func (p Params) Reputation() reputation.Params {
	if p.LeaderReputation == nil {
		return reputation.Params{}
	}
	r := p.LeaderReputation
	return reputation.Params{Window: r.WindowViews, Lag: r.LagViews, ActiveFactor: r.ActiveFactor}
}

// ProductionEpochs sets a production epoch profile: about a week of one-second
// views, with the transition settled at least an hour before the end.
func (p *Params) ProductionEpochs() {
	p.EpochViews, p.EpochSafetyViews = 7*24*3600, 3600
}

// TestEpochs sets short epochs of the given length, for tests and the local
// testnet: the transition must be settled a quarter of an epoch before its end.
func (p *Params) TestEpochs(views uint64) {
	p.EpochViews, p.EpochSafetyViews = views, max(views/4, 1)
}

// DefaultIdleBlockIntervalMS is the idle block interval `floe genesis` and
// `floe testnet` write: an idle network makes two blocks a second instead of
// one per round trip, and work ends a leader's wait at once. DefaultParams
// leave it 0 (no idle pacing) for networks whose tests count views.
const DefaultIdleBlockIntervalMS = 500

// DefaultParams suit a local network on one machine.
func DefaultParams() Params {
	return Params{TimeoutMinMS: 1000, TimeoutMaxMS: 10000, HappyPathFailedViews: 6, TimeoutIncrease: 1.2,
		BlockIntervalMS: 50, MaxBlockBytes: 2 << 20, MaxBlockTxs: 10000, LeaderReputation: DefaultLeaderReputation()}
}

// Timeouts converts the parameters for the pacemaker.
func (p Params) Timeouts() pacemaker.Config {
	return pacemaker.Config{
		Min: time.Duration(p.TimeoutMinMS) * time.Millisecond, Max: time.Duration(p.TimeoutMaxMS) * time.Millisecond,
		HappyPathFailedViews: p.HappyPathFailedViews, Increase: p.TimeoutIncrease,
	}
}

// ErrVersion is returned for a genesis file of another protocol version.
var ErrVersion = errors.New("genesis: protocol version mismatch")

// MaxFileBytes bounds a genesis file, which is read whole into memory. It
// leaves room for an initial application state of
// kvstore.MaxStateFileBytes as `floe export` wrote it: embedded in the
// genesis, each entry is indented a few bytes deeper, never by as much as
// the entry itself.
const MaxFileBytes int64 = 2 * kvstore.MaxStateFileBytes

// ErrTooLarge marks a genesis file over MaxFileBytes, refused before it is
// read (Load) or written (Save).
var ErrTooLarge = errors.New("genesis: file too large")

// Genesis is the genesis file.
type Genesis struct {
	// ProtocolVersion is the version of the signed bytes and encodings the
	// network speaks (model.ProtocolVersion); a build of another version
	// refuses the file instead of misreading the chain.
	ProtocolVersion int         `json:"protocol_version"`
	ChainID         string      `json:"chain_id"`
	GenesisTime     time.Time   `json:"genesis_time"`
	LeaderSeed      string      `json:"leader_seed"` // 32 bytes hex
	Params          Params      `json:"params"`
	Validators      []Validator `json:"validators"`
	// Governance lists the ed25519 keys (hex) allowed to sign epoch service
	// events (EpochSetup, EpochCommit).
	Governance []string `json:"governance_keys,omitempty"`
	// AppState is the initial application state (nil: empty), typically
	// exported from the network this one replaces (docs/upgrades.md). The
	// genesis block commits to its root, so nodes given different states
	// are on different chains.
	AppState *kvstore.StateFile `json:"app_state,omitempty"`
	// Accounts, in a pipeline network, are the genesis accounts of the
	// accounts VM: with them execution nodes run signed transactions
	// (docs/programs.md); without them the key/value application.
	Accounts *Accounts `json:"accounts,omitempty"`
}

// Member is a validated committee (consensus) member with its peer-to-peer
// identity.
type Member struct {
	ID         model.NodeID
	Name       string
	NetworkKey ed25519.PublicKey
	Address    string
}

// Load reads and validates a genesis file.
func Load(path string) (*Genesis, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if _, _, err := g.Committee(); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if _, err := g.EpochParams(); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	if g.AppState != nil {
		if err := g.AppState.Check(); err != nil {
			return nil, fmt.Errorf("genesis %s: app_state: %w", path, err)
		}
	}
	if g.Accounts != nil {
		if err := g.Accounts.Check(); err != nil {
			return nil, fmt.Errorf("genesis %s: accounts: %w", path, err)
		}
	}
	return &g, nil
}

// readBounded reads a file of at most MaxFileBytes: the size is checked
// before reading, and the read is limited for what is not a regular file.
func readBounded(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close() // read only: a close error loses nothing
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().IsRegular() && fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s has %d bytes, at most %d are read", ErrTooLarge, path, fi.Size(), MaxFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, path, MaxFileBytes)
	}
	return b, nil
}

// InitialRoot is the state root of AppState (the empty tree's root
// without one): the result of height 0.
func (g *Genesis) InitialRoot() ([32]byte, error) {
	if g.AppState == nil {
		return merkle.Empty, nil
	}
	return g.AppState.RootHash()
}

// Save writes the genesis file.
func (g *Genesis) Save(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	if int64(len(b)) >= MaxFileBytes {
		// Load would refuse it; better to fail where it is assembled.
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b)+1, MaxFileBytes)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Committee validates the genesis and builds the committee of its
// consensus members (checking every member's proof of possession, whatever
// its role) and their network identities. It also checks the clusters.
func (g *Genesis) Committee() (*committee.Committee, []Member, error) {
	if g.ProtocolVersion != model.ProtocolVersion {
		return nil, nil, fmt.Errorf("%w: the genesis names protocol version %d, this build speaks %d (a network moves to a new version by starting anew from exported state: docs/upgrades.md)",
			ErrVersion, g.ProtocolVersion, model.ProtocolVersion)
	}
	if g.ChainID == "" {
		return nil, nil, fmt.Errorf("chain_id is empty")
	}
	if err := g.Params.Timeouts().Validate(); err != nil {
		return nil, nil, err
	}
	if g.Params.BlockIntervalMS < 0 || g.Params.BlockIntervalMS >= g.Params.TimeoutMinMS {
		return nil, nil, fmt.Errorf("block_interval_ms must be in [0, timeout_min_ms)")
	}
	if p := g.Params; p.IdleBlockIntervalMS != 0 && (p.IdleBlockIntervalMS < p.BlockIntervalMS || p.IdleBlockIntervalMS >= p.TimeoutMinMS) {
		return nil, nil, fmt.Errorf("idle_block_interval_ms must be 0 or in [block_interval_ms, timeout_min_ms)")
	}
	if r := g.Params.LeaderReputation; r != nil && r.WindowViews == 0 {
		return nil, nil, fmt.Errorf("leader_reputation: window_views must be positive (omit the object to turn reputation off)")
	}
	if err := g.Params.Reputation().Validate(); err != nil {
		return nil, nil, fmt.Errorf("leader_reputation: %w", err)
	}
	if g.Params.MaxBlockBytes <= 0 || g.Params.MaxBlockBytes > model.MaxPayloadSize || g.Params.MaxBlockTxs <= 0 {
		return nil, nil, fmt.Errorf("max_block_bytes must be in (0, %d] and max_block_txs positive", model.MaxPayloadSize)
	}
	seed, err := hex.DecodeString(g.LeaderSeed)
	if err != nil || len(seed) != 32 {
		return nil, nil, fmt.Errorf("leader_seed must be 32 bytes of hex")
	}
	var members []committee.Member
	var net []Member
	seen := make(map[model.NodeID]bool, len(g.Validators))
	for i, v := range g.Validators {
		role, err := v.ParsedRole()
		if err != nil {
			return nil, nil, fmt.Errorf("validator %d (%s): %w", i, v.Name, err)
		}
		pkb, err := hex.DecodeString(v.StakingKey)
		if err != nil {
			return nil, nil, fmt.Errorf("validator %d (%s): staking_key: %w", i, v.Name, err)
		}
		pk, err := crypto.BLS().DecodePublicKey(pkb)
		if err != nil {
			return nil, nil, fmt.Errorf("validator %d (%s): staking_key: %w", i, v.Name, err)
		}
		pop, err := hex.DecodeString(v.Possession)
		if err != nil {
			return nil, nil, fmt.Errorf("validator %d (%s): possession: %w", i, v.Name, err)
		}
		nk, err := hex.DecodeString(v.NetworkKey)
		if err != nil || len(nk) != ed25519.PublicKeySize {
			return nil, nil, fmt.Errorf("validator %d (%s): network_key must be %d hex bytes", i, v.Name, ed25519.PublicKeySize)
		}
		if v.Address == "" {
			return nil, nil, fmt.Errorf("validator %d (%s): address is empty", i, v.Name)
		}
		if err := checkAPI(v.API); err != nil {
			return nil, nil, fmt.Errorf("validator %d (%s): api: %w", i, v.Name, err)
		}
		id := crypto.Sum(pkb)
		if seen[id] {
			// The committee checks its own members; a key may not be in
			// the table twice under any roles either.
			return nil, nil, fmt.Errorf("validator %d (%s): staking key appears twice", i, v.Name)
		}
		seen[id] = true
		if role != epoch.RoleConsensus {
			// Outside the committee, but its key signs elsewhere (cluster
			// blocks, guarantees): the same rogue-key protection applies.
			if v.Weight == 0 {
				return nil, nil, fmt.Errorf("validator %d (%s): zero weight", i, v.Name)
			}
			if err := committee.VerifyPossession(pk, pop); err != nil {
				return nil, nil, fmt.Errorf("validator %d (%s): possession: %w", i, v.Name, err)
			}
			continue
		}
		members = append(members, committee.Member{ID: id, Weight: v.Weight, StakingKey: pk, Possession: pop})
		net = append(net, Member{ID: id, Name: v.Name, NetworkKey: nk, Address: v.Address})
	}
	if len(members) == 0 && len(g.Validators) > 0 {
		return nil, nil, fmt.Errorf("no consensus validator: the committee needs at least one (a validator without \"role\" is one)")
	}
	var s [32]byte
	copy(s[:], seed)
	c, err := committee.New(members, s)
	if err != nil {
		return nil, nil, err
	}
	if _, err := g.Clusters(); err != nil {
		return nil, nil, err
	}
	return c, net, nil
}

// Identities returns the genesis identity table and leader seed.
func (g *Genesis) Identities() ([]epoch.Identity, [32]byte, error) {
	var seed [32]byte
	sb, err := hex.DecodeString(g.LeaderSeed)
	if err != nil || len(sb) != 32 {
		return nil, seed, fmt.Errorf("leader_seed must be 32 bytes of hex")
	}
	copy(seed[:], sb)
	ids := make([]epoch.Identity, 0, len(g.Validators))
	for i, v := range g.Validators {
		role, err0 := v.ParsedRole()
		pk, err1 := hex.DecodeString(v.StakingKey)
		pop, err2 := hex.DecodeString(v.Possession)
		nk, err3 := hex.DecodeString(v.NetworkKey)
		if err := errors.Join(err0, err1, err2, err3); err != nil {
			return nil, seed, fmt.Errorf("validator %d (%s): %w", i, v.Name, err)
		}
		ids = append(ids, epoch.Identity{Name: v.Name, Role: role, Weight: v.Weight, StakingKey: pk, Possession: pop,
			NetworkKey: ed25519.PublicKey(nk), Address: v.Address})
	}
	return ids, seed, nil
}

// Clusters are the genesis epoch's collector clusters: its collectors dealt
// into params.clusters clusters (the default when 0) from the leader seed,
// as epoch.AssignClusters deals every epoch's.
func (g *Genesis) Clusters() ([][]uint16, error) {
	ids, seed, err := g.Identities()
	if err != nil {
		return nil, err
	}
	k := g.Params.Clusters
	if k == 0 {
		k = epoch.DefaultClusters(ids)
	}
	c, err := epoch.AssignClusters(ids, seed, k)
	if err != nil {
		return nil, fmt.Errorf("params.clusters: %w", err)
	}
	return c, nil
}

// EpochParams returns the chain's epoch rules.
func (g *Genesis) EpochParams() (epoch.Params, error) {
	root, _, err := g.Root(max(len(g.Validators), 1))
	if err != nil {
		return epoch.Params{}, err
	}
	p := epoch.Params{Chain: root.ID(), ChainID: root.ChainID, Scheme: crypto.BLS(), EpochViews: g.Params.EpochViews, SafetyViews: g.Params.EpochSafetyViews}
	for i, k := range g.Governance {
		b, err := hex.DecodeString(k)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return p, fmt.Errorf("governance_keys[%d] must be %d bytes of hex", i, ed25519.PublicKeySize)
		}
		p.Authorities = append(p.Authorities, ed25519.PublicKey(b))
	}
	return p, p.Validate()
}

// EpochState returns the epoch state machine at genesis.
func (g *Genesis) EpochState() (*epoch.State, error) {
	p, err := g.EpochParams()
	if err != nil {
		return nil, err
	}
	ids, seed, err := g.Identities()
	if err != nil {
		return nil, err
	}
	clusters, err := g.Clusters()
	if err != nil {
		return nil, err
	}
	return epoch.Genesis(p, ids, seed, clusters)
}

// Root returns the genesis block and its root QC. The genesis block commits
// to the chain ID and time, so two networks never share block IDs, and its
// payload carries the result of height 0, the initial state root, which the
// first blocks' results must repeat until height 1 is executed.
func (g *Genesis) Root(committeeSize int) (*model.Block, *model.QC, error) {
	initial, err := g.InitialRoot()
	if err != nil {
		return nil, nil, err
	}
	pl := (&payload.Payload{Result: &payload.Result{Height: 0, Root: initial}}).Encode()
	root, err := model.NewRootBlock(model.MainChain(g.ChainID), 0, 0, g.GenesisTime.UnixMilli(), pl)
	if err != nil {
		return nil, nil, err
	}
	qc, err := model.NewRootQC(0, root.ID(), committeeSize)
	if err != nil {
		return nil, nil, err
	}
	return root, qc, nil
}

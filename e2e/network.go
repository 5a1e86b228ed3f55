package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/scratchdir"
	"github.com/floe-bft/floe/workload"
)

// Layout of a generated network directory:
//
//	DIR/compose.yaml     the containers, their network and volumes
//	DIR/genesis.json     the shared genesis
//	DIR/nodeI/           node I's home, mounted at /home/floe in its container
//	  config/keys.json   its secret keys
//	  config/genesis.json
//	  data/              its databases and evidence log
//	DIR/followerJ/       follower J's home (config/genesis.json, data/)
//	DIR/governance.key   the governance key's seed in hex (floe governance --key)
const (
	composeFile = "compose.yaml"
	genesisName = "genesis.json"
	homeInImage = "/home/floe"
	p2pPort     = 26656
	apiPort     = 8080
	networkKey  = "floe" // the network's key in compose.yaml
	markerFile  = ".floe-e2e"
	// governanceKeyFile holds the governance key's seed in hex, the format
	// of 'floe governance keygen' (test networks only: a real network keeps
	// it offline).
	governanceKeyFile = "governance.key"
	defaultImage      = "floe:local"
)

// NetworkSpec is what GenerateNetwork writes.
type NetworkSpec struct {
	// Project prefixes container names ("PROJECT-node0") and names the
	// Docker network ("PROJECT").
	Project    string
	ChainID    string
	Validators int
	// Followers are 'floe follow' containers; follower j follows
	// validator j mod Validators.
	Followers int
	// Pipeline adds role members after the followers (collectors,
	// execution and access nodes, each 'floe start' in its role); zero:
	// none.
	Pipeline    PipelineSpec
	Subnet      string
	APIPortBase int
	Image       string
	LogLevel    string
	Params      genesis.Params
	// Seed derives the keys and the leader schedule, so test runs repeat.
	Seed uint64
	// RandomKeys draws keys and the leader seed from the system's secure
	// random source instead (for networks that are not tests).
	RandomKeys bool
	// Overrides by node name (test faults), nil for none.
	Overrides map[string]NodeOverride
}

// Node is one generated node.
type Node struct {
	Index int // validators 0..V-1, then followers V..V+F-1
	Name  string
	// Follower marks a 'floe follow' node; Upstream is the API it follows.
	Follower bool
	Upstream string
	// Role is a pipeline role member's role (config.RoleCollection,
	// RoleExecution or RoleAccess); "" for validators and followers.
	Role      string
	Container string
	IP        string // on the private network
	APIURL    string // published on the host's loopback
	Home      string
	Override  NodeOverride
}

// Network is a generated network on disk.
type Network struct {
	Spec    NetworkSpec
	Dir     string
	Genesis *genesis.Genesis
	Nodes   []*Node // validators first, then followers
	// Governance is the key the genesis lists as the only governance key:
	// it signs the epoch service events.
	Governance ed25519.PrivateKey
	// Clusters are the genesis epoch's collector clusters by member name
	// (pipeline networks): dealt by the epoch's random source, so the
	// runner learns them from the genesis, not from the manifest.
	Clusters [][]string
	// LoadAccounts are the genesis accounts the load signs for (pipeline
	// networks of accounts).
	LoadAccounts []workload.Account
}

// The genesis accounts of a pipeline network of accounts: the load's
// accounts and their keys (each key one transaction in flight).
const (
	e2eLoadAccounts   = 64
	e2eKeysPerAccount = 8
)

// privateAPI is the API base URL of a container on the private network,
// what the genesis lists for the other roles.
func privateAPI(ip string) string { return fmt.Sprintf("http://%s:%d", ip, apiPort) }

// clusterNames is the genesis epoch's clusters (genesis.Clusters, the
// deal epoch.AssignClusters makes from the leader seed) by member name.
func clusterNames(g *genesis.Genesis) ([][]string, error) {
	idx, err := g.Clusters()
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(idx))
	for i, c := range idx {
		for _, k := range c {
			if int(k) >= len(g.Validators) {
				return nil, fmt.Errorf("cluster %d names member %d of %d", i, k, len(g.Validators))
			}
			out[i] = append(out[i], g.Validators[k].Name)
		}
	}
	return out, nil
}

// ComposePath is the compose file's path.
func (n *Network) ComposePath() string { return filepath.Join(n.Dir, composeFile) }

// NetworkName is the Docker network's name.
func (n *Network) NetworkName() string { return n.Spec.Project }

// GenerateNetwork writes homes, genesis and compose.yaml into dir. The
// directory must not exist, be empty, or hold a network this function wrote
// before (which is replaced: old databases would belong to another chain).
func GenerateNetwork(dir string, spec NetworkSpec) (*Network, error) {
	if spec.Validators < 1 || spec.Validators > maxValidators {
		return nil, fmt.Errorf("%d validators: want 1 to %d", spec.Validators, maxValidators)
	}
	if spec.Followers < 0 || spec.Followers > maxFollowers {
		return nil, fmt.Errorf("%d followers: want 0 to %d", spec.Followers, maxFollowers)
	}
	if !namePattern.MatchString(spec.Project) {
		return nil, fmt.Errorf("project %q: want lowercase letters, digits and dashes", spec.Project)
	}
	if spec.Image == "" {
		spec.Image = defaultImage
	}
	if spec.LogLevel == "" {
		spec.LogLevel = "info"
	}
	if err := spec.Pipeline.validate(); err != nil {
		return nil, err
	}
	total := spec.Validators + spec.Followers + spec.Pipeline.members()
	ips, err := nodeIPs(spec.Subnet, total)
	if err != nil {
		return nil, err
	}
	if spec.APIPortBase < 1024 || spec.APIPortBase+total > 65535 {
		return nil, fmt.Errorf("API port base %d: want 1024 to %d", spec.APIPortBase, 65535-total)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	net := &Network{Spec: spec, Dir: abs}
	vals := make([]genesis.Validator, spec.Validators)
	for i := range vals {
		name := nodeName(i)
		nd := &Node{
			Index: i, Name: name, Container: spec.Project + "-" + name, IP: ips[i].String(),
			APIURL: fmt.Sprintf("http://127.0.0.1:%d", spec.APIPortBase+i),
			Home:   filepath.Join(abs, name), Override: spec.Overrides[name],
		}
		nd.Override.Name = name
		keys, err := nodeKeys(spec, name)
		if err != nil {
			return nil, err
		}
		if vals[i], err = keys.Validator(name, fmt.Sprintf("%s:%d", nd.IP, p2pPort), 1); err != nil {
			return nil, err
		}
		if spec.Pipeline.enabled() {
			// The other roles reach the consensus nodes' APIs through the
			// genesis (docs/pipeline.md, "Roles and wiring").
			vals[i].API = privateAPI(nd.IP)
		}
		// The containers run as root; the host user may not be root, so
		// the homes are world-writable (they hold test keys only).
		if err := os.MkdirAll(filepath.Join(nd.Home, "config"), 0o777); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(nd.Home, "data"), 0o777); err != nil {
			return nil, err
		}
		if err := keys.Save(filepath.Join(nd.Home, "config", "keys.json")); err != nil {
			return nil, err
		}
		net.Nodes = append(net.Nodes, nd)
	}
	for j := 0; j < spec.Followers; j++ {
		i := spec.Validators + j
		name := followerName(j)
		nd := &Node{
			Index: i, Name: name, Container: spec.Project + "-" + name, IP: ips[i].String(),
			APIURL: fmt.Sprintf("http://127.0.0.1:%d", spec.APIPortBase+i),
			Home:   filepath.Join(abs, name), Override: NodeOverride{Name: name},
			Follower: true, Upstream: fmt.Sprintf("http://%s:%d", ips[j%spec.Validators], apiPort),
		}
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(nd.Home, d), 0o777); err != nil {
				return nil, err
			}
		}
		net.Nodes = append(net.Nodes, nd)
	}
	for k, rm := range spec.Pipeline.roleMembers() {
		i := spec.Validators + spec.Followers + k
		nd := &Node{
			Index: i, Name: rm.name, Role: rm.role, Container: spec.Project + "-" + rm.name, IP: ips[i].String(),
			APIURL: fmt.Sprintf("http://127.0.0.1:%d", spec.APIPortBase+i),
			Home:   filepath.Join(abs, rm.name), Override: overrideOr(spec.Overrides, rm.name),
		}
		keys, err := nodeKeys(spec, rm.name)
		if err != nil {
			return nil, err
		}
		v, err := keys.Validator(rm.name, fmt.Sprintf("%s:%d", nd.IP, p2pPort), 1)
		if err != nil {
			return nil, err
		}
		v.Role, v.API = rm.role, privateAPI(nd.IP)
		vals = append(vals, v)
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(nd.Home, d), 0o777); err != nil {
				return nil, err
			}
		}
		if err := keys.Save(filepath.Join(nd.Home, "config", "keys.json")); err != nil {
			return nil, err
		}
		net.Nodes = append(net.Nodes, nd)
	}
	if spec.Pipeline.enabled() {
		spec.Params.Clusters = spec.Pipeline.Clusters
		net.Spec.Params = spec.Params
	}
	leaderSeed := crypto.Sum([]byte("floe e2e leader seed"), []byte(spec.Project), []byte(strconv.FormatUint(spec.Seed, 10)))
	govSeed := crypto.Sum([]byte("floe e2e governance"), []byte(spec.Project), []byte(strconv.FormatUint(spec.Seed, 10)))
	if spec.RandomKeys {
		if _, err := rand.Read(leaderSeed[:]); err != nil {
			return nil, err
		}
		if _, err := rand.Read(govSeed[:]); err != nil {
			return nil, err
		}
	}
	net.Governance = ed25519.NewKeyFromSeed(govSeed[:])
	g := &genesis.Genesis{
		ProtocolVersion: model.ProtocolVersion, ChainID: spec.ChainID, GenesisTime: time.Now().UTC().Truncate(time.Millisecond),
		LeaderSeed: fmt.Sprintf("%x", leaderSeed), Params: spec.Params, Validators: vals,
		Governance: []string{hex.EncodeToString(net.Governance.Public().(ed25519.PublicKey))},
	}
	if _, _, err := g.Committee(); err != nil {
		return nil, fmt.Errorf("invalid genesis: %w", err)
	}
	if _, err := g.EpochState(); err != nil {
		return nil, fmt.Errorf("invalid genesis epochs: %w", err)
	}
	if spec.Pipeline.enabled() {
		if net.Clusters, err = clusterNames(g); err != nil {
			return nil, err
		}
	}
	if spec.Pipeline.accounts() {
		if g.Accounts, net.LoadAccounts, err = workload.Setup(abs, model.MainChain(g.ChainID), e2eLoadAccounts, e2eKeysPerAccount); err != nil {
			return nil, fmt.Errorf("genesis accounts: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(abs, governanceKeyFile), []byte(hex.EncodeToString(govSeed[:])+"\n"), 0o600); err != nil {
		return nil, err
	}
	net.Genesis = g
	if err := g.Save(filepath.Join(abs, genesisName)); err != nil {
		return nil, err
	}
	for _, nd := range net.Nodes {
		if err := g.Save(filepath.Join(nd.Home, "config", genesisName)); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(net.ComposePath(), net.composeYAML(), 0o644); err != nil {
		return nil, err
	}
	return net, nil
}

// nodeKeys derives a node's keys from the spec's seed, or draws fresh ones.
func nodeKeys(spec NetworkSpec, name string) (*genesis.NodeKeys, error) {
	if spec.RandomKeys {
		return genesis.GenerateKeys()
	}
	seed := crypto.Sum([]byte("floe e2e node"), []byte(spec.Project), []byte(strconv.FormatUint(spec.Seed, 10)), []byte(name))
	return genesis.KeysFromSeed(seed[:])
}

// prepareDir makes dir usable: created if missing, wiped if this package
// created it (marker present), refused if it holds anything else.
func prepareDir(dir string) error {
	return scratchdir.Prepare(dir, markerFile,
		"generated by floe e2e; the next generation into this directory deletes it\n",
		"%s exists and was not generated by floe e2e; refusing to delete it")
}

// composeYAML renders the compose file. The format is compose file 2.4,
// which both docker-compose v1 and the docker compose plugin read: fixed
// container names and addresses, one bind-mounted home per node, the API
// published on loopback only, no restart policy (the runner decides when a
// node comes back).
func (n *Network) composeYAML() []byte {
	var b bytes.Buffer
	s := n.Spec
	fmt.Fprintf(&b, "# Generated by floe e2e: %d validators and %d followers of chain %s on %s.\n", s.Validators, s.Followers, s.ChainID, s.Subnet)
	if p := s.Pipeline; p.enabled() {
		fmt.Fprintf(&b, "# Pipeline: %d clusters of %d collectors, %d execution and %d access nodes.\n", p.Clusters, p.ClusterSize, p.Executors, p.Access)
	}
	fmt.Fprintf(&b, "# Start: docker compose -p %s -f %s up -d   (or docker-compose)\n", s.Project, composeFile)
	b.WriteString("version: \"2.4\"\n")
	fmt.Fprintf(&b, "networks:\n  %s:\n    name: %s\n    ipam:\n      config:\n        - subnet: %s\n", networkKey, n.NetworkName(), s.Subnet)
	b.WriteString("services:\n")
	for _, nd := range n.Nodes {
		fmt.Fprintf(&b, "  %s:\n", nd.Name)
		fmt.Fprintf(&b, "    image: %s\n", s.Image)
		fmt.Fprintf(&b, "    container_name: %s\n", nd.Container)
		if nd.Follower {
			fmt.Fprintf(&b, "    command: [\"follow\", \"--home\", %q, \"--upstream\", %q]\n", homeInImage, nd.Upstream)
		} else {
			fmt.Fprintf(&b, "    command: [\"start\", \"--home\", %q]\n", homeInImage)
		}
		b.WriteString("    environment:\n")
		env := nd.env(s.LogLevel)
		for _, kv := range env {
			fmt.Fprintf(&b, "      %s: %q\n", kv[0], kv[1])
		}
		fmt.Fprintf(&b, "    volumes: [\"./%s:%s\"]\n", nd.Name, homeInImage)
		fmt.Fprintf(&b, "    networks:\n      %s:\n        ipv4_address: %s\n", networkKey, nd.IP)
		fmt.Fprintf(&b, "    ports: [\"127.0.0.1:%d:%d\"]\n", s.APIPortBase+nd.Index, apiPort)
		b.WriteString("    restart: \"no\"\n")
		b.WriteString("    stop_grace_period: 15s\n")
	}
	return b.Bytes()
}

// env is the node's environment: listeners on all of the container's
// interfaces (its address can be disconnected and reconnected), and the
// test faults of its override.
func (nd *Node) env(logLevel string) [][2]string {
	env := [][2]string{{"FLOE_API", fmt.Sprintf("0.0.0.0:%d", apiPort)}}
	if !nd.Follower { // a follower has no peer-to-peer listener
		env = append(env, [2]string{"FLOE_P2P", fmt.Sprintf("0.0.0.0:%d", p2pPort)})
	}
	env = append(env, [2]string{"FLOE_LOG_LEVEL", logLevel})
	if nd.Role != "" {
		env = append(env, [2]string{config.EnvRole, nd.Role})
	}
	if d := nd.Override.ClockOffset.Duration; d != 0 {
		env = append(env, [2]string{"FLOE_CLOCK_OFFSET", d.String()})
	}
	if nd.Override.UnsafeForgetSafetyData {
		env = append(env, [2]string{"FLOE_UNSAFE_FORGET_SAFETY_DATA", "true"})
	}
	if nd.Override.WithholdCollections {
		// role/collector.EnvWithholdCollections
		env = append(env, [2]string{"FLOE_TEST_WITHHOLD_COLLECTIONS", "true"})
	}
	if nd.Override.ForgeGuarantees {
		// role/collector.EnvForgeGuarantees
		env = append(env, [2]string{"FLOE_TEST_FORGE_GUARANTEES", "true"})
	}
	if f := nd.Override.ExecutionFault; f != "" {
		// role/execution.EnvFault
		env = append(env, [2]string{"FLOE_TEST_EXECUTION_FAULT", f})
	}
	return env
}

// overrideOr is name's entry of overrides, or none.
func overrideOr(overrides map[string]NodeOverride, name string) NodeOverride {
	if o, ok := overrides[name]; ok {
		o.Name = name
		return o
	}
	return NodeOverride{Name: name}
}

// describe summarizes a node's test faults for reports ("" for none).
func (o NodeOverride) describe() string {
	var parts []string
	if o.ClockOffset.Duration != 0 {
		parts = append(parts, "clock "+signed(o.ClockOffset.Duration))
	}
	if o.UnsafeForgetSafetyData {
		parts = append(parts, "forgets safety data")
	}
	if o.WithholdCollections {
		parts = append(parts, "withholds its collections")
	}
	if o.ForgeGuarantees {
		parts = append(parts, "forges the guarantees it hands off")
	}
	switch o.ExecutionFault {
	case ExecFaultWrongEndState:
		parts = append(parts, "byzantine executor: publishes wrong end states")
	case ExecFaultWrongEvents:
		parts = append(parts, "byzantine executor: publishes wrong events hashes")
	case ExecFaultWithholdPacks:
		parts = append(parts, "withholds its chunk data packs")
	}
	return strings.Join(parts, ", ")
}

func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// WriteSummary prints what `floe e2e gen` generated: a line a container
// (name, private address, published API, and whom a follower follows), then
// the totals and where the governance key is.
func (n *Network) WriteSummary(w io.Writer) error {
	for _, nd := range n.Nodes {
		extra := ""
		if nd.Follower {
			extra = "  follows " + nd.Upstream
		}
		if nd.Role != "" {
			extra = "  role " + nd.Role
		}
		if _, err := fmt.Fprintf(w, "%s  %s  api %s%s\n", nd.Container, nd.IP, nd.APIURL, extra); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "generated %d validators and %d followers in %s (governance key: %s)\n",
		n.Spec.Validators, n.Spec.Followers, n.Dir, filepath.Join(n.Dir, governanceKeyFile))
	return err
}

package localnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/scratchdir"
	"github.com/floe-bft/floe/workload"
)

// Marker marks a directory a testnet created, so that a rerun may wipe it
// but an existing directory of something else is never deleted.
const Marker = ".floe-testnet"

// ChainID is the chain the testnet's genesis names.
const ChainID = "floe-testnet"

// HomeWriter writes node home directories in the format the nodes' binary
// reads: ConfigHomes for the floe binary (package config); tests may
// write other layouts.
type HomeWriter interface {
	// WriteValidator writes a validator's home: its keys, a configuration
	// listening on h's addresses at h's log level, and its genesis entry
	// (weight 1, address h.P2PAddr), which it returns. It overwrites.
	WriteValidator(h Home, keys *genesis.NodeKeys) (genesis.Validator, error)
	// WriteFollower writes a follower's configuration (API address and log
	// level only: a follower has no keys and no peer-to-peer listener).
	WriteFollower(h Home) error
	// WriteGenesis puts the genesis file where a node in home reads it.
	WriteGenesis(home string, g *genesis.Genesis) error
}

// Home is what a HomeWriter writes for one node.
type Home struct {
	Name, Dir                   string
	P2PAddr, APIAddr, DebugAddr string // empty: none
	LogLevel                    string
	// Role is the member's role ("": consensus), in its genesis entry
	// and its floe.toml.
	Role string
	// SharedStreams is how many of the network's own nodes follow this
	// node's live stream from the same loopback address (a pipeline
	// network's collectors, executors and access nodes, for each consensus
	// node); the per-address stream cap grows by that much. Without it,
	// five observers from 127.0.0.1 exceeded the default of four; the one
	// refused (429) followed the main chain by polling, seconds behind, and
	// stalled its cluster of three at max rate.
	SharedStreams int
}

// Node is one node process of a testnet: a validator ('floe start') or a
// follower ('floe follow'). Its methods other than Start and Stop may be
// called concurrently.
type Node struct {
	Home
	// Client talks to the node's API.
	Client *client.Client
	// Upstream is set for a follower: the API it follows.
	Upstream string

	bin     string
	env     []string
	logPath string
	// mu guards cmd and exited, which Start replaces (Harness.Restart
	// does so while the progress line samples the process).
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	exitErr  error         // valid after exited
	stopping atomic.Bool   // we asked it to stop
	killed   atomic.Bool   // we killed it on purpose
	reported atomic.Bool   // its unexpected exit was reported
	// onExit, if set, is called when a process exits that was neither
	// stopped nor killed on purpose (Run's crash watch).
	onExit   func(*Node)
	maxRSSKB atomic.Int64 // VmHWM, sampled
}

// Network is a prepared testnet: the node homes under Dir and the genesis.
type Network struct {
	Dir string
	// Nodes are the validators of the pool (node0, node1, ...), then the
	// followers (follower0, ...).
	Nodes     []*Node
	Followers int
	// Validators are the genesis entries of the whole pool, in node order
	// (with epochs one more than the genesis committee).
	Validators []genesis.Validator
	Genesis    *genesis.Genesis
	// loadAccounts are the accounts the load signs for, in a pipeline
	// network of accounts.
	loadAccounts []workload.Account
}

// PrepareDir makes dir usable: created if missing, wiped if a previous
// testnet left it (marker present: fresh keys and genesis each run, so old
// databases would belong to another chain), refused otherwise unless empty.
func PrepareDir(dir string) error {
	return scratchdir.Prepare(dir, Marker,
		"created by 'floe testnet'; the next run deletes this directory\n",
		"%s exists and was not created by 'floe testnet'; refusing to delete it (choose another --dir)")
}

// FreePorts reserves n distinct loopback ports. The listeners are held
// until all are chosen, so the ports are distinct; another process could
// still take one before the node binds it, which a start failure reports.
func FreePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a port: %w", err)
		}
		lns = append(lns, ln)
		addrs[i] = ln.Addr().String()
	}
	return addrs, nil
}

// NodeKeys derives node i's keys from a fixed seed: testnet identities are
// the same every run, which makes logs comparable across runs.
func NodeKeys(i int) (*genesis.NodeKeys, error) {
	seed := crypto.Sum([]byte("floe testnet node"), []byte(strconv.Itoa(i)))
	return genesis.KeysFromSeed(seed[:])
}

// GovernanceKey is the testnet's governance key, derived from a fixed seed
// like the nodes' keys. A real network keeps it offline.
func GovernanceKey() ed25519.PrivateKey {
	seed := crypto.Sum([]byte("floe testnet governance"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Setup prepares a testnet from o's Dir, Nodes, Followers, LogLevel,
// EpochViews, Params, Homes, Binary and Env (the rest is for Run): o.Nodes
// validators (DIR/nodeI) and a shared genesis (DIR/genesis.json and in
// every home). With EpochViews > 0 epochs last that many views, governance
// is GovernanceKey, and one more validator is prepared outside the genesis
// committee, so that committees can rotate (see Rotation). Followers
// (DIR/followerI) follow validator i mod Nodes. Nothing is started.
func Setup(o Options) (*Network, error) {
	if o.Homes == nil {
		return nil, errors.New("localnet: Options.Homes is required")
	}
	if err := PrepareDir(o.Dir); err != nil {
		return nil, err
	}
	pool := o.Nodes
	if o.EpochViews > 0 {
		pool++
	}
	addrs, err := FreePorts(3 * pool)
	if err != nil {
		return nil, err
	}
	net := &Network{Dir: o.Dir, Validators: make([]genesis.Validator, pool)}
	for i := 0; i < pool; i++ {
		tn := o.newNode(fmt.Sprintf("node%d", i), addrs[3*i+1])
		tn.P2PAddr, tn.DebugAddr = addrs[3*i], addrs[3*i+2]
		if p := o.Pipeline; p != nil {
			tn.SharedStreams = p.Clusters*p.ClusterSize + p.Executors + p.Access
		}
		keys, err := NodeKeys(i)
		if err != nil {
			return nil, err
		}
		if net.Validators[i], err = o.Homes.WriteValidator(tn.Home, keys); err != nil {
			return nil, err
		}
		net.Nodes = append(net.Nodes, tn)
	}
	members := net.Validators[:o.Nodes:o.Nodes]
	if o.Pipeline != nil {
		roles, err := net.addPipeline(o, pool)
		if err != nil {
			return nil, err
		}
		members = append(members, roles...)
	}
	if net.Genesis, err = o.genesis(members); err != nil {
		return nil, err
	}
	if p := o.Pipeline; p != nil && p.accounts() {
		n, k := p.LoadAccounts, p.KeysPerAccount
		if n == 0 {
			n = workload.DefaultLoadAccounts
		}
		if k == 0 {
			k = workload.DefaultKeysPerAccount
		}
		if net.Genesis.Accounts, net.loadAccounts, err = workload.Setup(o.Dir, model.MainChain(net.Genesis.ChainID), n, k); err != nil {
			return nil, fmt.Errorf("testnet accounts: %w", err)
		}
	}
	if err := net.addFollowers(o); err != nil {
		return nil, err
	}
	if err := net.Genesis.Save(filepath.Join(o.Dir, "genesis.json")); err != nil {
		return nil, err
	}
	for _, tn := range net.Nodes {
		if err := o.Homes.WriteGenesis(tn.Dir, net.Genesis); err != nil {
			return nil, err
		}
	}
	return net, nil
}

// newNode is a node named name under o.Dir with its API at apiAddr.
func (o *Options) newNode(name, apiAddr string) *Node {
	home := filepath.Join(o.Dir, name)
	return &Node{
		Home:   Home{Name: name, Dir: home, APIAddr: apiAddr, LogLevel: o.LogLevel},
		Client: client.New(apiAddr, client.WithHTTPClient(o.HTTPClient)),
		bin:    o.Binary, env: o.Env, logPath: filepath.Join(home, "node.log"),
	}
}

// genesis is the testnet's genesis with committee vals.
func (o *Options) genesis(vals []genesis.Validator) (*genesis.Genesis, error) {
	params := o.params()
	if o.EpochViews > 0 {
		params.TestEpochs(o.EpochViews)
	}
	if o.Pipeline != nil {
		params.Clusters = o.Pipeline.Clusters
	}
	seed := crypto.Sum([]byte("floe testnet leader seed"))
	g := &genesis.Genesis{ProtocolVersion: model.ProtocolVersion, ChainID: ChainID, Params: params, Validators: vals,
		GenesisTime: time.Now().UTC().Truncate(time.Millisecond), LeaderSeed: fmt.Sprintf("%x", seed), AppState: o.AppState}
	if _, _, err := g.Committee(); err != nil {
		return nil, fmt.Errorf("invalid genesis: %w", err)
	}
	if o.EpochViews > 0 {
		g.Governance = []string{hex.EncodeToString(GovernanceKey().Public().(ed25519.PublicKey))}
		if _, err := g.EpochParams(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// addFollowers prepares o.Followers follower homes, each following a
// different validator's API (round-robin over the genesis committee).
func (n *Network) addFollowers(o Options) error {
	addrs, err := FreePorts(o.Followers)
	if err != nil {
		return err
	}
	for i := 0; i < o.Followers; i++ {
		tn := o.newNode(fmt.Sprintf("follower%d", i), addrs[i])
		tn.Upstream = "http://" + n.Nodes[i%o.Nodes].APIAddr
		if err := o.Homes.WriteFollower(tn.Home); err != nil {
			return err
		}
		n.Nodes = append(n.Nodes, tn)
		n.Followers++
	}
	return nil
}

// Start launches the node process with its output (appended) in node.log:
// 'floe start --home DIR', or 'floe follow' for a follower. A node that has
// exited may be started again.
func (tn *Node) Start() error {
	logf, err := os.OpenFile(tn.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(tn.bin, "start", "--home", tn.Dir)
	if tn.Upstream != "" {
		cmd = exec.Command(tn.bin, "follow", "--home", tn.Dir, "--upstream", tn.Upstream)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = tn.env
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", tn.Name, err)
	}
	tn.stopping.Store(false)
	tn.killed.Store(false)
	tn.reported.Store(false)
	exited := make(chan struct{})
	tn.mu.Lock()
	tn.cmd, tn.exited = cmd, exited
	tn.mu.Unlock()
	go func() {
		tn.exitErr = cmd.Wait()
		// Decided before exited is closed: Kill returns only after that,
		// so a Start right after a Kill (a restart) cannot make this
		// process's exit look unexpected.
		unexpected := !tn.stopping.Load() && !tn.killed.Load()
		logf.Close()
		close(exited)
		if unexpected && tn.onExit != nil {
			tn.onExit(tn)
		}
	}()
	return nil
}

// Exited is closed when the process started last has exited (nil before
// the first Start).
func (tn *Node) Exited() <-chan struct{} {
	_, exited := tn.proc()
	return exited
}

// proc is the process started last and its exit channel (nil before the
// first Start).
func (tn *Node) proc() (*exec.Cmd, chan struct{}) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.cmd, tn.exited
}

// Running reports whether the process is started and has not exited.
func (tn *Node) Running() bool {
	cmd, exited := tn.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to end.
// A killed node is not an error for Stop or Run.
func (tn *Node) Kill() error {
	if !tn.Running() {
		return fmt.Errorf("%s is not running", tn.Name)
	}
	tn.killed.Store(true)
	tn.sampleRSS()
	cmd, exited := tn.proc()
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", tn.Name, err)
	}
	<-exited
	return nil
}

// Stop sends SIGTERM and waits; a node that does not stop within grace is
// killed (and that is reported). A node that exited on its own is reported
// once, unless it was killed on purpose.
func (tn *Node) Stop(grace time.Duration) error {
	cmd, exited := tn.proc()
	if cmd == nil || tn.killed.Load() {
		return nil
	}
	if !tn.Running() {
		if tn.stopping.Load() || tn.reported.Load() {
			return nil
		}
		return tn.exitError()
	}
	tn.stopping.Store(true)
	tn.sampleRSS()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		var ee *exec.ExitError
		if tn.exitErr != nil && !errors.As(tn.exitErr, &ee) {
			return tn.exitErr
		}
		if tn.exitErr != nil {
			return fmt.Errorf("%s exited with %v during shutdown (see %s)", tn.Name, tn.exitErr, tn.logPath)
		}
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not stop within %s and was killed (see %s)", tn.Name, grace, tn.logPath)
	}
}

// MaxRSSKB is the process's peak resident set (VmHWM, KiB) as last
// sampled (Linux; 0 elsewhere).
func (tn *Node) MaxRSSKB() int64 { return tn.maxRSSKB.Load() }

// sampleRSS records the process's peak resident set (VmHWM), which the
// kernel keeps as a high-water mark, so sampling now and then loses
// nothing as long as the last sample is taken before the process exits.
func (tn *Node) sampleRSS() {
	if !tn.Running() {
		return
	}
	cmd, _ := tn.proc()
	kb, err := readVmHWM(cmd.Process.Pid)
	if err != nil {
		return
	}
	for {
		old := tn.maxRSSKB.Load()
		if kb <= old || tn.maxRSSKB.CompareAndSwap(old, kb) {
			return
		}
	}
}

// readVmHWM reads the peak resident set size of a process in KiB
// (Linux; elsewhere an error).
func readVmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// CPUTime is the CPU time (user and system) the running process has used
// so far; false if it is not running or that cannot be read (Linux only).
func (tn *Node) CPUTime() (time.Duration, bool) {
	if !tn.Running() {
		return 0, false
	}
	cmd, _ := tn.proc()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses: state is
	// the first, utime the 12th and stime the 13th (proc(5)), in clock
	// ticks of 1/100 s on every Linux this runs on.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

// LogTail returns the last lines of the node's log, for error messages.
func (tn *Node) LogTail(lines int) string {
	b, err := os.ReadFile(tn.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// exitError describes an unexpected exit (once: later calls to Stop do not
// repeat it).
func (tn *Node) exitError() error {
	tn.reported.Store(true)
	return fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s", tn.Name, tn.exitErr, tn.logPath, tn.LogTail(15))
}

// WaitReady polls every node's API until it answers, a node exits, or the
// timeout passes.
func WaitReady(ctx context.Context, nodes []*Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, tn := range nodes {
		_, exited := tn.proc()
		for {
			select {
			case <-exited:
				return tn.exitError()
			default:
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			_, err := tn.Client.Status(rctx)
			rcancel()
			if err == nil {
				break
			}
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable {
				return fmt.Errorf("%s API: %w", tn.Name, err)
			}
			select {
			case <-ctx.Done():
				if ctx.Err() == context.DeadlineExceeded {
					return fmt.Errorf("%s API at %s did not answer within %s (see %s)", tn.Name, tn.APIAddr, timeout, tn.logPath)
				}
				return ctx.Err()
			case <-exited:
				return tn.exitError()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

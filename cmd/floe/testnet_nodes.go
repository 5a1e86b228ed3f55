package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/internal/scratchdir"
)

// testnetMarker marks a directory the testnet created, so that a rerun may
// wipe it but an existing directory of something else is never deleted.
const testnetMarker = ".floe-testnet"

// testnetParams are the consensus parameters of a local testnet. A test
// that kills nodes swaps in shorter timeouts, so that the views a dead
// member leads fail fast.
var testnetParams = genesis.DefaultParams

// testnetChainID is the chain the testnet's genesis names.
const testnetChainID = "floe-testnet"

// testnetNode is one node process of a local testnet.
type testnetNode struct {
	index                     int
	name, home                string
	apiAddr, p2pAddr, dbgAddr string
	client                    *client
	cmd                       *exec.Cmd
	logPath                   string
	exited                    chan struct{} // closed when the process has exited
	exitErr                   error         // valid after exited
	stopping                  atomic.Bool   // we asked it to stop
	killed                    atomic.Bool   // we killed it on purpose (--kill)
	reported                  atomic.Bool   // its unexpected exit was reported
	maxRSSKB                  atomic.Int64  // VmHWM, sampled
	// upstream is set for a follower: the API it follows ('floe follow');
	// empty for a validator ('floe start').
	upstream string
}

// prepareTestnetDir makes dir usable: created if missing, wiped if a
// previous testnet left it (marker present: fresh keys and genesis each run,
// so old databases would belong to another chain), refused otherwise unless
// empty.
func prepareTestnetDir(dir string) error {
	return scratchdir.Prepare(dir, testnetMarker,
		"created by 'floe testnet'; the next run deletes this directory\n",
		"%s exists and was not created by 'floe testnet'; refusing to delete it (choose another --dir)")
}

// freePorts reserves n distinct loopback ports. The listeners are held
// until all are chosen, so the ports are distinct; another process could
// still take one before the node binds it, which a start failure reports.
func freePorts(n int) ([]string, error) {
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

// testnetKeys derives node i's keys from a fixed seed: testnet identities
// are the same every run, which makes logs comparable across runs.
func testnetKeys(i int) (*genesis.NodeKeys, error) {
	seed := crypto.Sum([]byte("floe testnet node"), []byte(strconv.Itoa(i)))
	return genesis.KeysFromSeed(seed[:])
}

// setupTestnet writes keys, configuration and a shared genesis for n nodes
// under dir (dir/node0, dir/node1, ...; dir/genesis.json).
func setupTestnet(dir string, n int, logLevel string) ([]*testnetNode, error) {
	ts, err := setupTestnetEpochs(dir, n, logLevel, 0, 0, testnetParams().BlockIntervalMS)
	if err != nil {
		return nil, err
	}
	return ts.nodes, nil
}

// testnetSetup is a prepared testnet: its node homes, the validators of
// the whole pool and the genesis.
type testnetSetup struct {
	nodes     []*testnetNode // validators (the pool), then followers
	followers int
	vals      []genesis.Validator
	genesis   *genesis.Genesis
}

// setupTestnetEpochs prepares a testnet of n validators. With epochViews > 0
// epochs last that many views, governance is the testnet key, and one more
// node is prepared outside the genesis committee, so that committees can
// rotate (see rotation).
func setupTestnetEpochs(dir string, n int, logLevel string, epochViews uint64, idleBlockIntervalMS, blockIntervalMS int64) (*testnetSetup, error) {
	if err := prepareTestnetDir(dir); err != nil {
		return nil, err
	}
	pool := n
	if epochViews > 0 {
		pool = n + 1
	}
	addrs, err := freePorts(3 * pool)
	if err != nil {
		return nil, err
	}
	nodes := make([]*testnetNode, pool)
	vals := make([]genesis.Validator, pool)
	for i := range nodes {
		tn := &testnetNode{
			index: i, name: fmt.Sprintf("node%d", i), home: filepath.Join(dir, fmt.Sprintf("node%d", i)),
			p2pAddr: addrs[3*i], apiAddr: addrs[3*i+1], dbgAddr: addrs[3*i+2],
			exited: make(chan struct{}),
		}
		tn.logPath = filepath.Join(tn.home, "node.log")
		keys, err := testnetKeys(i)
		if err != nil {
			return nil, err
		}
		if vals[i], err = initHomeWithKeys(tn.home, tn.name, tn.p2pAddr, tn.apiAddr, tn.dbgAddr, logLevel, 1, true, keys); err != nil {
			return nil, err
		}
		nodes[i] = tn
	}
	params := testnetParams()
	if epochViews > 0 {
		params.TestEpochs(epochViews)
	}
	params.IdleBlockIntervalMS = idleBlockIntervalMS
	params.BlockIntervalMS = blockIntervalMS
	seed := crypto.Sum([]byte("floe testnet leader seed"))
	g, err := buildGenesis(testnetChainID, vals[:n], params, fmt.Sprintf("%x", seed), "")
	if err != nil {
		return nil, err
	}
	if epochViews > 0 {
		g.Governance = []string{governanceKeyHex(testnetGovernanceKey())}
		if _, err := g.EpochParams(); err != nil {
			return nil, err
		}
	}
	if err := g.Save(filepath.Join(dir, genesisFile)); err != nil {
		return nil, err
	}
	for _, tn := range nodes {
		if err := g.Save(filepath.Join(tn.home, configDir, genesisFile)); err != nil {
			return nil, err
		}
	}
	return &testnetSetup{nodes: nodes, vals: vals, genesis: g}, nil
}

// addTestnetFollowers prepares k follower homes under dir (followerI), each
// following a different validator's API (round-robin over the first n).
func addTestnetFollowers(dir string, ts *testnetSetup, n, k int, logLevel string) error {
	addrs, err := freePorts(k)
	if err != nil {
		return err
	}
	for i := 0; i < k; i++ {
		up := ts.nodes[i%n]
		tn := &testnetNode{
			index: len(ts.nodes), name: fmt.Sprintf("follower%d", i), home: filepath.Join(dir, fmt.Sprintf("follower%d", i)),
			apiAddr: addrs[i], exited: make(chan struct{}), upstream: "http://" + up.apiAddr,
		}
		tn.logPath = filepath.Join(tn.home, "node.log")
		cfgDir := filepath.Join(tn.home, configDir)
		if err := os.MkdirAll(cfgDir, 0o700); err != nil {
			return err
		}
		if err := writeDefaultConfig(filepath.Join(cfgDir, configFile), "", tn.apiAddr, "", logLevel); err != nil {
			return err
		}
		if err := ts.genesis.Save(filepath.Join(cfgDir, genesisFile)); err != nil {
			return err
		}
		ts.nodes = append(ts.nodes, tn)
		ts.followers++
	}
	return nil
}

// childEnv is the environment for node processes: ours, minus the floe.toml
// overrides, which would give every node the same addresses.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case envAPI, envP2P, envDebug, envLogLevel, envDataDir:
			continue
		}
		env = append(env, kv)
	}
	return env
}

// start launches the node process with its output in node.log.
func (tn *testnetNode) start(bin string) error {
	logf, err := os.OpenFile(tn.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "start", "--home", tn.home)
	if tn.upstream != "" {
		cmd = exec.Command(bin, "follow", "--home", tn.home, "--upstream", tn.upstream)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
	setChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", tn.name, err)
	}
	tn.cmd = cmd
	go func() {
		tn.exitErr = cmd.Wait()
		logf.Close()
		close(tn.exited)
	}()
	return nil
}

func (tn *testnetNode) running() bool {
	if tn.cmd == nil {
		return false
	}
	select {
	case <-tn.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL, as a crash would, and waits for the process to end.
func (tn *testnetNode) kill() error {
	if !tn.running() {
		return fmt.Errorf("%s is not running", tn.name)
	}
	tn.killed.Store(true)
	tn.sampleRSS()
	if err := tn.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", tn.name, err)
	}
	<-tn.exited
	return nil
}

// stop sends SIGTERM and waits; a node that does not stop within grace is
// killed (and that is reported).
func (tn *testnetNode) stop(grace time.Duration) error {
	if tn.cmd == nil || tn.killed.Load() {
		return nil
	}
	if !tn.running() {
		if tn.stopping.Load() || tn.reported.Load() {
			return nil
		}
		return tn.exitError()
	}
	tn.stopping.Store(true)
	tn.sampleRSS()
	_ = tn.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tn.exited:
		var ee *exec.ExitError
		if tn.exitErr != nil && !errors.As(tn.exitErr, &ee) {
			return tn.exitErr
		}
		if tn.exitErr != nil {
			return fmt.Errorf("%s exited with %v during shutdown (see %s)", tn.name, tn.exitErr, tn.logPath)
		}
		return nil
	case <-time.After(grace):
		_ = tn.cmd.Process.Kill()
		<-tn.exited
		return fmt.Errorf("%s did not stop within %s and was killed (see %s)", tn.name, grace, tn.logPath)
	}
}

// sampleRSS records the process's peak resident set (VmHWM), which the
// kernel keeps as a high-water mark, so sampling now and then loses
// nothing as long as the last sample is taken before the process exits.
func (tn *testnetNode) sampleRSS() {
	if !tn.running() {
		return
	}
	kb, err := readVmHWM(tn.cmd.Process.Pid)
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

// logTail returns the last lines of the node's log, for error messages.
func (tn *testnetNode) logTail(lines int) string {
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

// exitError describes an unexpected exit (once: later calls to stop do not
// repeat it).
func (tn *testnetNode) exitError() error {
	tn.reported.Store(true)
	return fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s", tn.name, tn.exitErr, tn.logPath, tn.logTail(15))
}

// waitReady polls every node's API until it answers, a node exits, or the
// timeout passes.
func waitReady(ctx context.Context, nodes []*testnetNode, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, tn := range nodes {
		for {
			select {
			case <-tn.exited:
				return tn.exitError()
			default:
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			_, err := tn.client.status(rctx)
			rcancel()
			if err == nil {
				break
			}
			var ae *apiError
			if errors.As(err, &ae) && ae.Status != http.StatusServiceUnavailable {
				return fmt.Errorf("%s API: %w", tn.name, err)
			}
			select {
			case <-ctx.Done():
				if ctx.Err() == context.DeadlineExceeded {
					return fmt.Errorf("%s API at %s did not answer within %s (see %s)", tn.name, tn.apiAddr, timeout, tn.logPath)
				}
				return ctx.Err()
			case <-tn.exited:
				return tn.exitError()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

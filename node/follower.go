package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/follower"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/network"
	"github.com/floe-bft/floe/storage"
)

// A follower node (floe follow) never votes: it pulls blocks from upstream
// nodes' HTTP APIs, validates them with the follower engine (seed 001),
// executes the finalized chain with the same executor and storage as a
// participant, and serves the same read API (blocks, transactions, state
// with proofs, the finalized stream, the sync endpoints). It shares the
// Node type so that all of that is the participant's code, not a copy;
// only the consensus loop, the peer transport and the mempool's inputs are
// replaced.
//
// Goroutines: the engine's verification workers; per upstream, a status
// poller (height polls) and a live-stream reader; one range syncer; the
// executor; the status ticker.

// FollowerConfig configures a follower node.
type FollowerConfig struct {
	Genesis *genesis.Genesis
	DataDir string
	// Upstreams are the base URLs of the nodes (participants or followers)
	// whose APIs this follower pulls from, e.g. http://10.0.0.1:8080.
	Upstreams []string
	// Workers is the size of the verification pool (default 2).
	Workers int
	// MaxUncertified bounds the uncertified-block cache (default 1024).
	MaxUncertified int
	// PollInterval is how often upstream heights are polled (default 1s).
	PollInterval time.Duration
	// BanDuration is how long an upstream that sent something invalid is
	// not asked for ranges (default 30s).
	BanDuration time.Duration
	// HTTPClient makes the requests (default: a client with no overall
	// timeout, since the live stream is long-lived; requests carry their
	// own deadlines).
	HTTPClient *http.Client

	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// ErrFollower: a follower does not take transactions (submit them to a
// participant).
var ErrFollower = errors.New("this node is a follower: it does not accept transactions")

type followerMode struct {
	cfg       FollowerConfig
	engine    *follower.Engine
	upstreams []*upstream
	// rangeCount is how many blocks a range request asks for: the maximum,
	// shrunk when a range ran into an epoch not committed yet.
	rangeCount atomic.Int64
	// epochsChanged carries BeforeSave's verdict to OnFinalized (both run
	// under the engine's lock, one after the other).
	epochsChanged bool
}

type upstream struct {
	url      string
	height   atomic.Uint64 // finalized height it last reported
	banUntil atomic.Int64  // unix nanoseconds
}

func (u *upstream) banned(now time.Time) bool { return now.UnixNano() < u.banUntil.Load() }

// NewFollower opens the store and builds a follower node; Start runs it.
func NewFollower(cfg FollowerConfig) (n *Node, err error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("follower: at least one upstream URL is required")
	}
	ups := make([]*upstream, 0, len(cfg.Upstreams))
	for _, raw := range cfg.Upstreams {
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("follower: upstream %q is not an http(s) URL", raw)
		}
		ups = append(ups, &upstream{url: strings.TrimRight(raw, "/")})
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.BanDuration <= 0 {
		cfg.BanDuration = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	base := Config{Genesis: cfg.Genesis, DataDir: cfg.DataDir, Logger: cfg.Logger, Metrics: cfg.Metrics, VerifyWorkers: cfg.Workers}
	if err := base.withDefaults(); err != nil {
		return nil, err
	}
	n, _, err = open(base, model.ZeroID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.led.Store().Close()
		}
	}()
	n.name = "follower"
	n.transport = nullTransport{}
	fm := &followerMode{cfg: cfg, upstreams: ups}
	fm.rangeCount.Store(follower.MaxRangeBlocks)
	pb, ok := n.led.Store().(*storage.Pebble)
	if !ok {
		return nil, fmt.Errorf("follower mode keeps its state in Pebble (the data directory), not an injected store")
	}
	store, err := follower.NewPebbleStore(pb, mustRoot(n), n.led.RootQC())
	if err != nil {
		return nil, err
	}
	fm.engine, err = follower.New(follower.Config{
		Schedule: func() committee.Schedule { return n.led.Directory().Schedule() },
		Scheme:   n.scheme,
		Root:     mustRoot(n), RootQC: n.led.RootQC(),
		Store:               store,
		LeadersFromAncestry: n.cfg.Genesis.Params.Reputation().Enabled(),
		MaxUncertified:      cfg.MaxUncertified,
		Workers:             cfg.Workers,
		BeforeSave:          n.followerBeforeSave,
		OnFinalized:         n.followerFinalized,
		OnCertified: func(_ []*model.Block, tip *model.QC) {
			n.view.Store(uint64(tip.View) + 1)
		},
		OnProposal: n.led.PublishProposal,
		Logger:     n.log,
		Metrics:    cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	n.fol = fm
	n.led.Finalized(fm.engine.FinalizedHeight())
	n.view.Store(uint64(fm.engine.TipQC().View) + 1)
	return n, nil
}

// mustRoot is the genesis block (open checked that the store holds it).
func mustRoot(n *Node) *model.Block {
	b, err := n.led.Store().FinalizedByHeight(0)
	if err != nil {
		panic(fmt.Sprintf("follower: genesis block missing after open: %v", err))
	}
	return b
}

// followerBeforeSave applies the epoch state machine to newly finalized
// blocks; the state is stored in the same batch as the blocks.
func (n *Node) followerBeforeSave(final []*model.Block) ([]byte, error) {
	enc, _, err := n.led.ApplyEpochs(final)
	n.fol.epochsChanged = enc != nil
	return enc, err
}

// followerFinalized runs after the batch is durable: publish the new epoch
// schedule (which the engine reads for the next input) and wake the
// executor.
func (n *Node) followerFinalized(final []*model.Block) {
	if n.fol.epochsChanged {
		n.publishEpochs()
		n.fol.epochsChanged = false
	}
	n.led.Finalized(final[len(final)-1].Height)
}

// Engine returns the follower engine (nil for a participant): its caches,
// evidence and reports, for tests and operators.
func (n *Node) Engine() *follower.Engine {
	if n.fol == nil {
		return nil
	}
	return n.fol.engine
}

func (n *Node) refuseTxs(txs [][]byte, out []api.Submission) []api.Submission {
	for i := range txs {
		out[i].Error = ErrFollower
	}
	return out
}

func (n *Node) startFollower() error {
	fm := n.fol
	fm.engine.Start()
	n.goFunc("executor", n.runLedger)
	n.goFunc("status", n.statusLoop)
	n.goFunc("follower-ranges", n.followRanges)
	for _, u := range fm.upstreams {
		n.goFunc("follower-poll", func() { n.followPoll(u) })
		n.goFunc("follower-live", func() { n.followLive(u) })
	}
	n.goFunc("follower-watch", func() {
		select {
		case <-n.ctx.Done():
		case <-fm.engine.Done():
			if err := fm.engine.Err(); err != nil {
				n.fatal(err)
			}
		}
	})
	n.led.Wake()
	n.log.Info("follower started", "upstreams", len(fm.upstreams), "finalized", n.led.FinalizedHeight(),
		"executed", n.led.ExecutedHeight())
	return nil
}

// followPoll polls an upstream's finalized height (height polls).
func (n *Node) followPoll(u *upstream) {
	t := time.NewTicker(n.fol.cfg.PollInterval)
	defer t.Stop()
	for {
		var st struct {
			FinalizedHeight uint64 `json:"finalized_height"`
		}
		if err := n.getJSON(u.url+"/v1/status", &st); err == nil {
			u.height.Store(st.FinalizedHeight)
			best := uint64(0)
			for _, o := range n.fol.upstreams {
				best = max(best, o.height.Load())
			}
			n.bestPeerHeight.Store(best)
		} else {
			n.log.Debug("follower: status poll failed", "upstream", u.url, "err", err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	resp, err := n.httpGet(ctx, url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// httpGet sends a GET to an upstream; anything but 200 is an error.
func (n *Node) httpGet(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := n.fol.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return resp, nil
}

// followRanges catches up: while an upstream reports a finalized height
// above ours, it asks for the next range right after the previous answer
// was queued (validation overlaps with the next download), so a follower
// far behind syncs at full speed; once caught up, live proposals take over.
func (n *Node) followRanges() {
	fm := n.fol
	next := uint64(0) // next height to ask for; 0: from our finalized height
	failed := make(chan struct{}, 1)
	turn := 0
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-failed:
			next = 0
		case <-idle.C:
		}
		ours := n.led.FinalizedHeight()
		if next <= ours {
			next = ours + 1
		}
		u := n.pickUpstream(next, &turn)
		if u == nil {
			idle.Reset(fm.cfg.PollInterval / 4)
			continue
		}
		blocks, qc, err := n.fetchRange(u, next, int(fm.rangeCount.Load()))
		if err != nil {
			if errors.Is(err, follower.ErrInvalid) {
				fm.engine.Report(u.url, err)
				u.banUntil.Store(time.Now().Add(fm.cfg.BanDuration).UnixNano())
			} else {
				n.log.Debug("follower: range request failed", "upstream", u.url, "err", err)
			}
			idle.Reset(fm.cfg.PollInterval / 4)
			continue
		}
		if len(blocks) == 0 {
			idle.Reset(fm.cfg.PollInterval / 4)
			continue
		}
		n.log.Debug("follower: range", "upstream", u.url, "from", next, "blocks", len(blocks))
		next = blocks[len(blocks)-1].Height + 1
		err = fm.engine.Submit(n.ctx, follower.Input{From: u.url, Blocks: blocks, QC: qc, Done: func(err error) {
			if err == nil || errors.Is(err, follower.ErrKnown) || errors.Is(err, follower.ErrStale) {
				n.metrics.syncedBlocks.Add(float64(len(blocks)))
				if c := fm.rangeCount.Load(); c < follower.MaxRangeBlocks {
					fm.rangeCount.Store(min(2*c, follower.MaxRangeBlocks))
				}
				return
			}
			if errors.Is(err, follower.ErrUnknownEpoch) {
				// The range runs into an epoch that blocks inside it commit:
				// ask for less, so those blocks finalize (and the schedule
				// grows) before the blocks of the new epoch come.
				fm.rangeCount.Store(max(1, int64(len(blocks))/4))
			}
			n.log.Debug("follower: range rejected", "upstream", u.url, "from", blocks[0].Height, "err", err)
			if errors.Is(err, follower.ErrInvalid) {
				u.banUntil.Store(time.Now().Add(fm.cfg.BanDuration).UnixNano())
			}
			select {
			case failed <- struct{}{}:
			default:
			}
		}})
		if err != nil {
			return
		}
		idle.Reset(0)
	}
}

// pickUpstream returns an upstream (round robin among the eligible) whose
// reported height has a certified block at height from, or nil.
func (n *Node) pickUpstream(from uint64, turn *int) *upstream {
	now := time.Now()
	ups := n.fol.upstreams
	for i := range ups {
		u := ups[(*turn+i)%len(ups)]
		if u.height.Load() > from && !u.banned(now) {
			*turn = (*turn + i + 1) % len(ups)
			return u
		}
	}
	return nil
}

func (n *Node) fetchRange(u *upstream, from uint64, count int) ([]*model.Block, *model.QC, error) {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	resp, err := n.httpGet(ctx, fmt.Sprintf("%s/v1/sync/range?from=%d&count=%d", u.url, from, count))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, follower.DefaultMaxFrameBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(body) > follower.DefaultMaxFrameBytes {
		return nil, nil, fmt.Errorf("%w: range answer over %d bytes", follower.ErrMalformed, follower.DefaultMaxFrameBytes)
	}
	blocks, qc, err := follower.DecodeRange(body, follower.MaxRangeBlocks)
	if err != nil {
		return nil, nil, err
	}
	if len(blocks) > 0 && (blocks[0].Height != from || qc == nil) {
		return nil, nil, fmt.Errorf("%w: asked for height %d, got a range from %d (QC: %v)",
			follower.ErrInvalid, from, blocks[0].Height, qc != nil)
	}
	return blocks, qc, nil
}

// followLive reads an upstream's live stream and hands every frame to the
// engine's pool, reconnecting with backoff when the stream ends.
func (n *Node) followLive(u *upstream) {
	backoff := 200 * time.Millisecond
	for n.ctx.Err() == nil {
		err := n.readLive(u)
		if errors.Is(err, follower.ErrInvalid) {
			n.fol.engine.Report(u.url, err)
		}
		n.log.Debug("follower: live stream ended", "upstream", u.url, "err", err)
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (n *Node) readLive(u *upstream) error {
	resp, err := n.httpGet(n.ctx, u.url+"/v1/sync/live")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := newFrameReader(resp.Body)
	for {
		kind, body, err := follower.ReadFrame(r, follower.DefaultMaxFrameBytes)
		if err != nil {
			return err
		}
		if kind == follower.FrameKeepAlive {
			continue
		}
		in, err := follower.DecodeFrame(kind, body, follower.MaxRangeBlocks)
		if err != nil {
			return err
		}
		in.From = u.url
		// Waiting here is back-pressure on the stream: an upstream whose
		// subscriber falls too far behind drops it, and ranges fill the gap.
		if err := n.fol.engine.Submit(n.ctx, in); err != nil {
			return err
		}
	}
}

// nullTransport stands in for the peer transport on a follower, which has
// no peers: it pulls over HTTP instead.
type nullTransport struct{}

func (nullTransport) Send(model.NodeID, []byte) bool { return false }
func (nullTransport) Broadcast([]byte)               {}
func (nullTransport) Receive() <-chan network.Inbound {
	return nil
}
func (nullTransport) Peers() []network.PeerStatus { return nil }
func (nullTransport) AddPeer(network.Peer) error  { return nil }
func (nullTransport) Close() error                { return nil }

var _ network.Transport = nullTransport{}

func newFrameReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

package execution

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/merkle"
	engine "github.com/floe-bft/floe/execution"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
)

// State sync: an execution node that has fallen more than SyncConfig.Behind
// heights behind the finalized chain (a new node on an old chain, or one
// down longer than the collectors keep collections) does not re-execute
// the gap. It takes a result a finalized block incorporated (a receipt in
// one of the newest finalized blocks), streams the state of that result's
// height from another execution node, and keeps it only if its registers
// hash to the result's end state; then it executes on from there. The
// imported state is as trustworthy as the result it matches: until
// verification and sealing exist, one executor's signed word
// (docs/execution.md, "State sync").

// SyncConfig tunes state sync. Zero values take the defaults.
type SyncConfig struct {
	// Behind is how far the executed height may trail the finalized one
	// before the node syncs state instead of executing the gap (default
	// DefaultSyncBehind).
	Behind uint64
	// Disabled turns state sync off: the node always executes every
	// height.
	Disabled bool
	// Peers are the execution nodes' API base URLs snapshots are asked of;
	// empty: the genesis api of every other execution member.
	Peers []string
	// Timeout bounds one snapshot download (default 10 minutes).
	Timeout time.Duration
	// Retry is how often a node that trails looks again for a result to
	// sync to, or retries a sync that failed (default 10s).
	Retry time.Duration
}

// DefaultSyncBehind is one collection expiry window: collectors keep a
// collection for about that long, so a node further behind may find the
// collections it needs gone.
const DefaultSyncBehind = 3600

// snapshotFrameBytes is the target size of one snapshot frame.
const snapshotFrameBytes = 1 << 20

// maxSnapshotStreams bounds the snapshots a node serves at once.
const maxSnapshotStreams = 2

// handleSnapshot streams the state at the end of an executed height:
// frames of u32 length and state.EncodeSnapshotChunk, ended by a frame of
// length 0 (a stream without it was cut and must not be trusted to be
// whole). 404: the height is not executed here or its state is pruned;
// 503: too many snapshots are being served.
func (n *Node) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "height must be a decimal integer")
		return
	}
	select {
	case n.snapshots <- struct{}{}:
		defer func() { <-n.snapshots }()
	default:
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, "serving too many snapshots; retry later")
		return
	}
	_, version, err := n.store.Result(h)
	if err != nil {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("height %d is not executed here", h))
		return
	}
	st := n.runner.stateStore()
	if _, err := st.Root(version); err != nil {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("the state of height %d is not held here: %v", h, err))
		return
	}
	w.Header().Set("Content-Type", api.ContentTypeBinary)
	bw := bufio.NewWriterSize(w, 64<<10)
	err = st.SnapshotChunks(version, snapshotFrameBytes, func(chunk []state.Write) error {
		b := state.EncodeSnapshotChunk(chunk)
		if _, err := bw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b)))); err != nil {
			return err
		}
		_, err := bw.Write(b)
		return err
	})
	if err != nil {
		// No end frame: the client sees a cut stream.
		n.log.Warn("execution: snapshot stream stopped", "height", h, "err", err)
		return
	}
	_, _ = bw.Write([]byte{0, 0, 0, 0})
	_ = bw.Flush()
}

// syncState brings the node to a recent incorporated result's state if
// it trails the finalized chain by more than Behind. It reports whether
// it synced. A failed attempt changes nothing; the next round tries
// again, and meanwhile the node executes on from where it is.
func (r *runner) syncState(ctx context.Context) (bool, error) {
	if r.sync.Disabled || len(r.sync.Peers) == 0 || r.led.FinalizedHeight() <= r.prev.Height+r.sync.Behind {
		return false, nil
	}
	targets, err := r.syncTargets()
	if err != nil || len(targets) == 0 {
		return false, err
	}
	for _, t := range targets {
		if t.Height <= r.prev.Height {
			break
		}
		for _, peer := range r.sync.Peers {
			if err := r.syncFrom(ctx, peer, t); err != nil {
				if ctx.Err() != nil || errors.Is(err, errSwap) {
					return false, err
				}
				r.log.Warn("execution: state sync failed", "peer", peer, "height", t.Height, "result", t.ID(), "err", err)
				continue
			}
			r.log.Info("execution: state synced", "peer", peer, "height", t.Height, "result", t.ID(), "end_state", t.EndState())
			return true, nil
		}
	}
	return false, nil
}

// syncTargets lists the results the newest finalized blocks incorporate
// (up to syncScanBlocks of them), highest height first, each once.
func (r *runner) syncTargets() ([]*payload.ExecutionResult, error) {
	top := r.led.FinalizedHeight()
	var out []*payload.ExecutionResult
	seen := map[[32]byte]bool{}
	for h := top; h > 0 && h+syncScanBlocks > top; h-- {
		b, err := r.led.BlockByHeight(h)
		if err != nil {
			return nil, err
		}
		pl, err := r.led.Decoded(b)
		if err != nil {
			return nil, err
		}
		for _, rc := range pl.Receipts {
			id := rc.Result.ID()
			if !seen[id] {
				seen[id] = true
				res := rc.Result
				out = append(out, &res)
			}
		}
	}
	// Highest first; among equal heights, the order the chain gave.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Height > out[j-1].Height; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// syncScanBlocks is how many of the newest finalized blocks are searched
// for incorporated results.
const syncScanBlocks = 256

// syncFrom imports target's state from peer and makes it the node's.
func (r *runner) syncFrom(ctx context.Context, peer string, target *payload.ExecutionResult) error {
	ctx, cancel := context.WithTimeout(ctx, r.sync.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/execution/snapshot/%d", peer, target.Height), nil)
	if err != nil {
		return err
	}
	resp, err := r.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("snapshot of height %d: HTTP %d", target.Height, resp.StatusCode)
	}
	// Import beside the current state, which stays until the import
	// matched the result's end state.
	version := engine.ChunkVersion(target.Height, 0xFF)
	tmp := ""
	if r.stateDir != "" {
		tmp = r.stateDir + ".sync"
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
	}
	body := bufio.NewReaderSize(resp.Body, 64<<10)
	done := false
	st, err := state.Import(tmp, r.stateOpts, version, merkle.Hash(target.EndState()), func() ([]state.Write, error) {
		if done {
			return nil, io.EOF
		}
		var n [4]byte
		if _, err := io.ReadFull(body, n[:]); err != nil {
			return nil, fmt.Errorf("%w: snapshot stream cut: %v", state.ErrInvalidSnapshot, err)
		}
		size := binary.BigEndian.Uint32(n[:])
		if size == 0 {
			done = true
			return nil, io.EOF
		}
		if size > state.MaxSnapshotChunkSize {
			return nil, fmt.Errorf("%w: frame of %d bytes", state.ErrInvalidSnapshot, size)
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, fmt.Errorf("%w: snapshot stream cut: %v", state.ErrInvalidSnapshot, err)
		}
		return state.DecodeSnapshotChunk(b)
	})
	if err != nil {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
		return err
	}
	if err := r.swapState(st, tmp, target, version); err != nil {
		return fmt.Errorf("%w: %w", errSwap, err)
	}
	return nil
}

// errSwap: the imported state matched, but replacing the node's state
// with it failed (a disk error): execution cannot go on.
var errSwap = errors.New("replace the state with the imported one")

// swapState makes the imported store (in tmp, or in memory) the node's
// state at target. Without an executed record, a crash in between
// restarts from the genesis state (the old one may be gone), never from a
// half-swapped one.
func (r *runner) swapState(st *state.Store, tmp string, target *payload.ExecutionResult, version uint64) error {
	if err := r.store.ClearExecuted(); err != nil {
		st.Close()
		return err
	}
	if err := r.stateStore().Close(); err != nil {
		st.Close()
		return err
	}
	if tmp != "" {
		if err := st.Close(); err != nil {
			return err
		}
		if err := os.RemoveAll(r.stateDir); err != nil {
			return err
		}
		if err := os.Rename(tmp, r.stateDir); err != nil {
			return err
		}
		var err error
		if st, err = state.Open(r.stateDir, r.stateOpts); err != nil {
			return err
		}
	}
	if err := r.store.SaveSynced(target, version); err != nil {
		st.Close()
		return err
	}
	r.setState(st)
	r.prev, r.prevVersion, r.published = target, version, target
	r.window = ledger.NewWindow(ledger.CollectionWindow)
	if err := r.rebuildWindow(target.Height); err != nil {
		return err
	}
	r.publishExecuted()
	r.m.executedHeight.Set(float64(target.Height))
	r.m.stateSyncs.Inc()
	r.onSynced(target.Height)
	return nil
}

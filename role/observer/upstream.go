package observer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/follower"
)

// Pulling from upstreams: height polls, range sync and the live stream,
// all over the upstreams' HTTP APIs.

func (o *Observer) pollUpstream(u *upstream) {
	t := time.NewTicker(o.cfg.PollInterval)
	defer t.Stop()
	for {
		var st struct {
			FinalizedHeight uint64 `json:"finalized_height"`
		}
		if err := o.getJSON(u.url+"/v1/status", &st); err == nil {
			u.height.Store(st.FinalizedHeight)
			best := uint64(0)
			for _, x := range o.upstreams {
				best = max(best, x.height.Load())
			}
			o.bestPeerHeight.Store(best)
		} else {
			o.log.Debug("follower: status poll failed", "upstream", u.url, "err", err)
		}
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Observer) getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(o.ctx, 10*time.Second)
	defer cancel()
	resp, err := o.httpGet(ctx, url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// httpGet sends a GET to an upstream; anything but 200 is an error.
func (o *Observer) httpGet(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.cfg.HTTPClient.Do(req)
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
func (o *Observer) syncRanges() {
	next := uint64(0) // next height to ask for; 0: from our finalized height
	failed := make(chan struct{}, 1)
	turn := 0
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-failed:
			next = 0
		case <-idle.C:
		}
		ours := o.led.FinalizedHeight()
		if next <= ours {
			next = ours + 1
		}
		u := o.pickUpstream(next, &turn)
		if u == nil {
			idle.Reset(o.cfg.PollInterval / 4)
			continue
		}
		blocks, qc, err := o.fetchRange(u, next, int(o.rangeCount.Load()))
		if err != nil {
			if errors.Is(err, follower.ErrInvalid) {
				o.engine.Report(u.url, err)
				u.banUntil.Store(time.Now().Add(o.cfg.BanDuration).UnixNano())
			} else {
				o.log.Debug("follower: range request failed", "upstream", u.url, "err", err)
			}
			idle.Reset(o.cfg.PollInterval / 4)
			continue
		}
		if len(blocks) == 0 {
			idle.Reset(o.cfg.PollInterval / 4)
			continue
		}
		o.log.Debug("follower: range", "upstream", u.url, "from", next, "blocks", len(blocks))
		next = blocks[len(blocks)-1].Height + 1
		err = o.engine.Submit(o.ctx, follower.Input{From: u.url, Blocks: blocks, QC: qc, Done: func(err error) {
			if err == nil || errors.Is(err, follower.ErrKnown) || errors.Is(err, follower.ErrStale) {
				o.syncedBlocks.Add(float64(len(blocks)))
				if c := o.rangeCount.Load(); c < follower.MaxRangeBlocks {
					o.rangeCount.Store(min(2*c, follower.MaxRangeBlocks))
				}
				return
			}
			if errors.Is(err, follower.ErrUnknownEpoch) {
				// The range runs into an epoch that blocks inside it commit:
				// ask for less, so those blocks finalize (and the schedule
				// grows) before the blocks of the new epoch come.
				o.rangeCount.Store(max(1, int64(len(blocks))/4))
			}
			o.log.Debug("follower: range rejected", "upstream", u.url, "from", blocks[0].Height, "err", err)
			if errors.Is(err, follower.ErrInvalid) {
				u.banUntil.Store(time.Now().Add(o.cfg.BanDuration).UnixNano())
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
func (o *Observer) pickUpstream(from uint64, turn *int) *upstream {
	now := time.Now()
	ups := o.upstreams
	for i := range ups {
		u := ups[(*turn+i)%len(ups)]
		if u.height.Load() > from && !u.banned(now) {
			*turn = (*turn + i + 1) % len(ups)
			return u
		}
	}
	return nil
}

func (o *Observer) fetchRange(u *upstream, from uint64, count int) ([]*model.Block, *model.QC, error) {
	ctx, cancel := context.WithTimeout(o.ctx, 30*time.Second)
	defer cancel()
	resp, err := o.httpGet(ctx, fmt.Sprintf("%s/v1/sync/range?from=%d&count=%d", u.url, from, count))
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
func (o *Observer) followLive(u *upstream) {
	backoff := 200 * time.Millisecond
	for o.ctx.Err() == nil {
		err := o.readLive(u)
		if errors.Is(err, follower.ErrInvalid) {
			o.engine.Report(u.url, err)
		}
		o.log.Debug("follower: live stream ended", "upstream", u.url, "err", err)
		select {
		case <-o.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (o *Observer) readLive(u *upstream) error {
	resp, err := o.httpGet(o.ctx, u.url+"/v1/sync/live")
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
		if err := o.engine.Submit(o.ctx, in); err != nil {
			return err
		}
	}
}

// nullTransport stands in for the peer transport on a follower, which has
// no peers: it pulls over HTTP instead.
func newFrameReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

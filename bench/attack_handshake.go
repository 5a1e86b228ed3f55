package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

const (
	// handshakeHoldRate is how many idle P2P connections the attacker
	// opens per second: well above the 13 per second that kept a
	// reconnecting member out before pending-handshake eviction, and
	// above the 128 pending slots / 3 s handshake deadline ≈ 43 per
	// second that keeps the pool full.
	handshakeHoldRate = 100
	// handshakeHoldSources is how many addresses (127.0.1.2 ...) it
	// spreads them over: enough that the per-address cap (8 pending) does
	// not bound the attacker below the pool (32 × 8 = 256 > 128), so the
	// pool fills and eviction, not the cap, decides who gets in.
	handshakeHoldSources = 32
	// handshakeHoldMax bounds the idle connections held at once.
	handshakeHoldMax = 1000
	// BackWithin is the criterion's "back within a few seconds" for the
	// restarted member.
	BackWithin = 10 * time.Second
	// restartTimeout bounds the restarted node's start (API answering).
	restartTimeout = 30 * time.Second
)

// handshakeHold: idle TCP connections to node1's P2P port, from
// handshakeHoldSources addresses of their own at handshakeHoldRate, each held until node1 closes
// it (handshake deadline, eviction or the per-address cap) and never
// starting TLS. Halfway through the window finalization is measured, then
// node2 is SIGKILLed and started again: it must dial node1 through the
// attack, and be back (connected to every peer and caught up with node0)
// within BackWithin. The attack goes on until it is back or that time has
// passed, even beyond the window.
func handshakeHold(wctx context.Context, env *attackEnv, row *WindowResult) error {
	target := env.nodes[attackTarget]
	// The attack outlives the window if the restarted node needs longer.
	actx, stopAttack := context.WithCancel(env.runCtx)
	defer stopAttack()
	cs := newCounterSet()
	var open atomic.Int64
	sources := loopbackRange("127.0.1.", handshakeHoldSources)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lim := rate.NewLimiter(handshakeHoldRate, 1)
		for i := 0; lim.Wait(actx) == nil; i++ {
			if open.Load() >= handshakeHoldMax {
				continue
			}
			src := sources[i%len(sources)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialFrom(actx, src, target.P2PAddr)
				if err != nil {
					if actx.Err() == nil {
						cs.add("dial_failed", 1)
					}
					return
				}
				defer c.Close()
				cs.add("dialed", 1)
				cs.maxOf("max_open", open.Add(1))
				defer open.Add(-1)
				stop := context.AfterFunc(actx, func() { c.Close() })
				defer stop()
				start := time.Now()
				var b [1]byte
				_, _ = c.Read(b[:]) // returns when the node closes it
				if actx.Err() == nil {
					cs.add("closed_by_node", 1)
					cs.add("held_ms_total", time.Since(start).Milliseconds())
				}
			}()
		}
	}()

	// First half: the attack alone.
	half := time.Duration(float64(env.window) / 2)
	if !sleepCtx(wctx, half) {
		stopAttack()
		wg.Wait()
		return nil
	}
	env.meas.end(wctx)
	back, detail := restartAndWait(actx, env)
	// The rest of the window (if any) under attack, then stop.
	<-wctx.Done()
	stopAttack()
	wg.Wait()
	cs.into(row)
	if n := cs.get("closed_by_node"); n > 0 {
		row.Counters["held_ms_mean"] = cs.get("held_ms_total") / n
	}
	delete(row.Counters, "held_ms_total")
	if back >= 0 {
		row.Counters["back_ms"] = back.Milliseconds()
	}
	row.check("restarted member back", back >= 0 && back <= BackWithin, "%s", detail)
	return nil
}

// restartAndWait restarts node2 and waits, at most twice BackWithin
// after the kill, until its status shows
// every peer connected and its finalized height within 2 of node0's. It
// returns how long that took from the kill (-1: not back in time) and a
// description.
func restartAndWait(actx context.Context, env *attackEnv) (time.Duration, string) {
	node := env.nodes[restartedNode]
	ref := env.nodes[0]
	start := time.Now()
	env.logf("handshake-hold: restarting %s (SIGKILL, start again) under attack", node.Name)
	if err := env.h.Restart(actx, restartedNode, restartTimeout); err != nil {
		return -1, node.Name + " did not restart: " + err.Error()
	}
	apiUp := time.Since(start)
	deadline := start.Add(2 * BackWithin) // past the limit: still report how long it took
	lastPeers, lastLag := -1, int64(-1)
	for time.Now().Before(deadline) && actx.Err() == nil {
		rctx, cancel := context.WithTimeout(actx, time.Second)
		st, err := node.Client.Status(rctx)
		rs, rerr := ref.Client.Status(rctx)
		cancel()
		if err == nil && rerr == nil {
			connected := 0
			for _, p := range st.Peers {
				if p.Connected {
					connected++
				}
			}
			lastPeers, lastLag = connected, int64(rs.FinalizedHeight)-int64(st.FinalizedHeight)
			if connected >= len(env.nodes)-1 && lastLag <= 2 {
				back := time.Since(start)
				env.logf("handshake-hold: %s back after %s (API after %s)", node.Name, back.Round(time.Millisecond), apiUp.Round(time.Millisecond))
				return back, fmt.Sprintf("%s connected to all %d peers and caught up %.2f s after the kill (its API answered after %.2f s; limit %s)",
					node.Name, connected, back.Seconds(), apiUp.Seconds(), BackWithin)
			}
		}
		sleepCtx(actx, 100*time.Millisecond)
	}
	return -1, fmt.Sprintf("%s not back within %s of the kill (last seen: %d of %d peers connected, %d blocks behind node0)",
		node.Name, 2*BackWithin, lastPeers, len(env.nodes)-1, lastLag)
}

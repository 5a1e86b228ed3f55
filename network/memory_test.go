package network

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

func memCluster(t *testing.T, n int) (*MemoryNetwork, []model.NodeID, []*MemoryTransport) {
	hub := NewMemoryNetwork()
	ids := make([]model.NodeID, n)
	trs := make([]*MemoryTransport, n)
	for i := range ids {
		ids[i] = newID(t)
		trs[i] = hub.Transport(ids[i])
	}
	return hub, ids, trs
}

// drain returns the frames currently queued, without waiting.
func drain(tr Transport) []Inbound {
	var out []Inbound
	for {
		select {
		case in, ok := <-tr.Receive():
			if !ok {
				return out
			}
			out = append(out, in)
		default:
			return out
		}
	}
}

func TestMemoryUnicastAndBroadcast(t *testing.T) {
	hub, ids, trs := memCluster(t, 4)
	if hub.Transport(ids[0]) != trs[0] {
		t.Fatal("Transport did not return the open transport")
	}
	buf := []byte("uni")
	if !trs[0].Send(ids[1], buf) {
		t.Fatal("send refused")
	}
	buf[0] = 'X' // the receiver's copy must not change
	trs[2].Broadcast([]byte("all"))
	trs[3].Send(ids[3], []byte("self"))

	got := drain(trs[1])
	if len(got) != 2 || string(got[0].Data) != "uni" || got[0].From != ids[0] || string(got[1].Data) != "all" || got[1].From != ids[2] {
		t.Fatalf("node 1 got %+v", got)
	}
	if got := drain(trs[2]); len(got) != 0 {
		t.Fatalf("broadcast looped back to sender: %+v", got)
	}
	if got := drain(trs[3]); len(got) != 2 || string(got[0].Data) != "all" || string(got[1].Data) != "self" {
		t.Fatalf("node 3 got %+v", got)
	}
	if got := drain(trs[0]); len(got) != 1 {
		t.Fatalf("node 0 got %+v", got)
	}
	if trs[0].Send(newID(t), []byte("x")) {
		t.Fatal("send to unknown ID accepted")
	}
	if trs[0].Send(ids[1], make([]byte, DefaultMaxFrameSize+1)) {
		t.Fatal("oversized frame accepted")
	}
	if st := trs[2].Stats(); st.FramesSent != 3 {
		t.Fatalf("stats %+v", st)
	}
	if ps := trs[0].Peers(); len(ps) != 3 || !ps[0].Connected {
		t.Fatalf("peers %+v", ps)
	}
}

func TestMemoryPartition(t *testing.T) {
	hub, ids, trs := memCluster(t, 3)
	// Cut node 0 off in both directions.
	var lost atomic.Int64
	hub.SetDropFunc(func(from, to model.NodeID, _ []byte) bool {
		if from == ids[0] || to == ids[0] {
			lost.Add(1)
			return true
		}
		return false
	})
	trs[0].Broadcast([]byte("from 0"))
	trs[1].Broadcast([]byte("from 1"))
	trs[0].Send(ids[0], []byte("self is never cut"))
	if got := drain(trs[0]); len(got) != 1 || string(got[0].Data) != "self is never cut" {
		t.Fatalf("partitioned node got %+v", got)
	}
	if got := drain(trs[2]); len(got) != 1 || got[0].From != ids[1] {
		t.Fatalf("node 2 got %+v", got)
	}
	if lost.Load() != 3 {
		t.Fatalf("lost %d frames, want 3", lost.Load())
	}
	hub.SetDropFunc(nil) // heal
	trs[0].Send(ids[2], []byte("healed"))
	if got := drain(trs[2]); len(got) != 1 || string(got[0].Data) != "healed" {
		t.Fatalf("after heal node 2 got %+v", got)
	}
}

func TestMemoryQueueFull(t *testing.T) {
	hub := NewMemoryNetwork()
	hub.SetQueueLen(4)
	a, b := newID(t), newID(t)
	ta, tb := hub.Transport(a), hub.Transport(b)
	done := make(chan int)
	go func() {
		n := 0
		for i := range 10 {
			if ta.Send(b, []byte{byte(i)}) {
				n++
			}
		}
		done <- n
	}()
	select {
	case n := <-done:
		if n != 4 {
			t.Fatalf("accepted %d, want 4", n)
		}
	case <-time.After(time.Second):
		t.Fatal("Send blocked")
	}
	if st := ta.Stats(); st.DroppedQueueFull != 6 {
		t.Fatalf("stats %+v", st)
	}
	if ps := ta.Peers(); ps[0].Dropped != 6 {
		t.Fatalf("peers %+v", ps)
	}
	// FIFO: the first four arrived in order.
	for i, in := range drain(tb) {
		if in.Data[0] != byte(i) {
			t.Fatalf("frame %d is %d", i, in.Data[0])
		}
	}
}

func TestMemoryCloseAndRestart(t *testing.T) {
	hub, ids, trs := memCluster(t, 2)
	trs[1].Send(ids[1], []byte("pending"))
	trs[1].Close()
	trs[1].Close() // idempotent
	if got := drain(trs[1]); len(got) != 1 {
		t.Fatalf("queued frames lost on close: %+v", got)
	}
	if _, ok := <-trs[1].Receive(); ok {
		t.Fatal("receive not closed")
	}
	if trs[1].Send(ids[0], []byte("x")) {
		t.Fatal("closed transport sent")
	}
	if !trs[0].Send(ids[1], []byte("into the void")) {
		t.Fatal("send to a down peer should look queued")
	}
	if trs[0].Peers()[0].Connected {
		t.Fatal("closed peer reported connected")
	}
	restarted := hub.Transport(ids[1])
	if restarted == trs[1] {
		t.Fatal("closed transport handed out again")
	}
	trs[0].Send(ids[1], []byte("hello again"))
	if got := drain(restarted); len(got) != 1 || string(got[0].Data) != "hello again" {
		t.Fatalf("restarted node got %+v", got)
	}
	if len(trs[0].Peers()) != 1 {
		t.Fatalf("restart duplicated the peer: %+v", trs[0].Peers())
	}
}

// Concurrent senders, receivers and Close must be race-free.
func TestMemoryConcurrent(t *testing.T) {
	_, ids, trs := memCluster(t, 4)
	done := make(chan struct{})
	for i, tr := range trs {
		go func() {
			for range tr.Receive() {
			}
			done <- struct{}{}
		}()
		go func() {
			for k := range 1000 {
				tr.Broadcast([]byte(fmt.Sprint(i, k)))
				tr.Send(ids[k%len(ids)], []byte("u"))
			}
			tr.Close()
		}()
	}
	for range trs {
		<-done
	}
}

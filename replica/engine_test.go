package replica_test

import (
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// TestPersistBeforeSend: whenever a vote, timeout or proposal leaves a
// replica, the safety data it was signed under is already in the store.
// Swapping the engine's persist and send makes every send fail this check.
func TestPersistBeforeSend(t *testing.T) {
	b := newBus(t)
	ms := b.chain("persist", 4, 1)
	checked := 0
	for _, m := range ms {
		m := m
		m.sendCheck = func(msgs []consensus.Message) {
			sd := m.store.safety.Safety
			for _, msg := range msgs {
				var v model.View
				switch {
				case msg.Vote != nil:
					v = msg.Vote.View
				case msg.Timeout != nil:
					v = msg.Timeout.View
				case msg.Proposal != nil:
					if sd.HighestProposedView < msg.Proposal.Block.View {
						t.Fatalf("proposal for view %d sent before it was persisted (stored %d)", msg.Proposal.Block.View, sd.HighestProposedView)
					}
					checked++
					continue
				default:
					continue
				}
				if sd.HighestAcknowledgedView < v {
					t.Fatalf("message for view %d sent before it was persisted (stored %d)", v, sd.HighestAcknowledgedView)
				}
				checked++
			}
		}
	}
	b.startAll(ms)
	b.run(2 * time.Second)
	if checked < 100 || len(ms[0].final) < 20 {
		t.Fatalf("only %d signed messages checked, %d blocks finalized", checked, len(ms[0].final))
	}
	checkAgreement(t, ms)
}

// TestPersistFailureStopsTheReplica: a store that fails makes the engine
// stop before anything of that output is sent, and stay stopped; the
// other three replicas go on.
func TestPersistFailureStopsTheReplica(t *testing.T) {
	b := newBus(t)
	ms := b.chain("disk", 4, 1)
	ms[2].store.failAt = 10
	sentAfter := false
	ms[2].sendCheck = func([]consensus.Message) {
		if ms[2].store.persist >= 10 {
			sentAfter = true
		}
	}
	b.startAll(ms)
	b.run(20 * time.Second)
	if !ms[2].down || sentAfter {
		t.Fatalf("replica with a failing store: down %v, sent after the failure %v", ms[2].down, sentAfter)
	}
	if err := ms[2].eng.Step(b.now, consensus.TimerEvent{}); !errors.Is(err, errDiskGone) {
		t.Fatalf("a step after the failure returned %v", err)
	}
	if len(ms[0].final) < 20 {
		t.Fatalf("three replicas finalized only %d blocks", len(ms[0].final))
	}
	checkAgreement(t, ms)
}

// notReady makes every proposal of the listed views uncheckable until
// release.
type notReady struct {
	views    map[model.View]bool
	released bool
}

func (r *notReady) Ready(b *model.Block) bool { return r.released || !r.views[b.View] }

// TestParkedProposalVotesOnceReady: a proposal whose payload cannot be
// checked yet is not voted for, but its block joins the tree and its
// certificates count; once Ready says so, Retry votes for it.
func TestParkedProposalVotesOnceReady(t *testing.T) {
	b := newBus(t)
	ms := b.chain("park", 4, 1)
	b.startAll(ms)
	b.run(200 * time.Millisecond)
	m := ms[0]
	core := m.eng.Core()
	view := core.CurrentView()
	gate := &notReady{views: map[model.View]bool{view: true, view + 1: true}}
	parked := 0
	eng, err := replica.New(replica.Config{Core: core, Store: m.store, Transport: m, Observer: parkCounter{m, &parked}, Ready: gate})
	if err != nil {
		t.Fatal(err)
	}
	m.eng = eng
	var votes []consensus.Message
	m.sendCheck = func(msgs []consensus.Message) {
		for _, msg := range msgs {
			if msg.Vote != nil && gate.views[msg.Vote.View] {
				votes = append(votes, msg)
			}
		}
	}
	// Deliver everything until m holds a proposal for the gated view.
	for i := 0; i < 200 && eng.Parked() == 0; i++ {
		b.run(time.Millisecond)
	}
	if eng.Parked() == 0 || parked == 0 {
		t.Fatalf("no proposal parked for views %d-%d (replica in view %d)", view, view+1, core.CurrentView())
	}
	if len(votes) != 0 {
		t.Fatalf("voted for an uncheckable proposal: %+v", votes[0].Vote)
	}
	gate.released = true
	if err := eng.Retry(b.now); err != nil {
		t.Fatal(err)
	}
	if len(votes) == 0 && core.CurrentView() <= view+1 {
		t.Fatalf("no vote after the payload became checkable (view %d)", core.CurrentView())
	}
	b.run(time.Second)
	checkAgreement(t, ms)
}

type parkCounter struct {
	*member
	n *int
}

func (p parkCounter) Parked(*model.Block, bool) { *p.n++ }

// TestParkingIsBounded: at most MaxParked proposals wait; more are
// dropped and reported, not kept.
func TestParkingIsBounded(t *testing.T) {
	b := newBus(t)
	ms := b.chain("bound", 4, 1)
	never := &notReady{views: map[model.View]bool{}}
	for v := model.View(1); v < 1000; v++ {
		never.views[v] = true
	}
	dropped := 0
	m := ms[0]
	eng, err := replica.New(replica.Config{Core: m.eng.Core(), Store: m.store, Transport: m,
		Observer: dropCounter{m, &dropped}, Ready: never, MaxParked: 2})
	if err != nil {
		t.Fatal(err)
	}
	m.eng = eng
	b.startAll(ms)
	b.run(3 * time.Second)
	if eng.Parked() > 2 {
		t.Fatalf("%d proposals parked with a bound of 2", eng.Parked())
	}
	if dropped == 0 {
		t.Fatal("no parked proposal was ever dropped; the test did not reach the bound")
	}
}

type dropCounter struct {
	*member
	n *int
}

func (d dropCounter) Parked(_ *model.Block, dropped bool) {
	if dropped {
		*d.n++
	}
}

// TestFollowUpEventIsStepped: an event the store returns (a schedule
// derived from finalized blocks) is stepped once the output is applied.
func TestFollowUpEventIsStepped(t *testing.T) {
	b := newBus(t)
	ms := b.chain("follow", 4, 1)
	b.startAll(ms)
	b.run(100 * time.Millisecond)
	m := ms[1]
	var seen []consensus.Event
	eng, err := replica.New(replica.Config{Core: m.eng.Core(), Store: m.store, Transport: m, Observer: eventLog{m, &seen}})
	if err != nil {
		t.Fatal(err)
	}
	m.eng = eng
	m.store.follow = consensus.WorkEvent{}
	b.run(100 * time.Millisecond)
	for i, ev := range seen {
		if _, ok := ev.(consensus.WorkEvent); ok && i > 0 {
			return
		}
	}
	t.Fatalf("the store's follow-up event was never stepped (%d events seen)", len(seen))
}

type eventLog struct {
	*member
	seen *[]consensus.Event
}

func (l eventLog) Stepped(ev consensus.Event, _ *consensus.Output, _ error) {
	*l.seen = append(*l.seen, ev)
}

// TestReadyBlocksHoldsUnreadySyncedBlocks: with Config.ReadyBlocks, synced
// blocks whose payload is not checkable yet wait in the engine (bounded)
// instead of reaching the core, which would refuse them and fetch them
// again in a loop (the livelock the simulator found on cluster chains);
// Retry adds them once ready. Without it they join the tree at once.
func TestReadyBlocksHoldsUnreadySyncedBlocks(t *testing.T) {
	for _, holds := range []bool{true, false} {
		b := newBus(t)
		ms := b.chain("held", 4, 1)
		b.startAll(ms)
		late := ms[3]
		late.down = true
		b.run(5 * time.Second)
		synced := ms[0].final
		if len(synced) < 3 {
			t.Fatalf("only %d blocks finalized to sync", len(synced))
		}
		gate := &notReady{views: map[model.View]bool{}}
		for _, blk := range synced {
			gate.views[blk.View] = true
		}
		core := late.eng.Core()
		eng, err := replica.New(replica.Config{Core: core, Store: late.store, Transport: late, Observer: late,
			Ready: gate, ReadyBlocks: holds, MaxParked: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Step(b.now, consensus.BlocksEvent{Blocks: synced}); err != nil {
			t.Fatal(err)
		}
		top := synced[len(synced)-1].ID()
		if !holds {
			if core.Block(top) == nil && core.Finalized().Height < synced[len(synced)-1].Height {
				t.Fatal("without ReadyBlocks the synced blocks did not join the tree")
			}
			continue
		}
		if want := min(len(synced), 8); eng.Held() != want || core.Block(synced[1].ID()) != nil {
			t.Fatalf("held %d of %d unready blocks (bound 8), second in the tree: %v", eng.Held(), len(synced), core.Block(synced[1].ID()) != nil)
		}
		gate.released = true
		if err := eng.Retry(b.now); err != nil {
			t.Fatal(err)
		}
		if eng.Held() != 0 || core.Block(synced[1].ID()) == nil && core.Finalized().Height < synced[1].Height {
			t.Fatalf("after release: %d held, second block in the tree: %v", eng.Held(), core.Block(synced[1].ID()) != nil)
		}
	}
}

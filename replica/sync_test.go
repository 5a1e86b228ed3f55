package replica_test

import (
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/replica"
)

// linear builds a root and n blocks on it, each certified by a
// (signature-less) QC: sync's checks of shape, links and bounds need no
// signatures; the verify function stands for the verifier.
func linear(t *testing.T, n int) []*model.Block {
	t.Helper()
	chain := model.MainChain("sync")
	root, err := model.NewRootBlock(chain, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := []*model.Block{root}
	for i := 1; i <= n; i++ {
		p := out[i-1]
		qc := &model.QC{View: p.View, BlockID: p.ID(), Signature: []byte{1}}
		b, err := model.NewBlock(model.Header{ChainID: chain, View: p.View + 1, Height: p.Height + 1, ParentID: p.ID(), QC: qc,
			PayloadHash: model.PayloadHash(nil)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestSyncFetchIsPacedAndRetriedUntilItArrives(t *testing.T) {
	turn := 0
	s := replica.NewSync[string](replica.SyncConfig{RepeatGap: 200 * time.Millisecond, Retries: 2, MaxTracked: 4},
		func(n int) int { turn++; return turn % n })
	peers := []string{"a", "b", "c"}
	now := time.Unix(0, 0)
	id := model.Identifier{1}
	req, ok := s.Fetch(now, id, 7, peers)
	if !ok || req.Block != id || req.Have != 7 || req.Count != 0 {
		t.Fatalf("first fetch: %+v %v", req, ok)
	}
	if _, ok := s.Fetch(now.Add(100*time.Millisecond), id, 7, peers); ok {
		t.Fatal("asked again within the repeat gap")
	}
	again, ok := s.Fetch(now.Add(250*time.Millisecond), id, 7, peers)
	if !ok || again.To == req.To {
		t.Fatalf("after the gap: %+v %v (first went to %s)", again, ok, req.To)
	}
	// Retries: two, then it gives up; none once the block is there.
	for i := 0; i < 2; i++ {
		if _, ok := s.Retry(now, id, true, 7, peers); !ok {
			t.Fatalf("retry %d refused", i+1)
		}
	}
	if _, ok := s.Retry(now, id, true, 7, peers); ok {
		t.Fatal("a third retry with Retries 2")
	}
	other := model.Identifier{2}
	s.Fetch(now, other, 7, peers)
	if _, ok := s.Retry(now, other, false, 7, peers); ok {
		t.Fatal("retried a block that arrived")
	}
	if _, ok := s.Fetch(now, model.Identifier{3}, 7, nil); ok {
		t.Fatal("a request with no peer to send it to")
	}
}

// TestSyncMemoryIsBounded: a flood of fetches for distinct blocks keeps at
// most MaxTracked of them paced; the rest still go out (the core asked for
// them), unpaced.
func TestSyncMemoryIsBounded(t *testing.T) {
	s := replica.NewSync[string](replica.SyncConfig{RepeatGap: time.Hour, MaxTracked: 4}, func(int) int { return 0 })
	now := time.Unix(0, 0)
	for i := 0; i < 100; i++ {
		if _, ok := s.Fetch(now, model.Identifier{byte(i)}, 0, []string{"a"}); !ok {
			t.Fatalf("fetch %d refused", i)
		}
	}
	paced := 0
	for i := 0; i < 100; i++ {
		if _, ok := s.Fetch(now, model.Identifier{byte(i)}, 0, []string{"a"}); !ok {
			paced++
		}
	}
	if paced != 4 {
		t.Fatalf("%d blocks remembered, want MaxTracked 4", paced)
	}
}

func TestSyncRangesFollowAnnouncementsAndAnswers(t *testing.T) {
	s := replica.NewSync[string](replica.SyncConfig{Batch: 4, RangeTimeout: time.Second}, func(int) int { return 0 })
	now := time.Unix(0, 0)
	if _, ok := s.Status(now, "a", 10, 10); ok {
		t.Fatal("asked a peer no higher than us for a range")
	}
	req, ok := s.Status(now, "b", 30, 10)
	if !ok || req.To != "b" || req.From != 11 || req.Count != 4 || req.Block != (model.Identifier{}) {
		t.Fatalf("behind by 20: %+v %v", req, ok)
	}
	if _, ok := s.Status(now, "c", 40, 10); ok {
		t.Fatal("a second range request while one is outstanding")
	}
	if s.BestPeerHeight() != 40 {
		t.Fatalf("best peer height %d", s.BestPeerHeight())
	}
	blocks := linear(t, 14)[11:15] // heights 11..14
	next, ok := s.Received(now, "b", blocks, 10)
	if !ok || next.From != 15 {
		t.Fatalf("after an answer up to 14: %+v %v", next, ok)
	}
	// Unanswered: after the timeout another request goes out.
	if _, ok := s.Status(now.Add(500*time.Millisecond), "c", 40, 10); ok {
		t.Fatal("re-asked before the range timeout")
	}
	if late, ok := s.Status(now.Add(2*time.Second), "c", 40, 10); !ok || late.To != "c" {
		t.Fatalf("after the range timeout: %+v %v", late, ok)
	}
	s.Forget("c")
	if s.BestPeerHeight() != 30 {
		t.Fatalf("a forgotten peer's height still counts: %d", s.BestPeerHeight())
	}
}

func TestAncestryServesOldestFirstAboveWhatTheAskerHas(t *testing.T) {
	chain := linear(t, 10)
	byID := map[model.Identifier]*model.Block{}
	for _, b := range chain {
		byID[b.ID()] = b
	}
	get := func(id model.Identifier) *model.Block { return byID[id] }
	above := func(h uint64) func(*model.Block) bool { return func(b *model.Block) bool { return b.Height > h } }
	got := replica.Ancestry(get, chain[10].ID(), above(6), 64)
	if len(got) != 4 || got[0].Height != 7 || got[3].Height != 10 {
		t.Fatalf("ancestry above 6: %d blocks from %d", len(got), got[0].Height)
	}
	if got := replica.Ancestry(get, chain[10].ID(), above(0), 3); len(got) != 3 || got[0].Height != 8 {
		t.Fatalf("bounded ancestry: %d blocks", len(got))
	}
	if got := replica.Ancestry(get, chain[10].ID(), above(0), 64); len(got) != 10 {
		t.Fatalf("the root was served or the chain cut short: %d blocks", len(got))
	}
	if got := replica.Ancestry(get, model.Identifier{9}, above(0), 64); len(got) != 0 {
		t.Fatalf("served %d blocks for an unknown ID", len(got))
	}
}

func TestCheckBatchRefusesWhatCannotBeTheChain(t *testing.T) {
	chain := linear(t, 6)
	ok := func(*model.Block) error { return nil }
	got, err := replica.CheckBatch([]*model.Block{chain[3], chain[0], chain[1], chain[2]}, 8, ok)
	if err != nil || len(got) != 3 || got[0].Height != 1 || got[2].Height != 3 {
		t.Fatalf("a shuffled answer with the root: %v, %d blocks", err, len(got))
	}
	if _, err := replica.CheckBatch(chain[1:], 4, ok); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("an answer over the batch size: %v", err)
	}
	// A block at height 3 that does not extend the block at height 2.
	forged, err := model.NewBlock(model.Header{ChainID: chain[3].ChainID, View: 3, Height: 3, ParentID: model.Identifier{7},
		QC: &model.QC{View: 2, BlockID: model.Identifier{7}, Signature: []byte{1}}, PayloadHash: model.PayloadHash(nil)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replica.CheckBatch([]*model.Block{chain[1], chain[2], forged, chain[4]}, 8, ok); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("an answer whose heights do not link: %v", err)
	}
	bad := errors.New("bad certificate")
	if _, err := replica.CheckBatch(chain[1:3], 8, func(b *model.Block) error {
		if b.Height == 2 {
			return bad
		}
		return nil
	}); !errors.Is(err, bad) {
		t.Fatalf("a block the verifier refuses: %v", err)
	}
}

// A fetch answer (a live block's ancestry, far above us) from the peer a
// range request went to is not the range answer: counting it as one made
// range sync skip the heights between the two, and a replica far behind
// then caught up only by walking fetches down one batch at a time (the ci
// manifest's node4, killed under load, fell 600 blocks behind for good).
func TestSyncRangeSkipsNothingWhenAFetchAnswerComesFirst(t *testing.T) {
	s := replica.NewSync[string](replica.SyncConfig{Batch: 4, RangeTimeout: time.Second}, func(int) int { return 0 })
	now := time.Unix(0, 0)
	chain := linear(t, 40)
	req, ok := s.Status(now, "b", 40, 10)
	if !ok || req.From != 11 {
		t.Fatalf("range request: %+v %v", req, ok)
	}
	// b's answer to a fetch (heights 30..33) overtakes its range answer.
	if next, ok := s.Received(now, "b", chain[30:34], 10); ok && next.From != 11 {
		t.Fatalf("a fetch answer moved range sync to %d, past the heights 11..29 it never got", next.From)
	}
	next, ok := s.Received(now, "b", chain[11:15], 10)
	if !ok || next.From != 15 {
		t.Fatalf("after the range answer 11..14: %+v %v", next, ok)
	}
	// An answer that starts above where range sync stands does not move it.
	if next, ok := s.Received(now, "b", chain[20:24], 10); ok && next.From != 15 {
		t.Fatalf("a detached answer moved range sync to %d", next.From)
	}
}

// A range request that times out is asked again from the replica's own
// finalized height: whatever made it time out may have lost blocks the
// replica counted on.
func TestSyncRangeTimeoutAsksFromWhatIsFinalized(t *testing.T) {
	s := replica.NewSync[string](replica.SyncConfig{Batch: 4, RangeTimeout: time.Second}, func(int) int { return 0 })
	now := time.Unix(0, 0)
	chain := linear(t, 40)
	if _, ok := s.Status(now, "b", 40, 10); !ok {
		t.Fatal("no range request")
	}
	next, ok := s.Received(now, "b", chain[11:15], 10)
	if !ok || next.From != 15 {
		t.Fatalf("after 11..14: %+v %v", next, ok)
	}
	// The answer 11..14 never reached the core (ours is still 10), and the
	// request for 15.. is not answered.
	late, ok := s.Status(now.Add(2*time.Second), "c", 40, 10)
	if !ok || late.From != 11 {
		t.Fatalf("after the timeout: %+v %v, want a request from 11", late, ok)
	}
}

// The blocks below the first one that fails its check are returned: a
// replica whose schedule ends inside an answer needs them to finalize far
// enough to learn the next epoch (refusing the whole answer, it asked for
// the same one forever).
func TestCheckBatchKeepsWhatChecksOutBelowAFailure(t *testing.T) {
	chain := linear(t, 6)
	unknown := errors.New("view of an unknown epoch")
	got, err := replica.CheckBatch(chain[1:7], 8, func(b *model.Block) error {
		if b.Height >= 4 {
			return unknown
		}
		return nil
	})
	if !errors.Is(err, unknown) || len(got) != 3 || got[2].Height != 3 {
		t.Fatalf("answer 1..6 whose blocks from 4 fail: %v, %d blocks", err, len(got))
	}
}

// While a range request is outstanding, fetches (a live block's ancestry,
// which cannot connect to what a replica behind holds) are not sent; once
// it is answered or timed out they are.
func TestSyncFetchWaitsWhileRangeSyncRuns(t *testing.T) {
	s := replica.NewSync[string](replica.SyncConfig{Batch: 4, RangeTimeout: time.Second}, func(int) int { return 0 })
	now := time.Unix(0, 0)
	chain := linear(t, 40)
	if _, ok := s.Status(now, "b", 40, 10); !ok {
		t.Fatal("no range request")
	}
	if _, ok := s.Fetch(now, chain[39].ID(), 10, []string{"b"}); ok {
		t.Fatal("fetched a live block's ancestry while range sync runs")
	}
	if _, ok := s.Fetch(now.Add(1500*time.Millisecond), chain[39].ID(), 10, []string{"b"}); !ok {
		t.Fatal("no fetch after the range request timed out")
	}
	s2 := replica.NewSync[string](replica.SyncConfig{Batch: 4, RangeTimeout: time.Second}, func(int) int { return 0 })
	s2.Status(now, "b", 12, 10)
	s2.Received(now, "b", chain[11:13], 10) // caught up: no range request follows
	if _, ok := s2.Fetch(now, chain[13].ID(), 12, []string{"b"}); !ok {
		t.Fatal("no fetch once range sync caught up")
	}
}

package consensus

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/payload"
)

func poolReceipt(executor byte, h uint64, variant byte) *payload.Receipt {
	r := payload.ExecutionResult{Block: model.Identifier{byte(h)}, Height: h,
		Chunks: []payload.Chunk{{StartState: model.Identifier{variant}, EndState: model.Identifier{variant}}}}
	return &payload.Receipt{Result: r, Executor: model.NodeID{executor}, Signature: []byte{1}}
}

// The pool never drops a receipt it took: a full executor quota refuses
// (retryable) instead; a receipt offered again after a finalized block
// carried it is a no-op, another result for that block is a conflict;
// heights below the floor leave.
func TestReceiptPoolBoundsAndInclusion(t *testing.T) {
	q := newReceiptPool(2)
	for h := uint64(1); h <= 2; h++ {
		if err := q.add(poolReceipt(1, h, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.add(poolReceipt(1, 3, 0)); !errors.Is(err, ErrReceiptPoolFull) {
		t.Fatalf("a third receipt with a quota of 2: %v", err)
	}
	if err := q.add(poolReceipt(2, 3, 0)); err != nil {
		t.Fatalf("another executor's quota is its own: %v", err)
	}
	if err := q.add(poolReceipt(1, 2, 9)); !errors.Is(err, ErrConflictingReceipt) {
		t.Fatalf("a second result for a pooled height: %v", err)
	}
	q.included([]*payload.Receipt{poolReceipt(1, 1, 0)}, 0)
	if q.len() != 2 {
		t.Fatalf("pool holds %d after one was included, want 2", q.len())
	}
	if err := q.add(poolReceipt(1, 1, 0)); err != nil || q.len() != 2 {
		t.Fatalf("re-offering an included receipt: %v, pool %d", err, q.len())
	}
	if err := q.add(poolReceipt(1, 1, 7)); !errors.Is(err, ErrConflictingReceipt) {
		t.Fatalf("another result for an included height: %v", err)
	}
	if err := q.add(poolReceipt(1, 3, 0)); err != nil {
		t.Fatalf("room again after an inclusion: %v", err)
	}
	q.included(nil, 3)
	if got := q.candidates(); len(got) != 2 || got[0].Height() != 3 || got[1].Height() != 3 {
		t.Fatalf("after the floor moved to 3: %d candidates", len(got))
	}
	if err := q.add(poolReceipt(1, 2, 0)); err != nil || q.len() != 2 {
		t.Fatalf("a receipt below the floor is ignored: %v, pool %d", err, q.len())
	}
}

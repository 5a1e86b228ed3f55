package collector_test

import (
	"errors"
	"testing"

	"github.com/floe-bft/floe/role/collector"
)

func TestRefsKeepsAWindowInOrder(t *testing.T) {
	r := collector.NewRefs(10)
	for h := uint64(5); h <= 30; h++ {
		if err := r.Finalized(mainID(h), h, h/20); err != nil {
			t.Fatal(err)
		}
	}
	if id, h := r.Latest(); id != mainID(30) || h != 30 {
		t.Fatalf("latest %v at %d, want block 30", id, h)
	}
	for h := uint64(21); h <= 30; h++ {
		got, epoch, ok := r.RefHeight(mainID(h))
		if !ok || got != h || epoch != h/20 {
			t.Fatalf("block %d: (%d, %d, %v)", h, got, epoch, ok)
		}
	}
	if _, _, ok := r.RefHeight(mainID(20)); ok {
		t.Fatal("a block older than the window is still answered for")
	}
	if err := r.Finalized(mainID(32), 32, 1); !errors.Is(err, collector.ErrRefGap) {
		t.Fatalf("a gap: err %v, want ErrRefGap", err)
	}
	if err := r.Finalized(mainID(30), 30, 1); err != nil {
		t.Fatalf("a repeat of a recorded block: %v", err)
	}
	if err := r.Finalized(mainID(99), 30, 1); !errors.Is(err, collector.ErrRefGap) {
		t.Fatalf("another block at a recorded height: err %v, want ErrRefGap", err)
	}
	if _, h := r.Latest(); h != 30 {
		t.Fatalf("a refused block moved the latest to %d", h)
	}
}

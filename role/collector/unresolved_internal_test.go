package collector

import (
	"errors"
	"testing"
	"time"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// Transactions waiting for an unknown reference block are bounded; once
// the block is known the pool's own rules take over; past grace they
// leave the pool.
func TestUnresolvedBoundedAndDroppedAfterGrace(t *testing.T) {
	c := &Cluster{pool: newPool(10, 1<<20)}
	u := newUnresolved(2, time.Minute)
	now := time.Unix(1000, 0)
	txs := []collection.Tx{{Ref: model.Identifier{1}, Body: []byte("a")}, {Ref: model.Identifier{2}, Body: []byte("b")}}
	for _, tx := range txs {
		if err := u.reserve(); err != nil {
			t.Fatal(err)
		}
		if err := c.pool.add(tx); err != nil {
			t.Fatal(err)
		}
		u.add(tx.ID(), tx.Ref, c, now)
	}
	if err := u.reserve(); !errors.Is(err, ErrTooManyUnresolved) {
		t.Fatalf("a third: %v", err)
	}
	knownOne := func(ref model.Identifier) bool { return ref == model.Identifier{1} }
	if n := u.sweep(knownOne, now.Add(time.Second)); n != 0 || u.size() != 1 || !c.IsPending(txs[0].ID()) {
		t.Fatalf("after its block came: dropped %d, %d waiting, first pending %v", n, u.size(), c.IsPending(txs[0].ID()))
	}
	if n := u.sweep(knownOne, now.Add(2*time.Minute)); n != 1 || u.size() != 0 || c.IsPending(txs[1].ID()) || !c.IsPending(txs[0].ID()) {
		t.Fatalf("past grace: dropped %d, %d waiting", n, u.size())
	}
}

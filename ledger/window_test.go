package ledger_test

import (
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/ledger"
)

func g(id byte) *collection.Guarantee {
	return &collection.Guarantee{CollectionID: model.Identifier{id}}
}

// The collection rule: a collection named within the window, or earlier
// in the same block, is not executed again; every appearance renews its
// place; a collection leaves after size heights without appearing.
func TestWindowFreshAndRecord(t *testing.T) {
	w := ledger.NewWindow(3)
	fresh, rep := w.Fresh([]*collection.Guarantee{g(1), g(2), g(1)})
	if len(fresh) != 2 || len(rep) != 1 || rep[0] != (model.Identifier{1}) {
		t.Fatalf("a repeat within the block: fresh %d, repeated %v", len(fresh), rep)
	}
	w.Record(1, []*collection.Guarantee{g(1), g(2), g(1)})
	if f, _ := w.Fresh([]*collection.Guarantee{g(1), g(3)}); len(f) != 1 || f[0].CollectionID != (model.Identifier{3}) {
		t.Fatalf("collection 1 was let through again at height 2: %v", f)
	}
	w.Record(2, []*collection.Guarantee{g(1)}) // renews 1
	w.Record(3, nil)
	w.Record(4, nil) // height 1 leaves the window
	if !w.Seen(model.Identifier{1}) || w.Seen(model.Identifier{2}) {
		t.Fatalf("after the window: seen(1) = %v (renewed at 2), seen(2) = %v (only at 1)", w.Seen(model.Identifier{1}), w.Seen(model.Identifier{2}))
	}
	w.Record(5, nil)
	if w.Seen(model.Identifier{1}) {
		t.Fatal("collection 1 stayed past its renewed window")
	}
}

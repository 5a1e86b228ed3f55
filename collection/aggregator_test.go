package collection_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

func TestAggregatorForms(t *testing.T) {
	c := newCluster(t, crypto.BLS(), 1, 1, 1, 1)
	a := collection.NewAggregator(c.scheme, c.chain, c.com, 0)
	col, ref := model.Identifier{1}, mainID(10)
	if g, err := a.Expect(col, ref); g != nil || err != nil {
		t.Fatalf("Expect: %v %v", g, err)
	}
	for i := range 2 {
		if g, err := a.Add(c.share(t, i, col, ref)); g != nil || err != nil {
			t.Fatalf("share %d: %v %v", i, g, err)
		}
	}
	// A repeated share does not count twice.
	if g, err := a.Add(c.share(t, 1, col, ref)); g != nil || err != nil {
		t.Fatalf("repeated share: %v %v", g, err)
	}
	g, err := a.Add(c.share(t, 3, col, ref))
	if err != nil || g == nil {
		t.Fatalf("third share: %v %v", g, err)
	}
	if g.CollectionID != col || g.Ref != ref || g.Chain != c.chain || g.Signers.Count() != 3 {
		t.Errorf("guarantee %+v", g)
	}
	wantErr(t, "formed guarantee", collection.Verify(c.scheme, g, c.chain, c.com), nil)
	// Once formed, later shares are ignored.
	if g, err := a.Add(c.share(t, 2, col, ref)); g != nil || err != nil {
		t.Fatalf("late share: %v %v", g, err)
	}
}

func TestAggregatorEarlyShares(t *testing.T) {
	c := newCluster(t, crypto.BLS(), 1, 1, 1, 1)
	a := collection.NewAggregator(c.scheme, c.chain, c.com, 0)
	col, ref := model.Identifier{2}, mainID(10)
	for i := range 3 {
		if g, err := a.Add(c.share(t, i, col, ref)); g != nil || err != nil {
			t.Fatalf("early share %d: %v %v", i, g, err)
		}
	}
	if a.Open() != 0 {
		t.Fatal("a peer's share opened a collection")
	}
	g, err := a.Expect(col, ref)
	if err != nil || g == nil {
		t.Fatalf("Expect with three early shares: %v %v", g, err)
	}
	wantErr(t, "guarantee from early shares", collection.Verify(c.scheme, g, c.chain, c.com), nil)

	// A member's early buffer is bounded: its oldest shares go first.
	// Member 0 sends one share too many; members 1 and 2 share the
	// oldest and the second oldest collection.
	first, second := model.Identifier{4, 0}, model.Identifier{4, 1}
	for n := range collection.EarlySharesPerSigner + 1 {
		if _, err := a.Add(c.share(t, 0, model.Identifier{4, byte(n)}, ref)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 3; i++ {
		for _, col := range []model.Identifier{first, second} {
			if _, err := a.Add(c.share(t, i, col, ref)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if g, _ := a.Expect(first, ref); g != nil {
		t.Error("a share pushed out of the early buffer counted")
	}
	if g, err := a.Expect(second, ref); g == nil || err != nil {
		t.Errorf("early shares of the second collection: %v %v", g, err)
	}
}

func TestAggregatorBadShares(t *testing.T) {
	c := newCluster(t, crypto.BLS(), 1, 1, 1, 1)
	a := collection.NewAggregator(c.scheme, c.chain, c.com, 0)
	col, ref := model.Identifier{5}, mainID(10)
	if _, err := a.Expect(col, ref); err != nil {
		t.Fatal(err)
	}
	// Member 2 signs another collection: a well-formed, wrong share.
	bad := c.share(t, 2, model.Identifier{6}, ref)
	bad.CollectionID = col
	for _, sh := range []collection.Share{c.share(t, 0, col, ref), bad} {
		if g, err := a.Add(sh); g != nil || err != nil {
			t.Fatalf("%v %v", g, err)
		}
	}
	// The third share reaches the threshold: the aggregate fails, the bad
	// share is found and reported, and two good shares are not enough.
	g, err := a.Add(c.share(t, 1, col, ref))
	var bse *collection.BadSharesError
	if g != nil || !errors.As(err, &bse) || len(bse.Signers) != 1 || bse.Signers[0] != c.com.Member(2).ID {
		t.Fatalf("with a bad share: %v, %v", g, err)
	}
	wantErr(t, "bad shares", err, collection.ErrBadSignature)
	// The bad member is ignored from now on, even with a good share.
	if g, err := a.Add(c.share(t, 2, col, ref)); g != nil || err != nil {
		t.Fatalf("caught member's second share: %v %v", g, err)
	}
	g, err = a.Add(c.share(t, 3, col, ref))
	if err != nil || g == nil || g.Signers.Has(2) {
		t.Fatalf("fourth share: %v %v", g, err)
	}
	wantErr(t, "guarantee without the bad member", collection.Verify(c.scheme, g, c.chain, c.com), nil)
}

func TestAggregatorBadShareWithEnoughGood(t *testing.T) {
	c := newCluster(t, crypto.BLS(), 1, 1, 1, 1, 1) // threshold 4
	a := collection.NewAggregator(c.scheme, c.chain, c.com, 0)
	col, ref := model.Identifier{7}, mainID(10)
	bad := c.share(t, 4, col, ref)
	bad.Signature = bytes.Repeat([]byte{0xaa}, len(bad.Signature)) // does not even decode
	for _, sh := range []collection.Share{c.share(t, 0, col, ref), c.share(t, 1, col, ref), c.share(t, 2, col, ref), bad} {
		if _, err := a.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	// Expect counts the four early shares: one is bad, three are not
	// enough. The fifth arrives and the guarantee forms.
	g, err := a.Expect(col, ref)
	if g != nil || !errors.Is(err, collection.ErrBadSignature) {
		t.Fatalf("Expect: %v %v", g, err)
	}
	g, err = a.Add(c.share(t, 3, col, ref))
	if g == nil || err != nil {
		t.Fatalf("fifth share: %v %v", g, err)
	}
	wantErr(t, "guarantee", collection.Verify(c.scheme, g, c.chain, c.com), nil)

	// Both at once: with five early shares, one bad, Expect reports the
	// bad one together with the guarantee the four good ones make.
	col = model.Identifier{8}
	bad = c.share(t, 4, model.Identifier{9}, ref)
	bad.CollectionID = col
	for _, sh := range []collection.Share{c.share(t, 0, col, ref), c.share(t, 1, col, ref), bad, c.share(t, 2, col, ref), c.share(t, 3, col, ref)} {
		if _, err := a.Add(sh); err != nil {
			t.Fatal(err)
		}
	}
	g, err = a.Expect(col, ref)
	var bse *collection.BadSharesError
	if g == nil || !errors.As(err, &bse) || len(bse.Signers) != 1 || bse.Signers[0] != c.com.Member(4).ID {
		t.Fatalf("guarantee with a bad share: %v, %v", g, err)
	}
	if g.Signers.Has(4) || g.Signers.Count() != 4 {
		t.Errorf("signers %v", g.Signers.Indices())
	}
	wantErr(t, "guarantee beside a bad share", collection.Verify(c.scheme, g, c.chain, c.com), nil)
}

func TestAggregatorRejectsAndEvicts(t *testing.T) {
	c := newCluster(t, crypto.Fast(), 1, 1, 1, 1)
	a := collection.NewAggregator(c.scheme, c.chain, c.com, 2)
	col, ref := model.Identifier{1}, mainID(10)
	outsider := c.share(t, 0, col, ref)
	outsider.Signer = model.Identifier{0xee}
	_, err := a.Add(outsider)
	wantErr(t, "a non-member's share", err, collection.ErrInvalid)
	short := c.share(t, 0, col, ref)
	short.Signature = short.Signature[1:]
	_, err = a.Add(short)
	wantErr(t, "a short signature", err, collection.ErrInvalid)

	for n := range 3 {
		if _, err := a.Expect(model.Identifier{byte(n + 1)}, ref); err != nil {
			t.Fatal(err)
		}
	}
	if a.Open() != 2 {
		t.Fatalf("%d collections open, bound 2", a.Open())
	}
	// The first collection was evicted: its shares wait as early shares
	// and form nothing.
	for i := range 4 {
		if g, err := a.Add(c.share(t, i, model.Identifier{1}, ref)); g != nil || err != nil {
			t.Fatalf("share for an evicted collection: %v %v", g, err)
		}
	}
	// The others are still open.
	var g *collection.Guarantee
	for i := range 3 {
		if g, err = a.Add(c.share(t, i, model.Identifier{3}, ref)); err != nil {
			t.Fatal(err)
		}
	}
	if g == nil {
		t.Fatal("an open collection formed no guarantee")
	}
}

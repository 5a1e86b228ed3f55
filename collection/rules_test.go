package collection_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/model"
)

// The rules fixture: cluster 1 of 4 in epoch 1; main-chain blocks 100-199
// are epoch 1, 180 is the latest finalized; payloads reference block 150
// and expire transactions 10 blocks back.
const (
	testK      = 4
	testIndex  = 1
	testExpiry = 10
)

func testRules() *collection.Rules {
	return &collection.Rules{Expiry: testExpiry, Limits: collection.DefaultLimits(), K: testK, Index: testIndex, Epoch: 1}
}

func testMain() collection.Main {
	return collection.Main{Refs: newMain(199, 100), Finalized: 180}
}

func mine(t testing.TB, ref uint64, tag string) collection.Tx {
	return txFor(t, testK, testIndex, ref, tag)
}

func payloadOf(ref uint64, txs ...collection.Tx) *collection.Payload {
	return &collection.Payload{Ref: mainID(ref), Collection: collection.NewCollection(txs)}
}

func TestRulesCheck(t *testing.T) {
	a, b, c := mine(t, 145, "a"), mine(t, 150, "b"), mine(t, 140, "c")
	few := testRules()
	few.Limits = collection.Limits{MaxTxs: 2, MaxBytes: collection.DefaultMaxBytes, MaxTxBytes: collection.DefaultMaxTxBytes}
	small := testRules()
	small.Limits = collection.Limits{MaxTxs: 10, MaxBytes: 4 + 100, MaxTxBytes: 100}
	for _, tc := range []struct {
		name      string
		rules     *collection.Rules
		main      collection.Main
		parentRef model.Identifier
		payload   *collection.Payload
		fork      collection.Fork
		want      error
	}{
		{name: "valid", payload: payloadOf(150, a, b, c)},
		{name: "empty collection", payload: payloadOf(150)},
		{name: "parent is the root", parentRef: model.ZeroID, payload: payloadOf(150, a)},
		{name: "same reference as the parent", parentRef: mainID(150), payload: payloadOf(150, a)},
		{name: "expires exactly at the payload's reference", payload: payloadOf(150, mine(t, 140, "edge"))},
		{name: "reference as high as the payload's", payload: payloadOf(150, mine(t, 150, "edge"))},

		{name: "unknown payload reference", payload: &collection.Payload{Ref: mainID(5000)}, want: collection.ErrUnknownRef},
		{name: "payload reference above finalized", payload: payloadOf(181), want: collection.ErrUnknownRef},
		{name: "unknown parent reference", parentRef: mainID(5000), payload: payloadOf(150), want: collection.ErrUnknownRef},
		{name: "unknown transaction reference", payload: payloadOf(150, a, collection.Tx{Ref: mainID(6000), Body: []byte("x")}), want: collection.ErrUnknownRef},
		{name: "regressed", parentRef: mainID(151), payload: payloadOf(150, a), want: collection.ErrRefRegressed},
		{name: "too many transactions", rules: few, payload: payloadOf(150, a, b, c), want: collection.ErrTooLarge},
		{name: "too many bytes", rules: small, payload: payloadOf(150, a, collection.Tx{Ref: mainID(150), Body: bytes.Repeat([]byte{1}, 64)}), want: collection.ErrTooLarge},
		{name: "a transaction too large", rules: small, payload: payloadOf(150, collection.Tx{Ref: mainID(150), Body: bytes.Repeat([]byte{1}, 65)}), want: collection.ErrTooLarge},
		{name: "malformed transaction", payload: payloadOf(150, a, collection.Tx{Ref: mainID(150)}), want: collection.ErrMalformedTx},
		{name: "wrong cluster", payload: payloadOf(150, a, txFor(t, testK, testIndex+1, 150, "other")), want: collection.ErrWrongCluster},
		{name: "payload reference of another epoch", parentRef: model.ZeroID, payload: payloadOf(99), want: collection.ErrWrongEpoch},
		{name: "payload reference of the next epoch", main: collection.Main{Refs: newMain(300, 100), Finalized: 250}, payload: payloadOf(200), want: collection.ErrWrongEpoch},
		{name: "transaction reference of another epoch", parentRef: mainID(101), payload: payloadOf(101, mine(t, 99, "old")), want: collection.ErrWrongEpoch},
		{name: "transaction reference ahead", payload: payloadOf(150, a, mine(t, 151, "ahead")), want: collection.ErrRefAhead},
		{name: "expired", payload: payloadOf(150, a, mine(t, 139, "late")), want: collection.ErrExpired},
		{name: "already on the fork", payload: payloadOf(150, a, b), fork: forkOf{b.ID(): true}, want: collection.ErrSeen},
		{name: "twice in the collection", payload: payloadOf(150, a, b, a), want: collection.ErrRepeated},
	} {
		r := tc.rules
		if r == nil {
			r = testRules()
		}
		m := tc.main
		if m.Refs == nil {
			m = testMain()
		}
		if tc.parentRef == model.ZeroID && tc.name != "parent is the root" && tc.name != "payload reference of another epoch" {
			tc.parentRef = mainID(140)
		}
		if tc.fork == nil {
			tc.fork = noFork{}
		}
		entries, err := r.Check(m, tc.parentRef, tc.payload, tc.fork)
		wantErr(t, tc.name, err, tc.want)
		if err != nil {
			continue
		}
		ids := tc.payload.Collection.TxIDs()
		if len(entries) != len(ids) {
			t.Fatalf("%s: %d entries for %d transactions", tc.name, len(entries), len(ids))
		}
		for i, e := range entries {
			h, _, _ := m.Refs.RefHeight(tc.payload.Collection.Txs()[i].Ref)
			if e.ID != ids[i] || e.RefHeight != h {
				t.Errorf("%s: entry %d is %+v", tc.name, i, e)
			}
		}
	}
}

func TestRulesValidate(t *testing.T) {
	for name, mutate := range map[string]func(r *collection.Rules){
		"no clusters":        func(r *collection.Rules) { r.K = 0 },
		"index out of range": func(r *collection.Rules) { r.Index = r.K },
		"no expiry":          func(r *collection.Rules) { r.Expiry = 0 },
		"no limits":          func(r *collection.Rules) { r.Limits = collection.Limits{} },
	} {
		r := testRules()
		mutate(r)
		_, err := r.Check(testMain(), mainID(140), payloadOf(150), noFork{})
		if err == nil || errors.Is(err, collection.ErrInvalid) {
			t.Errorf("%s: %v (want a configuration error, not an invalid payload)", name, err)
		}
		if _, err := r.Select(testMain(), mainID(140), mainID(150), nil, noFork{}, 10); err == nil {
			t.Errorf("%s: Select accepted the rules", name)
		}
	}
}

func TestRulesSelect(t *testing.T) {
	r := testRules()
	a, b, seen := mine(t, 145, "a"), mine(t, 150, "b"), mine(t, 148, "seen")
	candidates := []collection.Tx{
		a,                                      // 0: taken
		mine(t, 139, "expired"),                // 1: ErrExpired
		txFor(t, testK, 0, 150, "other"),       // 2: ErrWrongCluster
		a,                                      // 3: ErrRepeated
		seen,                                   // 4: ErrSeen
		mine(t, 151, "ahead"),                  // 5: ErrRefAhead
		{Ref: mainID(7000), Body: []byte("x")}, // 6: ErrUnknownRef
		{Ref: mainID(150)},                     // 7: ErrMalformedTx
		{Ref: mainID(150), Body: bytes.Repeat([]byte{1}, collection.DefaultMaxTxBytes)}, // 8: ErrTooLarge
		mine(t, 99+1, "epoch"), // 9: ErrExpired (the first block of epoch 1)
		b,                      // 10: taken
	}
	fork := forkOf{seen.ID(): true}
	s, err := r.Select(testMain(), mainID(140), mainID(150), candidates, fork, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]error{1: collection.ErrExpired, 2: collection.ErrWrongCluster, 3: collection.ErrRepeated, 4: collection.ErrSeen,
		5: collection.ErrRefAhead, 6: collection.ErrUnknownRef, 7: collection.ErrMalformedTx, 8: collection.ErrTooLarge, 9: collection.ErrExpired}
	if len(s.Skipped) != len(want) {
		t.Errorf("skipped %v, want %d", s.Skipped, len(want))
	}
	for _, sk := range s.Skipped {
		wantErr(t, "skipped candidate", sk.Err, want[sk.Index])
	}
	got := s.Payload.Collection.TxIDs()
	if len(got) != 2 || got[0] != a.ID() || got[1] != b.ID() || s.Payload.Ref != mainID(150) {
		t.Fatalf("selected %v", got)
	}
	// Whatever Select builds, Check accepts, with the same entries.
	entries, err := r.Check(testMain(), mainID(140), s.Payload, fork)
	if err != nil {
		t.Fatalf("Check refuses Select's payload: %v", err)
	}
	for i := range entries {
		if entries[i] != s.Entries[i] {
			t.Errorf("entry %d: Check %+v, Select %+v", i, entries[i], s.Entries[i])
		}
	}
}

func TestRulesSelectLimits(t *testing.T) {
	var txs []collection.Tx
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		txs = append(txs, mine(t, 150, tag))
	}
	count := func(r *collection.Rules, cands []collection.Tx, room int) int {
		t.Helper()
		s, err := r.Select(testMain(), mainID(140), mainID(150), cands, noFork{}, room)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Skipped) != 0 {
			t.Errorf("skipped %v", s.Skipped)
		}
		if _, err := r.Check(testMain(), mainID(140), s.Payload, noFork{}); err != nil {
			t.Errorf("Check refuses Select's payload: %v", err)
		}
		return s.Payload.Collection.Len()
	}
	r := testRules()
	r.Limits.MaxTxs = 3
	if n := count(r, txs, 100); n != 3 {
		t.Errorf("MaxTxs 3: selected %d", n)
	}
	if n := count(testRules(), txs, 2); n != 2 {
		t.Errorf("room 2: selected %d", n)
	}
	if n := count(testRules(), txs, 0); n != 0 {
		t.Errorf("no room: selected %d", n)
	}
	// A candidate that would overflow MaxBytes is passed over, and a
	// smaller one after it still goes in.
	big := mine(t, 150, string(bytes.Repeat([]byte{'x'}, 60)))
	r = testRules()
	r.Limits = collection.Limits{MaxTxs: 10, MaxBytes: 4 + txs[0].Size() + big.Size() - 1, MaxTxBytes: big.Size()}
	if n := count(r, []collection.Tx{txs[0], big, txs[1]}, 100); n != 2 {
		t.Errorf("MaxBytes: selected %d, want 2", n)
	}
}

func TestRulesSelectBadRef(t *testing.T) {
	r := testRules()
	for _, c := range []struct {
		name           string
		parentRef, ref model.Identifier
		want           error
	}{
		{"unknown", mainID(140), mainID(9999), collection.ErrUnknownRef},
		{"not final yet", mainID(140), mainID(190), collection.ErrUnknownRef},
		{"regressed", mainID(160), mainID(150), collection.ErrRefRegressed},
		{"other epoch", model.ZeroID, mainID(50), collection.ErrWrongEpoch},
	} {
		_, err := r.Select(testMain(), c.parentRef, c.ref, []collection.Tx{mine(t, 150, "a")}, noFork{}, 10)
		wantErr(t, c.name, err, c.want)
	}
}

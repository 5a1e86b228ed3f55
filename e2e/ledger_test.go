package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/floe-bft/floe/consensus/model"
)

func rootBlock(t *testing.T) *model.Block {
	t.Helper()
	b, err := model.NewRootBlock(testChain, 0, 0, 1000, []byte("genesis"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func childBlock(t *testing.T, parent *model.Block, payload string) *model.Block {
	t.Helper()
	signers, _ := model.NewSignerSet(4)
	signers.Set(0)
	qc, err := model.NewQC(parent.View, parent.ID(), signers, []byte{1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1, ParentID: parent.ID(), QC: qc,
		Timestamp: parent.Timestamp + 1, PayloadHash: model.PayloadHash([]byte(payload))}, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChainRecordDetectsForksAndStateDivergence(t *testing.T) {
	c := newChainRecord()
	g := rootBlock(t)
	b1 := childBlock(t, g, "a")
	other := childBlock(t, g, "b")
	rootA, rootB := [32]byte{1}, [32]byte{2}
	for _, obs := range []struct {
		node string
		b    *model.Block
		root *[32]byte
	}{{"node0", g, nil}, {"node0", b1, &rootA}, {"node1", g, nil}, {"node1", b1, &rootA}} {
		if d, err := c.observe(obs.node, obs.b, obs.root); d != nil || err != nil {
			t.Fatalf("agreeing observation: %v %v", d, err)
		}
	}
	if d, _ := c.observe("node2", other, nil); d == nil || d.kind != "fork" || !strings.Contains(d.detail, "node0") {
		t.Errorf("a different block at height 1: %+v", d)
	}
	if d, _ := c.observe("node3", b1, &rootB); d == nil || d.kind != "state" {
		t.Errorf("a different state root at height 1: %+v", d)
	}
	if _, err := c.observe("node0", childBlock(t, childBlock(t, b1, "x"), "y"), nil); err == nil {
		t.Error("a gap in the heights was accepted")
	}
	if need, parent, _ := c.claimVerify(1); !need || parent != g.ID() {
		t.Errorf("height 1 to verify: %v %v", need, parent)
	}
	if need, _, _ := c.claimVerify(1); need {
		t.Error("height 1 claimed twice")
	}
	if need, _, _ := c.claimVerify(0); need {
		t.Error("genesis claimed for verification")
	}
}

func TestLedgerAcknowledgesOnlySubmittedOnce(t *testing.T) {
	l := newLedger()
	a, b, c := txID([]byte("a")), txID([]byte("b")), txID([]byte("c"))
	l.submit([][32]byte{a, b}, time.Now())
	if n := l.ack([][32]byte{a, c}, 5, model.Identifier{9}, "node1"); n != 1 {
		t.Errorf("acknowledged %d, want 1 (c was never submitted)", n)
	}
	if n := l.ack([][32]byte{a}, 6, model.Identifier{8}, "node2"); n != 0 {
		t.Error("a transaction acknowledged twice")
	}
	got := l.ackedSnapshot()
	if len(got) != 1 || got[0].height != 5 || got[0].node != "node1" {
		t.Errorf("acknowledged: %+v", got)
	}
	if c := l.counts(); c.Submitted != 2 || c.Acked != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestSeriesRate(t *testing.T) {
	start := time.Unix(1000, 0)
	s := newSeries(start)
	s.add(start.Add(500*time.Millisecond), 10, 1)
	s.add(start.Add(1500*time.Millisecond), 30, 3)
	s.add(start.Add(-time.Second), 1000, 1000) // before the run: ignored
	if tx, bl := s.rate(start, start.Add(2*time.Second)); tx != 20 || bl != 2 {
		t.Errorf("rate over 2 s: %v tx/s %v blocks/s", tx, bl)
	}
	if tx, _ := s.rate(start.Add(time.Second), start.Add(time.Second)); tx != 0 {
		t.Error("an empty window has a rate")
	}
}

func TestSeriesLongestStall(t *testing.T) {
	start := time.Unix(1000, 0)
	s := newSeries(start)
	for _, sec := range []int{0, 1, 5, 6, 9} {
		s.add(start.Add(time.Duration(sec)*time.Second+100*time.Millisecond), 1, 1)
	}
	at := func(sec float64) time.Time { return start.Add(time.Duration(sec * float64(time.Second))) }
	for _, tc := range []struct {
		from, to float64
		want     time.Duration
	}{
		{0, 10, 3 * time.Second},   // seconds 2, 3, 4 empty; then 7, 8
		{0, 2, 0},                  // blocks every second
		{0.5, 5, 3 * time.Second},  // second 0 is partial; 2, 3, 4 empty
		{6.5, 12, 2 * time.Second}, // 7, 8 empty; 9 has a block; 10, 11 beyond the record
		{7, 9, 2 * time.Second},
	} {
		if got := s.longestStall(at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("[%v, %v): stall %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	ev := []Violation{{Kind: "evidence"}}
	for _, tc := range []struct {
		vs       []Violation
		expected []string
		pass     bool
	}{
		{nil, nil, true},
		{ev, nil, false},
		{ev, []string{"evidence"}, true},
		{nil, []string{"evidence"}, false},
		{append(ev, Violation{Kind: "fork"}), []string{"evidence"}, false},
	} {
		if pass, why := verdict(tc.vs, tc.expected); pass != tc.pass {
			t.Errorf("%v expecting %v: %v (%s)", tc.vs, tc.expected, pass, why)
		}
	}
}

func TestUnackedByPeriod(t *testing.T) {
	l := newLedger()
	t0 := time.Unix(100, 0)
	ids := func(s ...string) [][32]byte {
		var out [][32]byte
		for _, x := range s {
			out = append(out, txID([]byte(x)))
		}
		return out
	}
	l.submit(ids("early"), t0.Add(-time.Second)) // before the first period: counted in it
	l.submit(ids("a", "b"), t0.Add(time.Second))
	l.submit(ids("c"), t0.Add(11*time.Second))
	l.ack(ids("b"), 1, model.Identifier{}, "node0")
	got := l.unackedByPeriod([]time.Time{t0, t0.Add(10 * time.Second)})
	if len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Errorf("unacked by period: %v, want [2 1]", got)
	}
}

// testChain is the chain these tests' blocks and messages belong to.
var testChain = model.MainChain("test")

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAttackList(t *testing.T) {
	all, err := parseAttackList("all")
	if err != nil || !reflect.DeepEqual(all, attackNames) {
		t.Fatalf("all: %v %v", all, err)
	}
	// Suite order, no repeats, whatever the order given.
	got, err := parseAttackList("dup-flood, range-flood,dup-flood")
	if err != nil || !reflect.DeepEqual(got, []string{"range-flood", "dup-flood"}) {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"", ",", "nope", "range-flood,nope", "baseline"} {
		if _, err := parseAttackList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseAttackFlags(t *testing.T) {
	o, asJSON, gate, gateChecks, err := parseAttackFlags([]string{"--attacks", "conn-flood", "--duration", "8s", "--rate", "500",
		"--node-binary", "/tmp/old", "--json", "--gate", "--gate-checks", "--paired=false"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !asJSON || !gate || !gateChecks || o.Duration != 8*time.Second || o.Rate != 500 || o.NodeBinary != "/tmp/old" ||
		o.Paired || !reflect.DeepEqual(o.Attacks, []string{"conn-flood"}) || o.Nodes != 4 {
		t.Fatalf("%+v json=%v gate=%v", o, asJSON, gate)
	}
	d, _, _, _, err := parseAttackFlags(nil, &bytes.Buffer{})
	if err != nil || d.Duration != 20*time.Second || d.Rate != 1000 || !d.Paired || len(d.Attacks) != len(attackNames) {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	for _, args := range [][]string{{"--nodes", "2"}, {"--duration", "0s"}, {"--rate", "0"}, {"--sources", "0"},
		{"--attacks", "nope"}, {"--flood-rate", "0"}, {"extra"}, {"--nope"}} {
		if _, _, _, _, err := parseAttackFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	// Registered as a benchmark: bad flags are refused before anything
	// starts.
	if err := Main(context.Background(), []string{"attack", "--nodes", "1"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("floe bench attack --nodes 1 accepted")
	}
}

func TestWindowPlan(t *testing.T) {
	a := []string{"range-flood", "dup-flood"}
	if got := windowPlan(a, true); !reflect.DeepEqual(got, []string{"baseline", "range-flood", "baseline", "dup-flood", "baseline"}) {
		t.Fatalf("paired: %v", got)
	}
	if got := windowPlan(a, false); !reflect.DeepEqual(got, []string{"baseline", "range-flood", "dup-flood"}) {
		t.Fatalf("single: %v", got)
	}
}

func TestTimeoutDelta(t *testing.T) {
	// Growth summed; a counter that went down (restarted process) counts
	// from zero; an unreadable one (-1) counts nothing.
	if got := timeoutDelta([]float64{10, 5, 7, -1}, []float64{12, 2, -1, 4}); got != 2+2+0+4 {
		t.Fatalf("got %d", got)
	}
}

func win(name string, bps float64, timeouts int64, checks ...Check) WindowResult {
	return WindowResult{Name: name, MeasuredS: 10, BlocksPerS: bps, Timeouts: timeouts, Counters: map[string]int64{}, Checks: checks}
}

func TestJudge(t *testing.T) {
	r := &AttackReport{Windows: []WindowResult{
		win("baseline", 10, 2),
		win("range-flood", 8, 2), // exactly 80 % of the mean of 10 and 10, timeouts as the worse baseline: pass
		win("baseline", 10, 0),
		win("conn-flood", 7.9, 0), // below 80 % of 10
		win("baseline", 10, 0),
		win("handshake-hold", 9, 1), // a timeout more than its baselines had
		win("baseline", 6, 0),
		win("stream-monopoly", 4.5, 0, Check{Name: "legitimate subscriber served", OK: false, Detail: "0/3"}),
		win("baseline", 4, 0),
		win("dup-flood", 4.5, 0, Check{Name: "duplicates refused", OK: true}), // only a baseline before it
	}}
	r.Windows[1].MeasuredS = 5 // half the window measured: allowed ceil(2*5/10) = 1
	r.judge()
	want := []bool{true, false, true, false, true, false, true, false, true, true}
	for i, ok := range want {
		if r.Windows[i].Pass != ok {
			t.Errorf("%s (#%d): pass=%v, want %v (%v)", r.Windows[i].Name, i, r.Windows[i].Pass, ok, r.Windows[i].Failures)
		}
	}
	if r.Windows[1].AllowedTimeouts != 1 || r.Windows[1].Ratio != 0.8 || r.Windows[7].Ratio != 0.9 || r.Windows[9].Ratio != 1.13 {
		t.Errorf("allowed %d ratios %v %v %v", r.Windows[1].AllowedTimeouts, r.Windows[1].Ratio, r.Windows[7].Ratio, r.Windows[9].Ratio)
	}
	if r.Pass || len(r.Failures()) != 4 {
		t.Errorf("pass=%v failures=%v", r.Pass, r.Failures())
	}
	// Only the stream-monopoly check failed: the rest is timing.
	if r.ChecksPass || len(r.FailedChecks()) != 1 || !strings.Contains(r.FailedChecks()[0], "legitimate subscriber served") {
		t.Errorf("checks pass=%v failed=%v", r.ChecksPass, r.FailedChecks())
	}

	ok := &AttackReport{Windows: []WindowResult{win("baseline", 10, 0), win("dup-flood", 9, 0), win("baseline", 12, 0)}}
	ok.judge()
	if !ok.Pass || !ok.ChecksPass || len(ok.Failures()) != 0 || ok.Windows[1].Ratio != 0.82 {
		t.Fatalf("%v %v", ok.Failures(), ok.Windows[1].Ratio)
	}
	// No attack window, or no baseline around one, is no pass.
	for _, ws := range [][]WindowResult{nil, {win("baseline", 10, 0)}, {win("dup-flood", 9, 0)}} {
		r := &AttackReport{Windows: ws}
		r.judge()
		if r.Pass {
			t.Errorf("%v passed", ws)
		}
	}
	dead := &AttackReport{Windows: []WindowResult{win("baseline", 0, 0), win("dup-flood", 0, 0)}}
	dead.judge()
	if dead.Pass || dead.Windows[1].Pass {
		t.Fatal("a baseline that finalized nothing passed")
	}
}

func TestReportText(t *testing.T) {
	r := &AttackReport{Nodes: 4, Rate: 1000, WindowS: 8, NodeBinary: "/bin/floe", Windows: []WindowResult{
		win("baseline", 15.2, 0),
		{Name: "conn-flood", MeasuredS: 10, BlocksPerS: 11, P99MS: 812.4, Counters: map[string]int64{"refused_429": 7, "dialed": 9},
			Checks: []Check{{Name: "fresh client served", OK: true, Detail: "7/7"}}},
	}}
	r.judge()
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	for _, want := range []string{
		"window            blocks/s  ratio     tx/s   p99 ms  timeouts  node1  nodes  suite  verdict",
		"baseline             15.20   1.00        0        0       0/0   0.00   0.00   0.00  pass",
		"conn-flood           11.00   0.72        0      812       0/0   0.00   0.00   0.00  FAIL",
		"  counters: dialed=9 refused_429=7",
		"  ok   fresh client served: 7/7",
		"  failure: 11.00 blocks/s is 72% of the baseline's 15.20 (< 80%)",
		"result: FAIL",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	var back AttackReport
	j, _ := json.Marshal(r)
	if err := json.Unmarshal(j, &back); err != nil || back.Windows[1].Counters["refused_429"] != 7 || back.Windows[1].Pass {
		t.Fatalf("%v %+v", err, back)
	}
	if !strings.Contains(string(j), `"blocks_per_s":11`) || !strings.Contains(string(j), `"view_timeouts":0`) {
		t.Fatalf("json %s", j)
	}
}

func TestLoopbackSources(t *testing.T) {
	if got := loopbackSources(3); !reflect.DeepEqual(got, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
		t.Fatal(got)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/floe-bft/floe/consensus/model"
)

// execute runs the CLI in-process, the way main does, and returns what it
// wrote to stdout and stderr.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// decodeOne checks that s is exactly one JSON object and nothing else.
func decodeOne(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", s)
	}
	return m
}

func TestSimJSON(t *testing.T) {
	stdout, stderr, err := execute(t, "sim", "--nodes", "4", "--seeds", "5", "--views", "30", "--json")
	if err != nil {
		t.Fatalf("sim failed: %v\nstderr: %s", err, stderr)
	}
	m := decodeOne(t, stdout)
	for key, want := range map[string]float64{
		"seeds": 5, "views": 30, "nodes": 4, "twins": 0,
		"safety_violations": 0, "liveness_failures": 0,
	} {
		if got, ok := m[key].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}
	if got, _ := m["min_finalized_per_seed"].(float64); got <= 0 {
		t.Errorf("min_finalized_per_seed = %v, want > 0", m["min_finalized_per_seed"])
	}
	if got, _ := m["finalized_blocks"].(float64); got <= 0 {
		t.Errorf("finalized_blocks = %v, want > 0", m["finalized_blocks"])
	}
	if fs, ok := m["failed_seeds"].([]any); !ok || len(fs) != 0 {
		t.Errorf("failed_seeds = %v, want []", m["failed_seeds"])
	}
	for _, key := range []string{"max_view_reached", "evidence", "wall_time_s"} {
		if _, ok := m[key]; !ok {
			t.Errorf("missing key %q", key)
		}
	}
}

// The report must not depend on how seeds were scheduled.
func TestSimParallelDeterministic(t *testing.T) {
	run := func(parallel string) map[string]any {
		stdout, stderr, err := execute(t, "sim", "--nodes", "4", "--seeds", "5", "--views", "30",
			"--loss", "0.05", "--json", "--parallel", parallel)
		if err != nil {
			t.Fatalf("--parallel %s: %v\nstderr: %s", parallel, err, stderr)
		}
		m := decodeOne(t, stdout)
		delete(m, "wall_time_s")
		return m
	}
	one, two := run("1"), run("2")
	if !reflect.DeepEqual(one, two) {
		t.Errorf("--parallel 1 and 2 differ:\n%v\n%v", one, two)
	}
}

func TestSimRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // substring of the error
	}{
		{"unknown crypto", []string{"--crypto", "nope"}, "--crypto"},
		{"trace with many seeds", []string{"--trace", "--seeds", "3"}, "--trace replays one seed"},
		{"twins over fault bound", []string{"--nodes", "4", "--twins", "2"}, "fault bound"},
		{"no seeds", []string{"--seeds", "0"}, "--seeds"},
		{"no workers", []string{"--parallel", "0"}, "--parallel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sim", "--views", "10", "--json"}, tc.args...)
			stdout, _, err := execute(t, args...)
			if err == nil {
				t.Fatalf("%v: no error", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: error %q does not mention %q", tc.args, err, tc.want)
			}
			if stdout != "" {
				t.Errorf("%v: rejected run wrote to stdout:\n%s", tc.args, stdout)
			}
		})
	}
}

// A readable run prints the config line and the totals.
func TestSimText(t *testing.T) {
	stdout, _, err := execute(t, "sim", "--seeds", "2", "--views", "20", "--seed", "7", "--stagger")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seeds=7..8", "stagger", "finalized blocks", "result                  OK"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestReplayCommand(t *testing.T) {
	cmd := newSimCmd()
	if err := cmd.ParseFlags([]string{"--nodes", "7", "--seeds", "50", "--loss", "0.05",
		"--crashes", "--json", "--parallel", "3", "--seed", "9"}); err != nil {
		t.Fatal(err)
	}
	got := replayCommand(cmd, 23)
	want := "floe sim --crashes --loss 0.05 --nodes 7 --seed 23 --seeds 1 --trace"
	if got != want {
		t.Errorf("replay = %q, want %q", got, want)
	}
}

func TestVersion(t *testing.T) {
	stdout, _, err := execute(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "floe ") || !strings.Contains(stdout, fmt.Sprintf("(protocol %d)", model.ProtocolVersion)) {
		t.Errorf("version output %q", stdout)
	}
}

// TestStrayArgumentsAreErrors: an argument that names no subcommand of a
// command group is an error (a script calling "floe e2e ci.toml" must not
// see success), while the bare group still prints its help.
func TestStrayArgumentsAreErrors(t *testing.T) {
	for _, args := range [][]string{{"e2e", "ci.toml"}, {"governance", "bogus"}, {"tx", "x"}, {"bogus"}} {
		if _, _, err := execute(t, args...); err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("floe %s: error %v", strings.Join(args, " "), err)
		}
	}
	stdout, _, err := execute(t, "tx")
	if err != nil || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("floe tx: err %v, output %q", err, stdout)
	}
}
